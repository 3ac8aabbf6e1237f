// Faults as real processes see them: throttling, 5xx, slow answers and a
// metadata endpoint that is not up yet never end the sidecar early.
import { describe, expect, it } from "vitest"
import { healthPolls, runScenario } from "./harness.ts"

const drainAtMs = 6000

describe.concurrent("e2e: faults", () => {
  it("a throttling burst on DescribeTargetHealth: logged, backed off, then drains normally", async () => {
    const run = await runScenario("throttling", { drainAtMs })
    expect(run.code, run.stdout).toBe(0)
    const throttled = healthPolls(run.requests).filter((r) => r.errorCode === "Throttling")
    expect(throttled.length).toBeGreaterThan(0)
    expect(run.logs.filter((l) => l.message === "poll failed")).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: "warn", error: "Throttling", requestId: expect.any(String) })
      ])
    )
    // Back-off: after a failure the next poll waits 2 intervals (then 4), never the usual 0.9–1.1 s.
    const times = healthPolls(run.requests).map((r) => r.t)
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0))
    expect(Math.max(...gaps)).toBeGreaterThan(1700)
    expect(run.exitT).toBeGreaterThan(drainAtMs + 1000)
  })

  it("5xx from ECS at startup are retried; 5xx while polling are ridden out", async () => {
    // The first two DescribeServices and the first two DescribeTargetHealth answer 5xx.
    const run = await runScenario("server-errors", { drainAtMs: 6000 })
    expect(run.code, run.stdout).toBe(0)
    const describeServices = run.requests.filter((r) => r.action === "DescribeServices")
    expect(describeServices[0]?.status).toBe(500)
    expect(describeServices.at(-1)?.status).toBe(200)
    expect(healthPolls(run.requests).some((r) => r.status === 503)).toBe(true)
    expect(run.logs.some((l) => l.message === "discovery" || l.message === "watching targets")).toBe(true)
  })

  it("slow ELBv2 answers (700 ms each) still mean one poll per interval, and a drain on time", async () => {
    const run = await runScenario("slow-answers", { drainAtMs })
    expect(run.code, run.stdout).toBe(0)
    const times = healthPolls(run.requests).map((r) => r.t)
    times.slice(1).forEach((t, i) => expect(t - (times[i] ?? 0)).toBeGreaterThan(850))
  })

  it("the metadata endpoint dropping connections at start: retried until it answers", async () => {
    const run = await runScenario("metadata-not-ready", { drainAtMs })
    expect(run.code, run.stdout).toBe(0)
    const metadata = run.requests.filter((r) => r.api === "metadata")
    expect(metadata.filter((r) => r.errorCode === "ECONNRESET").length).toBeGreaterThan(0)
    expect(metadata.at(-1)?.status).toBe(200)
    expect(run.logs.some((l) => l.message === "reading task metadata failed, retrying")).toBe(true)
  })
})
