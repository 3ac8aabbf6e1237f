// Faults as real processes see them: throttling, 5xx, slow answers and a
// metadata endpoint that is not up yet never end the sidecar early.
import { describe, expect, it } from "vitest"
import { webGroupArn } from "../../simulator/scenarios.ts"
import { healthPolls, pollsLogged, runScenario } from "./harness.ts"

/** On the simulator's clock from when the sidecar is watching: the throttling comes between polls that see it. */
const drainAtMs = 4000

describe.concurrent("e2e: faults", () => {
  it("a throttling burst on DescribeTargetHealth: logged, backed off, then drains normally", async () => {
    const run = await runScenario("throttling", { clockStarts: "when-watching", drainAtMs })
    expect(run.code, run.stdout).toBe(0)
    const throttled = healthPolls(run.requests).filter((r) => r.errorCode === "Throttling")
    expect(throttled.length).toBeGreaterThan(0)
    expect(run.logs.filter((l) => l.message === "poll failed")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: "warn", error: "Throttling", requestId: expect.any(String) })
      ])
    )
    // Each throttled request is one failed poll (no retry behind it), counted toward the back-off
    // (whose intervals are exact on TestClock, test/sidecar.test.ts).
    const failed = run.logs.filter((l) => l.message === "poll failed")
    expect(failed.map((l) => l.consecutiveFailures)).toEqual(throttled.map((_, i) => i + 1))
    expect(run.exitT).toBeGreaterThan(drainAtMs + 1000)
  })

  it("5xx from ECS at startup are retried; 5xx while polling are ridden out", async () => {
    // The first two DescribeServices and the first two DescribeTargetHealth answer 5xx.
    const run = await runScenario("server-errors", { clockStarts: "when-watching", drainAtMs })
    expect(run.code, run.stdout).toBe(0)
    const describeServices = run.requests.filter((r) => r.action === "DescribeServices")
    expect(describeServices[0]?.status).toBe(500)
    expect(describeServices.at(-1)?.status).toBe(200)
    expect(healthPolls(run.requests).some((r) => r.status === 503)).toBe(true)
    expect(run.logs.some((l) => l.message === "discovery" || l.message === "watching targets")).toBe(true)
  })

  it("slow ELBv2 answers (700 ms each) are waited for: one request per poll, none given up and sent again, and the drain", async () => {
    const run = await runScenario("slow-answers", { clockStarts: "when-watching", drainAtMs: 2500 })
    expect(run.code, run.stdout).toBe(0)
    expect(run.logs.filter((l) => l.message === "poll failed")).toEqual([])
    expect(healthPolls(run.requests).length).toBe(pollsLogged(run.logs, webGroupArn).length)
    expect(run.logs.at(-1)).toMatchObject({ message: expect.stringContaining("is deregistering"), exitCode: 0 })
  })

  it("the metadata endpoint dropping connections at start: retried until it answers", async () => {
    const run = await runScenario("metadata-not-ready", { clockStarts: "when-watching", drainAtMs: 2500 })
    expect(run.code, run.stdout).toBe(0)
    const metadata = run.requests.filter((r) => r.api === "metadata")
    expect(metadata.filter((r) => r.errorCode === "ECONNRESET").length).toBeGreaterThan(0)
    expect(metadata.at(-1)?.status).toBe(200)
    expect(run.logs.some((l) => l.message === "reading task metadata failed, retrying")).toBe(true)
  })
})
