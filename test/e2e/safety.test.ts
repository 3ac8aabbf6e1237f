// The built sidecar against a simulator that misleads it: an earlier task's
// drain, stale and empty readings, a brownout at startup, a skewed clock, a
// credentials endpoint that refuses. None of them may end a healthy task.
import { describe, expect, it } from "vitest"
import { webGroupArn } from "../../simulator/scenarios.ts"
import { pollsLogged, runScenario, type ScenarioRun, stopWhen } from "./harness.ts"

const messages = (run: ScenarioRun, message: string) => run.logs.filter((l) => l.message === message)

/** Exit 0 after the target's own drain at `drainAtMs` (plus the 1 s wait), never before. */
const expectOwnDrain = (run: ScenarioRun, drainAtMs: number) => {
  expect(run.code, run.stdout.slice(-3000) + run.stderr).toBe(0)
  expect(run.exitT).toBeGreaterThanOrEqual(drainAtMs + 1000)
  expect(run.logs.at(-1)).toMatchObject({
    level: "info",
    exitCode: 0,
    message: expect.stringContaining("is deregistering")
  })
  expect(run.logs.at(-1)).not.toHaveProperty("error")
}

describe.concurrent("e2e: a control-plane brownout never ends it", () => {
  it(
    "ECS throttling past STARTUP_TIMEOUT at startup: an error line, no exit; watching as soon as ECS answers",
    async () => {
      // STARTUP_TIMEOUT counts from process start: 5 s leaves a loaded machine room to read the
      // metadata and credentials first. The scenario's clock starts at the first error line: ECS
      // throttles for 1.8 s more, the drain comes at 3 s. After a throttle the startup back-off is
      // random up to 40 s (full jitter; its steps are proven on TestClock in test/startup.test.ts),
      // so the run is given 60 s: its length is chance, not the behaviour under test.
      const run = await runScenario("brownout", {
        clockStarts: "when-watching",
        drainAtMs: 3000,
        env: { STARTUP_TIMEOUT: "5" },
        timeoutMs: 60_000
      })
      expectOwnDrain(run, 3000)
      const report = messages(run, "still not watching: startup keeps failing; retrying")
      expect(report.length).toBeGreaterThanOrEqual(1)
      expect(report[0]).toMatchObject({ level: "error", failing: "ecs:DescribeServices", startupTimeoutSeconds: 5 })
      // ECS throttles until 1.8 s after the error line: DescribeServices went on until it answered.
      const firstAnswered = run.requests.find((r) => r.action === "DescribeServices" && r.status === 200)
      expect(firstAnswered?.t ?? 0).toBeGreaterThanOrEqual(1800)
    },
    70_000
  )

  it("STARTUP_TIMEOUT counts from process start: a metadata request that hangs ends in exit 3 at the deadline, not after its own timeout", async () => {
    const run = await runScenario("awsvpc", {
      env: { STARTUP_TIMEOUT: "1" },
      faults: [{ api: "metadata", from: 0, until: 60_000, kind: "slow", delayMs: 20_000 }]
    })
    expect(run.code).toBe(3)
    // The deadline cut the one request under way; the request's own 5 s timeout never came.
    const last = String(run.logs.at(-1)?.message)
    expect(last).toContain("no usable answer within STARTUP_TIMEOUT=1s")
    expect(last).not.toContain("within 5 seconds")
    expect(run.logs.filter((l) => l.message === "reading task metadata failed, retrying")).toEqual([])
    // The time is the behaviour: 1 s from spawn. 6 s leaves a loaded machine 5 s to start the
    // process and end it (it took 5.2 s at a load of 13 on 2 cores).
    expect(run.exitedAt - run.spawnedAt).toBeLessThan(6000)
  })

  it("a clock 20 minutes behind AWS: the first signatures are refused, retried with the SDK's corrected clock, and it drains normally", async () => {
    const run = await runScenario("clock-skew", { clockStarts: "when-watching", drainAtMs: 2500 })
    expectOwnDrain(run, 2500)
    const refused = run.requests.filter((r) =>
      r.errorCode === "InvalidSignatureException" || r.errorCode === "SignatureDoesNotMatch"
    )
    expect(refused.length).toBeGreaterThanOrEqual(1)
    expect(
      run.logs.some((l) =>
        String(l.error).includes("Signature expired") && String(l.message).endsWith("failed, retrying")
      )
    ).toBe(true)
  })
})

