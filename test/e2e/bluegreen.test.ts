// The built sidecar on blue/green services against the simulator: native
// BLUE_GREEN (the task in the alternate group, or in the primary one), a
// CODE_DEPLOY task set, and the earlier-task rule across the swap in host mode.
// Order, counts and exit codes; the timing rules themselves are proven on
// TestClock (test/bluegreen.test.ts).
import { describe, expect, it } from "vitest"
import { greenGroupArn, webGroupArn } from "../../simulator/scenarios.ts"
import { healthPolls, runScenario, type ScenarioRun } from "./harness.ts"

/** On the simulator's clock from when the sidecar is watching: its first polls come before any change. */
const drainAtMs = 4000
const watching = { clockStarts: "when-watching" } as const
const messages = (run: ScenarioRun, message: string) => run.logs.filter((l) => l.message === message)
const indexOf = (run: ScenarioRun, message: string) => run.logs.findIndex((l) => l.message === message)

/** Exit 0 after the own drain in `group` (plus DEREGISTRATION_WAIT=1), never before; one deregistering line. */
const expectDrainIn = (run: ScenarioRun, group: string) => {
  expect(run.code, run.stdout.slice(-3000) + run.stderr).toBe(0)
  expect(run.exitT).toBeGreaterThanOrEqual(drainAtMs + 1000)
  expect(messages(run, "target is deregistering").map((l) => l.targetGroupArn)).toEqual([group])
  expect(run.logs.at(-1)).not.toHaveProperty("error")
  expect(run.logs.at(-1)).toMatchObject({
    level: "info",
    exitCode: 0,
    message: expect.stringMatching(new RegExp(` of ${group} is deregistering`))
  })
  expect(indexOf(run, "target is deregistering")).toBeLessThan(run.logs.length - 1)
}

const watched = (run: ScenarioRun) =>
  (messages(run, "watching targets")[0]?.targets as ReadonlyArray<Record<string, unknown>> | undefined)?.map((t) =>
    `${t.targetGroupArn === webGroupArn ? "web" : t.targetGroupArn === greenGroupArn ? "green" : "?"} ${String(t.role)}`
  )

describe.concurrent("e2e: blue/green services", () => {
  it("native blue/green, the task registered only in the alternate group: its drain there ends it with exit 0", async () => {
    const run = await runScenario("blue-green", { ...watching, drainAtMs })
    expect(watched(run)).toEqual(["web primary", "green alternate"])
    expectDrainIn(run, greenGroupArn)
    // The primary group's "not registered" is never taken for a deregistration.
    expect(messages(run, "target reads as not registered: confirming with one more poll")).toEqual([])
    // One DescribeTargetHealth per watched group per poll.
    const web = healthPolls(run.requests, webGroupArn).length
    expect(web).toBeGreaterThan(2)
    expect(healthPolls(run.requests, greenGroupArn)).toHaveLength(web)
  })

  it("native blue/green, the task registered in the primary group: its drain there ends it with exit 0", async () => {
    const run = await runScenario("blue-green-primary", { ...watching, drainAtMs })
    expect(watched(run)).toEqual(["web primary", "green alternate"])
    expectDrainIn(run, webGroupArn)
    expect(healthPolls(run.requests, greenGroupArn)).toHaveLength(healthPolls(run.requests, webGroupArn).length)
  })

  it("CODE_DEPLOY: the task set its startedBy names, in the group the service's loadBalancers do not name: exit 0 after its drain there", async () => {
    const run = await runScenario("codedeploy", { ...watching, drainAtMs })
    expect(watched(run)).toEqual(["green task set"])
    expect(messages(run, "watching targets")[0]).toMatchObject({
      deploymentController: "CODE_DEPLOY",
      taskSet: expect.stringMatching(/^ecs-svc\/\d{19}$/)
    })
    expectDrainIn(run, greenGroupArn)
    // The task set comes from DescribeTasks, before the groups are described; the other task set's group is never polled.
    const actions = run.requests.filter((r) => r.api === "ecs" || r.api === "elbv2").map((r) => r.action)
    expect(actions.indexOf("DescribeTasks")).toBeLessThan(actions.indexOf("DescribeTargetGroups"))
    expect(healthPolls(run.requests, webGroupArn)).toEqual([])
  })

  it("host mode across the swap: the blue task still draining at this instance:port in the primary group never ends the green task; its own drain in the alternate does", async () => {
    const run = await runScenario("blue-green-host", { ...watching, drainAtMs })
    expect(watched(run)).toEqual(["web primary", "green alternate"])
    const earlier = messages(run, "target still draining from an earlier task")
    expect(earlier).toHaveLength(1)
    expect(earlier[0]).toMatchObject({
      targetGroupArn: webGroupArn,
      targetId: "i-0598c7d356eba48d7",
      port: 8080,
      evidence: "ECS says this task is running"
    })
    expectDrainIn(run, greenGroupArn)
    expect(indexOf(run, "target still draining from an earlier task")).toBeLessThan(
      indexOf(run, "target is deregistering")
    )
  })

  it("check --json lists each group with its role and whether the task is registered there", async () => {
    const run = await runScenario("blue-green", { drainAtMs: 60_000, args: ["check", "--json"] })
    expect(run.code).toBe(0)
    const report = run.logs.find((l) => "permissions" in l)
    expect(report).toMatchObject({
      ok: true,
      deploymentController: "ECS",
      taskSet: null,
      targetGroups: [
        { arn: webGroupArn, role: "primary", registered: false, targets: [{ state: "unused" }] },
        { arn: greenGroupArn, role: "alternate", registered: true, targets: [{ state: "healthy" }] }
      ]
    })
  })
})
