// Target states follow each scenario's timeline on the simulator's clock,
// which the tests move by hand: no sleeping.
import { DescribeTargetHealthCommand, type TargetHealthDescription } from "@aws-sdk/client-elastic-load-balancing-v2"
import { describe, expect, it } from "vitest"
import { decodeScenario, stateAt } from "../../simulator/scenario.ts"
import { adminGroupArn, loadScenario, webGroupArn } from "../../simulator/scenarios.ts"
import { type Harness, harness } from "./helpers.ts"

const health = (
  d: TargetHealthDescription | undefined
) => [d?.TargetHealth?.State, d?.TargetHealth?.Reason, d?.TargetHealth?.Description]

/** The watched target's [State, Reason, Description] at each time. */
const statesAt = async (
  h: Harness,
  times: ReadonlyArray<number>,
  group = webGroupArn,
  id = "10.0.1.23",
  port = 8080
) => {
  const seen = []
  for (const t of times) {
    h.at(t)
    const out = await h.elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: group, Targets: [{ Id: id, Port: port }] })
    )
    seen.push(health(out.TargetHealthDescriptions?.[0]))
  }
  return seen
}

const healthy = ["healthy", undefined, undefined]
const draining = ["draining", "Target.DeregistrationInProgress", "Target deregistration is in progress"]
const notRegistered = ["unused", "Target.NotRegistered", "Target is not registered to the target group"]

describe("timelines", () => {
  it("awsvpc: healthy, draining from drainAtMs, gone after the deregistration delay", async () => {
    const h = await harness(loadScenario("awsvpc", { drainAtMs: 1000, deregistrationDelayMs: 3000 }))
    expect(await statesAt(h, [0, 999, 1000, 3999, 4000])).toEqual([healthy, healthy, draining, draining, notRegistered])
    // Once deregistered it is no longer listed; the neighbour still is.
    const all = await h.elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn }))
    expect(all.TargetHealthDescriptions?.map((d) => d.Target?.Id)).toEqual(["10.0.2.77"])
  })

  it("the default timing: draining at 5 s, deregistered 300 s later", async () => {
    const h = await harness(loadScenario("fargate"))
    expect(await statesAt(h, [4999, 5000, 304_999, 305_000])).toEqual([healthy, draining, draining, notRegistered])
  })

  it("bridge and host: the instance target on its host port", async () => {
    const bridge = await harness(loadScenario("bridge", { drainAtMs: 100 }))
    expect(await statesAt(bridge, [0, 100], webGroupArn, "i-0598c7d356eba48d7", 32768)).toEqual([healthy, draining])
    const host = await harness(loadScenario("host", { drainAtMs: 100 }))
    expect(await statesAt(host, [0, 100], webGroupArn, "i-0598c7d356eba48d7", 8080)).toEqual([healthy, draining])
  })

  it("late-registration: not registered, initial, healthy, draining", async () => {
    const h = await harness(loadScenario("late-registration", { drainAtMs: 1000 }))
    expect(await statesAt(h, [0, 499, 500, 700, 1000])).toEqual([
      notRegistered,
      notRegistered,
      ["initial", "Elb.RegistrationInProgress", "Target registration is in progress"],
      healthy,
      draining
    ])
  })

  it("unhealthy-draining: healthy, unhealthy.draining, healthy again; never draining, never deregistered", async () => {
    const h = await harness(loadScenario("unhealthy-draining", { drainAtMs: 1000 }))
    expect(await statesAt(h, [0, 200, 999, 1000, 10_000_000])).toEqual([
      healthy,
      ["unhealthy.draining", "Target.FailedHealthChecks", "Health checks failed"],
      ["unhealthy.draining", "Target.FailedHealthChecks", "Health checks failed"],
      healthy,
      healthy
    ])
  })

  it("missed-draining-window: healthy, then simply not registered", async () => {
    const h = await harness(loadScenario("missed-draining-window", { drainAtMs: 1000 }))
    expect(await statesAt(h, [999, 1000, 5000])).toEqual([healthy, notRegistered, notRegistered])
  })

  it("two-target-groups: the first group stays healthy, the second drains", async () => {
    const h = await harness(loadScenario("two-target-groups", { drainAtMs: 1000 }))
    expect(await statesAt(h, [0, 1000, 2000])).toEqual([healthy, healthy, healthy])
    expect(await statesAt(h, [0, 1000], adminGroupArn, "10.0.1.23", 9090)).toEqual([healthy, draining])
  })

  it("a step's own reason and description replace the defaults", async () => {
    const base = loadScenario("awsvpc")
    const [group] = base.targetGroups
    if (group === undefined) throw new Error("no group")
    const h = await harness(decodeScenario({
      ...base,
      targetGroups: [{
        ...group,
        targets: [{
          id: "10.0.1.23",
          port: 8080,
          timeline: [{ at: 0, state: "unhealthy", reason: "Target.Timeout", description: "Request timed out" }]
        }]
      }]
    }))
    expect(await statesAt(h, [0])).toEqual([["unhealthy", "Target.Timeout", "Request timed out"]])
  })

  it("fault windows include `from` and exclude `until`", async () => {
    const h = await harness(loadScenario("throttling", { drainAtMs: 1000 }))
    const outcome = async (t: number) => {
      h.at(t)
      return h.elb.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] })
      ).then(
        () => "ok",
        (e: Error) => e.name
      )
    }
    expect([await outcome(99), await outcome(100), await outcome(749), await outcome(750)]).toEqual([
      "ok",
      "Throttling",
      "Throttling",
      "ok"
    ])
  })
})

describe("stateAt", () => {
  it("is the last step at or before t; nothing before the first step or while unregistered", () => {
    const timeline = [{ at: 10, state: "initial" as const }, { at: 20, state: "healthy" as const }, {
      at: 30,
      registered: false as const
    }]
    expect([5, 10, 19, 20, 29, 30].map((t) => stateAt(timeline, t)?.state)).toEqual([
      undefined,
      "initial",
      "initial",
      "healthy",
      "healthy",
      undefined
    ])
  })
})
