// What operators see of a stop, from the built sidecar against the simulator:
// EMF records in the log stream, why ECS stopped the task, the time saved.
import { describe, expect, it } from "vitest"
import { webGroupArn } from "../../simulator/scenarios.ts"
import { emfProblems } from "../support/emf.ts"
import { healthPolls, runScenario, type ScenarioRun } from "./harness.ts"

const emf = (run: ScenarioRun) => run.logs.filter((l) => l._aws !== undefined)
const stoppedReason = "Scaling activity initiated by (deployment ecs-svc/"

describe.concurrent("e2e: metrics and stop reasons", () => {
  it("EMF records for the drain and the exit, with the stop reason and the time saved against the 300 s delay", async () => {
    // The simulator's clock from its start: ECS's stoppingAt is a wall time from then.
    const run = await runScenario("awsvpc", { drainAtMs: 4000, env: { DRAIN_STRATEGY: "fixed" } })
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    const records = emf(run)
    for (const record of records) expect(emfProblems(record)).toEqual([])
    const detected = records.find((r) => r.event === "drain-detected")
    expect(detected).toMatchObject({
      DrainDetected: 1,
      ServiceName: "web",
      TargetGroup: "targetgroup/web/73e2d6bc24d8a067",
      stopCode: "ServiceSchedulerInitiated"
    })
    expect(String(detected?.stoppedReason)).toContain(stoppedReason)
    const exit = records.find((r) => r.event === "exit")
    expect(exit).toMatchObject({ DrainWaitSeconds: expect.any(Number), SecondsSaved: expect.any(Number) })
    expect(Number(exit?.DrainWaitSeconds)).toBeGreaterThanOrEqual(1)
    // SecondsSaved counts from ECS's stoppingAt (the drain's start, 4 s), DrainWaitSeconds from when the
    // drain was seen: their difference is the detection latency, up to the first poll that saw it.
    const latency = 300 - Number(exit?.SecondsSaved) - Number(exit?.DrainWaitSeconds)
    const seenBy = (healthPolls(run.requests).find((r) => r.t >= 4000)?.t ?? NaN) - 4000
    // Not counted from when the drain was seen (the latency would be 0); to the millisecond on
    // TestClock in test/stopReport.test.ts.
    expect(latency).toBeGreaterThanOrEqual(seenBy / 1000)
    // The wait line and the last line say the same in words.
    expect(run.logs.find((l) => l.message === "waiting before exit")).toMatchObject({
      plan: "target group delay 300 s; exiting after 1 s",
      stopCode: "ServiceSchedulerInitiated"
    })
    expect(run.logs.at(-1)).toMatchObject({
      message: expect.stringContaining("is deregistering"),
      stopCode: "ServiceSchedulerInitiated",
      secondsSaved: expect.any(Number)
    })
    // After startup: one DescribeTargetHealth per poll; at the drain, the group's deregistration delay
    // (for SecondsSaved: nothing throttled, so nothing read it before) and the one DescribeTasks.
    const firstPoll = healthPolls(run.requests)[0]?.t ?? Infinity
    expect(run.requests.filter((r) => r.t > firstPoll && r.action !== "DescribeTargetHealth").map((r) => r.action))
      .toEqual(["DescribeTargetGroupAttributes", "DescribeTasks"])
  })

  it("throttled polls: PollFailures and ThrottledPolls, at once and at the end", async () => {
    const run = await runScenario("throttling", { clockStarts: "when-watching", drainAtMs: 4000 })
    expect(run.code).toBe(0)
    const problems = emf(run).filter((r) => r.event === "poll-problems")
    expect(problems.length).toBeGreaterThanOrEqual(1)
    for (const record of problems) expect(emfProblems(record)).toEqual([])
    const throttled = healthPolls(run.requests, webGroupArn).filter((r) => r.errorCode === "Throttling").length
    expect(problems.reduce((n, r) => n + Number(r.ThrottledPolls), 0)).toBe(throttled)
    expect(problems.reduce((n, r) => n + Number(r.PollFailures), 0)).toBe(throttled)
  })

  it("METRICS=off: no EMF record; METRICS_NAMESPACE names the namespace", async () => {
    const [off, named] = await Promise.all([
      runScenario("awsvpc", { clockStarts: "when-watching", drainAtMs: 2500, env: { METRICS: "off" } }),
      runScenario("awsvpc", {
        clockStarts: "when-watching",
        drainAtMs: 2500,
        env: { METRICS_NAMESPACE: "Platform/Sidecars" }
      })
    ])
    expect(off.code).toBe(0)
    expect(emf(off)).toEqual([])
    expect((emf(named)[0]?._aws as { CloudWatchMetrics: Array<{ Namespace: string }> }).CloudWatchMetrics[0]?.Namespace)
      .toBe("Platform/Sidecars")
  })

  it("the optional permissions denied: each logged once, and the drain goes as before", async () => {
    // ECS may not be asked whose drain it is: the sidecar must see its target healthy first.
    const run = await runScenario("awsvpc", {
      clockStarts: "when-watching",
      drainAtMs: 2500,
      faults: [
        { api: "elbv2", action: "DescribeTargetGroupAttributes", from: 0, until: 600_000, kind: "access-denied" },
        { api: "ecs", action: "DescribeTasks", from: 0, until: 600_000, kind: "access-denied" }
      ]
    })
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    const warnings = run.logs.filter((l) => l.optionalPermission !== undefined)
    expect(warnings.map((l) => l.optionalPermission)).toEqual([
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "ecs:DescribeTasks"
    ])
    expect(run.logs.at(-1)).toMatchObject({
      level: "info",
      exitCode: 0,
      message: expect.stringContaining("is deregistering")
    })
    expect(run.logs.at(-1)).not.toHaveProperty("error")
    expect(run.logs.at(-1)?.secondsSaved).toBeUndefined()
    expect(emf(run).find((r) => r.event === "exit")).toMatchObject({ DrainWaitSeconds: expect.any(Number) })
  })

  it("check: the deregistration delay per group, and advice (ALB with a long fixed wait; a denied optional call)", async () => {
    const run = await runScenario("connections", {
      drainAtMs: 60_000,
      args: ["check"],
      env: { DEREGISTRATION_WAIT: "120", DRAIN_STRATEGY: "fixed" },
      faults: [{ api: "ecs", action: "DescribeTasks", from: 0, until: 600_000, kind: "access-denied" }]
    })
    expect(run.code, run.stdout).toBe(0)
    expect(run.stdout).toContain("protocol HTTP, deregistration delay 300 s")
    expect(run.stdout).toContain(
      "DRAIN_STRATEGY=connections exits when the last request is done instead of after 120 s"
    )
    expect(run.stdout).toContain(
      "ecs:DescribeTasks failed (AccessDeniedException): grant it to the task role (optional)"
    )
  })
})
