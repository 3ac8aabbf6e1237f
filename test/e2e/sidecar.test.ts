// The built sidecar as a real process against the simulator: real SDK, real
// HTTP, real signals. Short timings (POLLING_FREQUENCY=1, DEREGISTRATION_WAIT=1).
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { adminGroupArn, webGroupArn } from "../../simulator/scenarios.ts"
import { healthPolls, pollsLogged, runScenario, type ScenarioRun, stopWhen } from "./harness.ts"

/** A preload that holds the command chunk's loading for a second, and says so on stderr. */
const holdCommandChunk = fileURLToPath(new URL("../support/hold-command-chunk.mjs", import.meta.url))

// On the simulator's clock from when the sidecar is watching: a poll or two sees the target healthy first.
const drainAtMs = 2500
const watching = { clockStarts: "when-watching" } as const
const waitMs = 1000

/**
 * Exit `exitCode` after the poll that decided (the first that saw draining; the second that saw
 * the target gone): never before DEREGISTRATION_WAIT, and with no poll of that group after it.
 * How soon after the wait it exits, and the interval between polls, are exact on TestClock
 * (test/sidecar.test.ts, "sidecar: polling"); here, the counts and the order.
 */
const expectDrained = (
  run: ScenarioRun,
  groups: ReadonlyArray<string> = [webGroupArn],
  exitCode = 0,
  drainedAt = drainAtMs,
  readingsToDecide = 1
) => {
  expect(run.code, run.stdout + run.stderr).toBe(exitCode)
  const drainingGroup = groups.at(-1) ?? webGroupArn
  const polls = healthPolls(run.requests, drainingGroup)
  const deciding = polls.filter((r) => r.t >= drainedAt)[readingsToDecide - 1]
  expect(deciding, "a poll after the drain started").toBeDefined()
  expect(polls.at(-1), "no poll after the deciding one").toBe(deciding)
  // The wait starts when the answer arrives, after the simulator recorded the request: load only adds to it.
  expect(run.exitT - (deciding?.t ?? 0)).toBeGreaterThanOrEqual(waitMs)
  expect(run.logs.at(-1)).toMatchObject({ message: expect.stringContaining("is deregistering"), exitCode })
  expectOneRequestPerGroupPerPoll(run, groups)
}

const expectOneRequestPerGroupPerPoll = (run: ScenarioRun, groups: ReadonlyArray<string>) => {
  const counts = groups.map((g) => healthPolls(run.requests, g).length)
  // Each poll the sidecar logged is one DescribeTargetHealth on the wire: no retry or duplicate behind it.
  for (const g of groups) expect(healthPolls(run.requests, g).length, g).toBe(pollsLogged(run.logs, g).length)
  expect(new Set(counts).size, `polls per group: ${counts.join(", ")}`).toBe(1)
  expect(healthPolls(run.requests).length).toBe(counts.reduce((a, b) => a + b, 0))
  // Discovery happens once: nothing but DescribeTargetHealth after the first poll, except once
  // draining is seen: each group's deregistration delay (nothing throttled, so nothing needed it
  // before: SecondsSaved does), then one ecs:DescribeTasks (why ECS stops the task; the same answer
  // settles whose drain a first reading of draining is).
  const firstPoll = healthPolls(run.requests)[0]?.t ?? Infinity
  expect(run.requests.filter((r) => r.t > firstPoll && r.action !== "DescribeTargetHealth").map((r) => r.action))
    .toEqual([...groups.map(() => "DescribeTargetGroupAttributes"), "DescribeTasks"])
}

const message = (run: ScenarioRun, level = "error") =>
  run.logs.filter((l) => l.level === level).map((l) => String(l.message)).join("\n")