describe.concurrent("e2e: decisions on evidence", () => {
  it("host mode on the port of a task still draining: waited out, logged once; its own drain later ends it", async () => {
    const run = await runScenario("earlier-task-draining", { clockStarts: "when-watching", drainAtMs: 5000 })
    expectOwnDrain(run, 5000)
    const earlier = messages(run, "target still draining from an earlier task")
    expect(earlier).toHaveLength(1)
    // ECS, asked, says the task is running: its own drain comes later.
    expect(earlier[0]).toMatchObject({ state: "draining", evidence: "ECS says this task is running" })
    expect(messages(run, "target is deregistering")).toHaveLength(1)
  })

  it("one stale not-registered reading: confirmed by the next poll as registered, the task runs on until its own drain", async () => {
    // One stale answer after the first poll (within 1 s of watching) has seen the target healthy,
    // and the confirming poll a second later, both well before the drain at 5 s.
    const run = await runScenario("awsvpc", {
      clockStarts: "when-watching",
      drainAtMs: 5000,
      faults: [{
        api: "elbv2",
        action: "DescribeTargetHealth",
        from: 1500,
        until: 5000,
        kind: "not-registered",
        times: 1
      }]
    })
    expectOwnDrain(run, 5000)
    expect(messages(run, "target reads as not registered: confirming with one more poll")).toHaveLength(1)
    // The poll right after the stale reading reads the target registered. How soon it comes (a
    // second, not a whole interval) is exact on TestClock (test/sidecar.test.ts).
    const polls = pollsLogged(run.logs, webGroupArn)
    const stale = polls.findIndex((l) => l.message === "target reads as not registered: confirming with one more poll")
    expect(polls[stale + 1]).toMatchObject({ state: "healthy" })
    expect(messages(run, "target is deregistering")).toHaveLength(1)
    expect(messages(run, "target is deregistering")[0]).toMatchObject({ state: "draining" })
  })

  it.each(
    [
      ["empty-answer", "TargetNotInAnswer"],
      ["other-targets", "TargetNotInAnswer"],
      ["malformed", "UnparseableAnswer"]
    ] as const
  )(
    "a 200 answer without the target (%s) is a failed poll, counted toward the back-off, not a success",
    async (kind, error) => {
      const run = await runScenario("awsvpc", {
        clockStarts: "when-watching",
        drainAtMs: 3000,
        faults: [{ api: "elbv2", action: "DescribeTargetHealth", from: 0, until: 600_000, kind, times: 1 }]
      })
      expectOwnDrain(run, 3000)
      // Counted as a failure: the counter the back-off doubles the interval by (exact on TestClock,
      // test/sidecar.test.ts) says 1, and the poll after it succeeds.
      expect(messages(run, "poll failed")).toEqual([
        expect.objectContaining({ level: "warn", error, consecutiveFailures: 1 })
      ])
      const polls = pollsLogged(run.logs, webGroupArn)
      expect(polls[0]).toMatchObject({ message: "poll failed" })
      expect(polls[1]?.state).toBeDefined()
    }
  )
})

describe.concurrent("e2e: credentials", () => {
  it("a credentials endpoint answering 403 is reported as a credentials problem, not an IAM permission to grant, and retried", async () => {
    // Stopped at the second failed attempt: it was retried.
    let failures = 0
    const stop = stopWhen((l) => String(l.message).endsWith("failed, retrying") && ++failures === 2)
    const run = await runScenario("credentials-denied", { drainAtMs: 60_000, onLog: stop.onLog })
    expect(run.code).toBe(0)
    const retries = run.logs.filter((l) => String(l.message).endsWith("failed, retrying"))
    expect(retries.length).toBeGreaterThanOrEqual(2)
    for (const line of retries) {
      expect(String(line.error)).toContain("CredentialsUnavailable")
      expect(String(line.error)).toContain("403")
      expect(String(line.error)).not.toContain("grant the IAM permission")
    }
  })

  it("an AWS_CONTAINER_CREDENTIALS_FULL_URI the SDK refuses is exit 2 naming the variable, at once", async () => {
    const run = await runScenario("awsvpc", {
      env: { AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://10.0.0.5:51679/creds" }
    })
    expect(run.code).toBe(2)
    expect(run.logs.at(-1)?.message).toContain("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    expect(run.requests.filter((r) => r.api === "ecs" || r.api === "elbv2" || r.api === "credentials")).toEqual([])
  })
})
