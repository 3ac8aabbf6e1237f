// A drain while the account's ELBv2 budget is exhausted: the built sidecar
// against the simulator, ELBv2 DescribeTargetHealth throttled for a minute
// (one request in two let through, as a drained token bucket lets a few by),
// the drain in the middle of it.
import { describe, expect, it } from "vitest"
import { healthPolls, runScenario } from "./harness.ts"

const drainAtMs = 6_000
/** The target group's deregistration delay, D: the detection budget is 0.9 × (D − DEREGISTRATION_WAIT) = 14.4 s. */
const deregistrationDelayMs = 18_000

describe("e2e: ELBv2 throttled for a minute while the task drains", () => {
  it(
    "reads ECS after a throttle, confirms its STOPPED on ELBv2, and exits before the deregistration delay is over",
    async () => {
      const run = await runScenario("awsvpc", {
        drainAtMs,
        deregistrationDelayMs,
        env: { POLLING_FREQUENCY: "1", DEREGISTRATION_WAIT: "2" },
        faults: [{
          api: "elbv2",
          action: "DescribeTargetHealth",
          from: 2_000,
          until: 62_000,
          kind: "throttle",
          passEvery: 2
        }]
      })
      expect(run.code, run.stderr).toBe(0)
      const messages = run.logs.map((l) => l.message)
      const stopping = messages.indexOf("ECS is stopping this task: confirming with ELBv2")
      const leaving = messages.indexOf("target is deregistering")
      expect(stopping).toBeGreaterThan(-1)
      expect(leaving).toBeGreaterThan(stopping)
      // ECS said STOPPED (from the drain on), then one ELBv2 reading that went through confirmed the drain.
      const stoppedAnswer = run.requests.find((r) =>
        r.api === "ecs" && r.action === "DescribeTasks" && r.t >= drainAtMs
      )
      expect(stoppedAnswer).toBeDefined()
      const confirmation = healthPolls(run.requests).find((r) =>
        r.t >= (stoppedAnswer?.t ?? Infinity) && r.status === 200
      )
      expect(confirmation).toBeDefined()
      expect(healthPolls(run.requests).some((r) => r.t >= 2_000 && r.errorCode === "Throttling")).toBe(true)
      // On time: the exit (after DEREGISTRATION_WAIT) comes before ECS would stop the task at the end of D.
      expect(run.exitT).toBeLessThan(drainAtMs + deregistrationDelayMs)
    },
    60_000
  )
})