describe.concurrent("e2e: drains and exits", () => {
  it("EC2 awsvpc: the task IP and container port", async () => {
    const run = await runScenario("awsvpc", { ...watching, drainAtMs })
    expectDrained(run)
    expect(healthPolls(run.requests)[0]?.params).toMatchObject({
      "Targets.member.1.Id": "10.0.1.23",
      "Targets.member.1.Port": "8080"
    })
    expect(run.logs.find((l) => l.message === "watching targets")).toMatchObject({
      networkMode: "awsvpc",
      service: "web"
    })
    // Signed with the task role's credentials from the container credentials endpoint: one fetch
    // at startup serves both the ECS and the ELBv2 client.
    const credentials = run.requests.filter((r) => r.api === "credentials")
    expect(credentials.length).toBe(1)
    expect(credentials.every((r) => r.t <= (healthPolls(run.requests)[0]?.t ?? 0))).toBe(true)
    expect(run.logs.find((l) => l.message === "AWS credentials")).toMatchObject({ source: "container" })
    // The README's least-privilege policy for awsvpc with ServiceName in the metadata, and the two
    // optional calls (without them the sidecar works the same: test/e2e/metrics.test.ts).
    expect(new Set(run.requests.filter((r) => r.api === "ecs" || r.api === "elbv2").map((r) => r.action))).toEqual(
      new Set([
        "DescribeServices",
        "DescribeTargetGroups",
        "DescribeTargetHealth",
        "DescribeTargetGroupAttributes",
        "DescribeTasks"
      ])
    )
  })

  it("Fargate (cluster ARN, no Ports in the metadata)", async () => {
    const run = await runScenario("fargate", { ...watching, drainAtMs })
    expectDrained(run)
    expect(run.logs.find((l) => l.message === "watching targets")?.cluster).toBe(
      "arn:aws:ecs:us-east-1:111122223333:cluster/production"
    )
  })

  it("EC2 bridge: the instance id and the dynamic host port", async () => {
    const run = await runScenario("bridge", { ...watching, drainAtMs })
    expectDrained(run)
    expect(healthPolls(run.requests)[0]?.params).toMatchObject({
      "Targets.member.1.Id": "i-0598c7d356eba48d7",
      "Targets.member.1.Port": "32768"
    })
  })

  it("EC2 bridge on an old agent (no ServiceName, no HostPort in the metadata): asks ECS", async () => {
    const run = await runScenario("old-agent-bridge", { ...watching, drainAtMs })
    expectDrained(run)
    expect(healthPolls(run.requests)[0]?.params).toMatchObject({ "Targets.member.1.Port": "32768" })
    const firstPoll = healthPolls(run.requests)[0]?.t ?? Infinity
    expect(run.requests.filter((r) => r.api === "ecs" && r.t < firstPoll).map((r) => r.action)).toEqual([
      "DescribeTasks",
      "DescribeServices",
      "DescribeContainerInstances"
    ])
  })

  it("EC2 host mode: the instance id and the container port", async () => {
    const run = await runScenario("host", { ...watching, drainAtMs })
    expectDrained(run)
    expect(healthPolls(run.requests)[0]?.params).toMatchObject({
      "Targets.member.1.Id": "i-0598c7d356eba48d7",
      "Targets.member.1.Port": "8080"
    })
  })

  it("two target groups, the second drains: one DescribeTargetHealth per group per poll", async () => {
    const run = await runScenario("two-target-groups", { ...watching, drainAtMs })
    expectDrained(run, [webGroupArn, adminGroupArn])
  })

  it("late registration is waited for, then the drain ends it", async () => {
    // Not registered for the first 2 s of watching: a poll or two reads it so.
    const run = await runScenario("late-registration", { ...watching, drainAtMs: 4000 })
    expectDrained(run, [webGroupArn], 0, 4000)
    expect(run.logs.some((l) => l.state === "unused" && l.reason === "Target.NotRegistered")).toBe(true)
  })

  it("a draining window missed between polls (healthy, then not registered, read twice) still ends it", async () => {
    // Registered for the first 2.5 s of watching: seen healthy first.
    const run = await runScenario("missed-draining-window", { ...watching, drainAtMs })
    expectDrained(run, [webGroupArn], 0, drainAtMs, 2)
    expect(run.logs.some((l) => l.message === "target reads as not registered: confirming with one more poll")).toBe(
      true
    )
    expect(run.logs.find((l) => l.message === "target is deregistering")).toMatchObject({
      state: "unused",
      reason: "Target.NotRegistered"
    })
  })

  it("DRAIN_EXIT_CODE is the exit code after a drain", async () => {
    const run = await runScenario("awsvpc", { ...watching, drainAtMs, env: { DRAIN_EXIT_CODE: "3" } })
    expectDrained(run, [webGroupArn], 3)
  })
})

describe.concurrent("e2e: never exits when it should not", () => {
  it("unhealthy.draining is not a deregistration", async () => {
    // unhealthy.draining from 0.8 s to 4 s of watching, healthy after: stopped once it reads healthy again.
    let seen = false
    const run = await runScenario("unhealthy-draining", {
      ...watching,
      drainAtMs: 4000,
      onLog: (line, child) => {
        if (line.state === "unhealthy.draining") seen = true
        else if (seen && line.state === "healthy") child.kill("SIGTERM")
      }
    })
    expect(run.code, `signal ${run.signal}; ${run.stdout.slice(-600)}`).toBe(0)
    expect(run.logs.some((l) => l.state === "unhealthy.draining")).toBe(true)
    expect(run.logs.some((l) => l.message === "target is deregistering")).toBe(false)
    expect(run.logs.at(-1)?.message).toBe("stopped by signal")
  })
})

describe.concurrent("e2e: startup errors end with the documented exit code", () => {
  it("not in a service: exit 4", async () => {
    const run = await runScenario("not-in-service")
    expect(run.code).toBe(4)
    expect(message(run)).toContain("not part of an ECS service")
  })

  it("a service without target groups: exit 4", async () => {
    const run = await runScenario("no-target-groups")
    expect(run.code).toBe(4)
    expect(message(run)).toContain("has no target groups")
  })

  it("POLLING_FREQUENCY=abc: exit 2 naming the variable, before any request", async () => {
    const run = await runScenario("awsvpc", { env: { POLLING_FREQUENCY: "abc" } })
    expect(run.code).toBe(2)
    expect(message(run)).toContain("POLLING_FREQUENCY=\"abc\"")
    expect(run.requests).toEqual([])
  })

  it("no ECS_CONTAINER_METADATA_URI_V4: exit 3 naming it", async () => {
    const run = await runScenario("awsvpc", { env: { ECS_CONTAINER_METADATA_URI_V4: undefined } })
    expect(run.code).toBe(3)
    expect(message(run)).toContain("ECS_CONTAINER_METADATA_URI_V4")
  })

  it("ecs:DescribeServices denied: exit 5 at once, naming the permission", async () => {
    const run = await runScenario("access-denied")
    expect(run.code).toBe(5)
    expect(message(run)).toContain("grant the IAM permission ecs:DescribeServices")
    expect(run.requests.filter((r) => r.action === "DescribeServices")).toHaveLength(1)
  })
})

/**
 * How soon SIGTERM ends the process is the behaviour itself (ECS kills the sidecar at its
 * stopTimeout): far below the 10 s sleep and the 30 s wait these tests interrupt, far above the
 * < 0.1 s it takes with 30 sidecars starting at once on a 2-core machine.
 */
const sigtermWithinMs = 3000

describe.concurrent("e2e: signals", () => {
  it("SIGTERM while polling: exit 0 at once, not after the poll's sleep", async () => {
    const stop = stopWhen((l) => l.message === "target state changed")
    const run = await runScenario("awsvpc", {
      drainAtMs: 60_000,
      env: { POLLING_FREQUENCY: "10" },
      onLog: stop.onLog
    })
    expect(run.code).toBe(0)
    expect(run.exitedAt - stop.signalledAt()).toBeLessThan(sigtermWithinMs)
    expect(run.logs.at(-1)).toMatchObject({ message: "stopped by signal", exitCode: 0 })
  })

  it("SIGTERM while the entry point is still loading the program, before the runtime's handlers: exit 0, nothing started", async () => {
    let signalled = false
    const run = await runScenario("awsvpc", {
      drainAtMs: 60_000,
      env: { NODE_OPTIONS: `--import ${holdCommandChunk}` },
      onStderr: (chunk, child) => {
        if (!signalled && chunk.includes("loading the command chunk")) {
          signalled = true
          child.kill("SIGTERM")
        }
      }
    })
    expect(signalled).toBe(true)
    expect(run.code, `signal ${run.signal}; ${run.stderr}`).toBe(0)
    expect(run.logs).toEqual([expect.objectContaining({ level: "info", message: "stopped by signal", exitCode: 0 })])
    expect(run.requests).toEqual([])
  })

  it("SIGTERM during the drain wait: exit 0 at once, not at DEREGISTRATION_WAIT", async () => {
    const stop = stopWhen((l) => l.message === "waiting before exit")
    const run = await runScenario("awsvpc", { drainAtMs: 1500, env: { DEREGISTRATION_WAIT: "30" }, onLog: stop.onLog })
    expect(run.code).toBe(0)
    expect(run.exitedAt - stop.signalledAt()).toBeLessThan(sigtermWithinMs)
    expect(run.logs.at(-1)).toMatchObject({ message: "stopped by signal", exitCode: 0 })
  })
})
