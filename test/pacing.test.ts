// Pacing in a shared account: the detection budget, each channel's share (ELBv2
// dropping to its floor, ECS reading in between, the hold and the steps back),
// the confirmation of ECS's word, full jitter. The arithmetic on its own, then
// the sidecar on TestClock.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Ecs, type TaskDescription } from "../src/layers/Ecs.ts"
import {
  decreaseFactor,
  elbEveryCaps,
  holdMillis,
  initialPacing,
  minDelayMillis,
  pace,
  type Pacing,
  pacingSettings,
  type Reading,
  readingInterval,
  recoveryReadings,
  retrySoonMillis
} from "../src/programs/pacing.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { awsError, type Call, ecsTest, ipGroup, type Step, testLayer, tgArn, webLoadBalancer } from "./support/mocks.ts"

const web = tgArn("web")
const s = 1000
const settings = pacingSettings({
  pollingFrequencySeconds: 30,
  deregistrationWaitSeconds: 120,
  deregistrationDelaySeconds: 300
})
const elbThrottled: Reading = { outcome: "throttled", channel: "elb" }
const elbRead: Reading = { outcome: "read", channel: "elb" }
const ecsRead: Reading = { outcome: "read", channel: "ecs" }
const ecsThrottled: Reading = { outcome: "throttled", channel: "ecs" }

/** Readings one after the other, each at its time (s): the pacing after each, and the delay it set. */
const run = (from: Pacing, steps: ReadonlyArray<readonly [number, Reading]>, random01 = 0.5) => {
  let pacing = from
  return steps.map(([at, reading]) => {
    const next = pace(settings, pacing, reading, at * s, random01)
    pacing = next.pacing
    return next
  })
}

describe("pacing: the arithmetic", () => {
  it("the detection budget is 0.9 × (D − DEREGISTRATION_WAIT); none when D is unknown or not above the wait", () => {
    assert.strictEqual(settings.budgetMillis, 162 * s)
    assert.strictEqual(settings.capMillis, 162 * s)
    const unknown = pacingSettings({
      pollingFrequencySeconds: 30,
      deregistrationWaitSeconds: 120,
      deregistrationDelaySeconds: undefined
    })
    assert.isUndefined(unknown.budgetMillis)
    assert.strictEqual(unknown.capMillis, 120 * s, "without D, the 4x back-off as before")
    assert.isUndefined(
      pacingSettings({ pollingFrequencySeconds: 30, deregistrationWaitSeconds: 300, deregistrationDelaySeconds: 300 })
        .budgetMillis
    )
  })

  it("nothing throttled: ELBv2 alone, every POLLING_FREQUENCY ± 10%", () => {
    const steps = run(initialPacing(settings, 0), [[0, elbRead], [30, elbRead]])
    assert.deepStrictEqual(steps.map((x) => [x.pacing.next, x.delayMillis / s]), [["elb", 30], ["elb", 30]])
    assert.deepStrictEqual(
      [0, 1].map((r) => pace(settings, initialPacing(settings, 0), elbRead, 0, r).delayMillis / s),
      [
        27,
        33
      ]
    )
  })

  it("an ELBv2 throttle drops ELBv2 to once per four budgets at once, and ECS reads in between at half the budget", () => {
    const [throttled, ...after] = run(initialPacing(settings, 0), [[0, elbThrottled], [5, ecsRead], [76, ecsRead]])
    assert.strictEqual(throttled!.pacing.elbMillis, elbEveryCaps * 162 * s)
    assert.strictEqual(throttled!.pacing.next, "ecs", "ECS right after an ELBv2 throttle")
    assert.strictEqual(throttled!.pacing.ecsMillis, 81 * s)
    // One reading per 1 / (1/648 + 1/81) = 72 s, ECS's turns until ELBv2's comes round again.
    assert.strictEqual(readingInterval(settings, throttled!.pacing), 72 * s)
    assert.deepStrictEqual(after.map((x) => [x.pacing.next, x.delayMillis / s]), [["ecs", 72], ["ecs", 72]])
    const due = run(after.at(-1)!.pacing, [[600, ecsRead]])[0]!
    assert.strictEqual(due.pacing.next, "elb", "ELBv2 reads the target itself once its turn is due")
  })

  it("an ECS throttle multiplies ECS's interval by 4, up to where both channels at their floors read once per 0.9 of the budget; without ECS, ELBv2 backs off by the same factor", () => {
    const backedOff = run(initialPacing(settings, 0), [[0, elbThrottled]])[0]!.pacing
    const [once, twice] = run(backedOff, [[5, ecsThrottled], [10, ecsThrottled]])
    // 81 s × 4 would be 324 s: ECS's cap is 162 / (1/0.9 − 1/4) = 188.1 s.
    assert.strictEqual(Math.round(once!.pacing.ecsMillis / 100) / 10, 188.1)
    assert.strictEqual(twice!.pacing.ecsMillis, once!.pacing.ecsMillis)
    // ELBv2 once per 648 s and ECS once per 188.1 s: a reading per 145.8 s between them, 0.9 × 162.
    assert.strictEqual(Math.round(readingInterval(settings, twice!.pacing) / 100) / 10, 145.8)
    const alone = run(initialPacing(settings, 0, false), [[0, elbThrottled], [10, elbThrottled], [20, elbThrottled]])
    assert.deepStrictEqual(alone.map((x) => x.pacing.elbMillis / s), [30 * decreaseFactor, 162, 162])
    assert.isTrue(alone.every((x) => x.pacing.next === "elb"), "without ECS, ELBv2 alone")
  })

  it("a share grows back only after ten quiet minutes, by one step per reading, to POLLING_FREQUENCY", () => {
    const backedOff = run(initialPacing(settings, 0), [[0, elbThrottled]])[0]!.pacing
    const quiet = run(backedOff, [[holdMillis / s - 1, elbRead]])[0]!.pacing
    assert.strictEqual(quiet.elbMillis, backedOff.elbMillis, "no growth within the hold")
    let pacing = quiet
    let readings = 0
    while (pacing.elbMillis > settings.baseMillis) {
      pacing = run(pacing, [[holdMillis / s + readings, elbRead]])[0]!.pacing
      readings++
    }
    // Each reading adds 1/60 of POLLING_FREQUENCY's rate: from once per 648 s, 58 readings.
    assert.strictEqual(readings, Math.ceil(recoveryReadings * (1 - 30 / 648)))
    assert.strictEqual(run(pacing, [[2 * holdMillis / s, elbRead]])[0]!.pacing.next, "elb", "back to ELBv2 alone")
  })

  it("full jitter after a throttle: anywhere from 1 s to the interval", () => {
    const delays = [0, 0.5, 1].map((r) =>
      pace(settings, initialPacing(settings, 0, false), elbThrottled, 0, r).delayMillis
    )
    assert.deepStrictEqual(delays, [minDelayMillis, minDelayMillis + (120 * s - minDelayMillis) / 2, 120 * s])
  })

  it("no back-off pushes the next reading past the budget from the last reading; past it, the channels take turns within seconds", () => {
    let pacing = initialPacing(settings, 0)
    let now = 0
    // Other failures back off 2x, 4x: without the budget the second retry would come at 54 + 108 s.
    const failed: Reading = { outcome: "failed", channel: "elb" }
    const at: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const next = pace(settings, pacing, failed, now, 0)
      pacing = next.pacing
      now += next.delayMillis
      at.push(now / s)
    }
    // Past the budget nothing is gained by hurrying after an error: the back-off goes on (4x, 108 s).
    assert.deepStrictEqual(at, [54, 162, 270])
    // Throttled past the budget: the other channel next, within seconds.
    const overdue = { ...initialPacing(settings, 0), lastReadingAt: 0 }
    const afterEcs = pace(settings, overdue, ecsThrottled, 170 * s, 1)
    assert.deepStrictEqual([afterEcs.pacing.next, afterEcs.delayMillis], ["elb", retrySoonMillis])
    const afterElb = pace(settings, afterEcs.pacing, elbThrottled, 175 * s, 1)
    assert.deepStrictEqual([afterElb.pacing.next, afterElb.delayMillis], ["ecs", retrySoonMillis])
  })

  it("ECS saying STOPPED: ELBv2 within 2 s, and again within 2 s while throttled; a drain ECS must settle: ECS within 2 s", () => {
    const backedOff = run(initialPacing(settings, 0), [[0, elbThrottled]])[0]!.pacing
    const [stopping, throttled, confirmed] = run(
      backedOff,
      [[10, { outcome: "stopping", channel: "ecs" }], [12, elbThrottled], [14, elbRead]],
      1
    )
    assert.deepStrictEqual([stopping!.pacing.next, stopping!.delayMillis / s], ["elb", 2])
    assert.deepStrictEqual([throttled!.pacing.next, throttled!.delayMillis / s], ["elb", 2])
    assert.isFalse(confirmed!.pacing.confirming)
    const [unsettled, ecsAgain] = run(
      backedOff,
      [[10, { outcome: "unsettled", channel: "elb" }], [12, ecsThrottled]],
      1
    )
    assert.deepStrictEqual([unsettled!.pacing.next, unsettled!.delayMillis / s], ["ecs", 2])
    assert.deepStrictEqual([ecsAgain!.pacing.next, ecsAgain!.delayMillis / s], ["ecs", 2])
  })
})

/** ECS's DescribeTasks on this task: RUNNING, then STOPPED from `stoppingAt`; every call recorded. */
const ecsStoppingAt = (stoppingAt: number, calls: Array<Call>, denied = false) =>
  ecsTest({
    loadBalancers: [webLoadBalancer],
    calls,
    task: (at): TaskDescription => ({
      group: "service:web",
      containerInstanceArn: undefined,
      containers: [],
      desiredStatus: at >= stoppingAt ? "STOPPED" : "RUNNING"
    }),
    ...(denied ? { failWith: { DescribeTasks: awsError("ecs:DescribeTasks", "AccessDeniedException", false) } } : {})
  })

/** `ecs`, its first DescribeServices (at startup) throttled. */
const servicesThrottledOnce = (ecs: Layer.Layer<Ecs>) =>
  Layer.effect(
    Ecs,
    Effect.gen(function*() {
      const inner = yield* Ecs
      let throttled = false
      return Ecs.of({
        ...inner,
        describeService: (cluster, service) =>
          Effect.suspend(() => {
            if (throttled) return inner.describeService(cluster, service)
            throttled = true
            return Effect.fail(awsError("ecs:DescribeServices", "ThrottlingException", true))
          })
      })
    })
  ).pipe(Layer.provide(ecs))

const start = (timeline: ReadonlyArray<Step>, stoppingAt: number, denied = false, startThrottled = false) =>
  Effect.gen(function*() {
    const ecsCalls: Array<Call> = []
    const ecs = ecsStoppingAt(stoppingAt, ecsCalls, denied)
    const world = testLayer({
      settings: { pollingFrequencySeconds: 30, deregistrationWaitSeconds: 120, drainExitCode: 7 },
      ecsLayer: startThrottled ? servicesThrottledOnce(ecs) : ecs,
      elb: { timelines: { [web]: timeline }, groups: [ipGroup(web)] },
      random: 0.5
    })
    const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
    return { fiber, describeTasks: (): Array<Call> => ecsCalls.filter((c) => c.action === "DescribeTasks"), ...world }
  })

describe("pacing: ECS when ELBv2 throttles", () => {
  it.effect("a STOPPED answer is confirmed with one ELBv2 reading of the task's own target before the wait starts", () =>
    Effect.gen(function*() {
      // ELBv2 throttles from 20 s to 230 s; the drain starts at 200 s (ECS says STOPPED from then on).
      const { fiber, describeTasks, polls, logs } = yield* start(
        [{ at: 0, state: "healthy" }, { at: 20 * s, error: "Throttling" }, { at: 230 * s, state: "draining" }],
        200 * s
      )
      yield* TestClock.setTime(200 * s)
      assert.isAbove(describeTasks().length, 0, "ECS read while ELBv2 throttles")
      assert.isTrue(describeTasks().every((c) => c.at > 20 * s), "ECS only after a throttle")
      // Second by second to the confirmation (at most 162 s after the drain's start).
      for (let t = 200; t <= 362 && !logs.some((l) => l.message === "target is deregistering"); t++) {
        yield* TestClock.setTime(t * s)
      }
      const stoppingSaid = logs.findIndex((l) => l.message === "ECS is stopping this task: confirming with ELBv2")
      const leaving = logs.findIndex((l) => l.message === "target is deregistering")
      assert.isAbove(stoppingSaid, -1)
      assert.isAbove(leaving, stoppingSaid, "the drain is acted on after ELBv2 confirms it")
      // The confirmation: from ECS's first answer of STOPPED, ELBv2 alone, every 2 s at most while it throttles
      // (no ECS call spent), until the reading that saw the drain, within the detection budget of its start.
      const confirmed = polls().find((c) => c.at >= 230 * s)?.at ?? Infinity
      const stoppedAt = describeTasks().find((c) => c.at >= 200 * s)?.at ?? Infinity
      assert.strictEqual(describeTasks().filter((c) => c.at > stoppedAt && c.at <= confirmed).length, 0)
      const tries = [stoppedAt, ...polls().map((c) => c.at).filter((at) => at > stoppedAt && at <= confirmed)]
      tries.slice(1).forEach((at, i) => assert.isAtMost(at - tries[i]!, 2 * s))
      assert.isAtMost(confirmed - 200 * s, 162 * s)
      yield* TestClock.setTime(confirmed + 119 * s)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(confirmed + 120 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 7)
    }))

  it.effect("ECS's STOPPED alone never ends the sidecar: ELBv2 must confirm", () =>
    Effect.gen(function*() {
      const { fiber, describeTasks } = yield* start(
        [{ at: 0, state: "healthy" }, { at: 20 * s, error: "Throttling" }],
        60 * s
      )
      yield* TestClock.setTime(3600 * s)
      assert.isUndefined(fiber.pollUnsafe())
      assert.isAbove(describeTasks().filter((c) => c.at >= 60 * s).length, 0)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("where ecs:DescribeTasks is denied, ELBv2 alone: ECS is asked once, and the budget warning comes once with the arithmetic", () =>
    Effect.gen(function*() {
      const { fiber, describeTasks, logs, polls } = yield* start(
        [{ at: 0, state: "healthy" }, { at: 20 * s, error: "Throttling" }, { at: 900 * s, state: "draining" }],
        Infinity,
        true
      )
      yield* TestClock.setTime(899 * s)
      assert.strictEqual(describeTasks().length, 1)
      const warnings = logs.filter((l) => l.message.startsWith("detection budget exceeded"))
      assert.strictEqual(warnings.length, 1)
      assert.deepInclude(warnings[0], {
        level: "warn",
        deregistrationDelaySeconds: 300,
        deregistrationWaitSeconds: 120,
        budgetSeconds: 162
      })
      assert.include(String(warnings[0]?.arithmetic), "carries 1620 sidecars")
      // Throttled all along: polls keep coming, never closer than a second.
      const at = polls().map((c) => c.at)
      at.slice(1).forEach((t, i) => assert.isAtLeast(t - (at[i] ?? 0), minDelayMillis))
      yield* TestClock.setTime(1200 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 7)
    }))
})

describe("pacing: what the sidecar learns, and when", () => {
  const attributes = (calls: ReadonlyArray<Call>) =>
    calls.filter((c) => c.action === "DescribeTargetGroupAttributes").map((c) => c.at / s)

  it.effect("nothing throttled: D is not read at startup but once, at the drain (for SecondsSaved), and ECS is never asked", () =>
    Effect.gen(function*() {
      const { fiber, calls, describeTasks, polls } = yield* start(
        [{ at: 0, state: "healthy" }, { at: 100 * s, state: "draining" }],
        100 * s
      )
      yield* TestClock.setTime(99 * s)
      assert.deepStrictEqual(attributes(calls), [])
      assert.deepStrictEqual(describeTasks(), [], "no ECS reading while ELBv2 answers")
      yield* TestClock.setTime(400 * s)
      const seen = polls().find((c) => c.at >= 100 * s)!.at / s
      assert.deepStrictEqual(attributes(calls), [seen])
      // Counted from the last reading in service: exit − that, against D.
      const lastInService = polls().filter((c) => c.at < 100 * s).at(-1)!.at / s
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 7)
      assert.strictEqual(drained.secondsSaved, 300 - (seen + 120 - lastInService))
    }))

  it.effect("ELBv2 throttled: D is read in one of ELBv2's turns (not the first), and the budget bounds the readings from then on", () =>
    Effect.gen(function*() {
      const { fiber, calls, describeTasks, polls } = yield* start(
        [{ at: 0, state: "healthy" }, { at: 20 * s, error: "Throttling" }],
        Infinity
      )
      yield* TestClock.setTime(1200 * s)
      const [read, ...more] = attributes(calls)
      assert.isDefined(read)
      assert.deepStrictEqual(more, [], "read once")
      assert.isAbove(read!, 20)
      // Every reading (ELBv2 or ECS) within 162 s of the one before, once D is known.
      const readings = [...polls(), ...describeTasks()].map((c) => c.at / s).filter((at) => at > read!).sort((a, b) =>
        a - b
      )
      readings.slice(1).forEach((at, i) => assert.isAtMost(at - readings[i]!, 162))
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a start that was throttled begins backed off: the target is read on ELBv2 once, then ECS reads in between", () =>
    Effect.gen(function*() {
      const throttled = yield* start([{ at: 0, state: "healthy" }], Infinity, false, true)
      yield* TestClock.setTime(400 * s)
      assert.strictEqual(throttled.polls().length, 1, "ELBv2 once (its next turn is 480 s on)")
      assert.isAtLeast(throttled.describeTasks().length, 6, "ECS every 53 s (half the 4x cap, with ELBv2's share)")
      yield* Fiber.interrupt(throttled.fiber)
    }))

  it.effect("ECS's STOPPED settles a drain that looks like an earlier task's: no second DescribeTasks, none for the stop reason", () =>
    Effect.gen(function*() {
      // No reading of the target goes through before the drain: a draining target with no state of this
      // task's before it could be a predecessor's at the same address; ECS's word settles it.
      const { fiber, describeTasks, polls, logs } = yield* start(
        [{ at: 0, error: "Throttling" }, { at: 100 * s, state: "draining" }],
        50 * s
      )
      yield* TestClock.setTime(300 * s)
      const stopped = describeTasks().find((c) => c.at >= 50 * s)!.at
      const seen = polls().find((c) => c.at >= 100 * s)!.at
      assert.deepStrictEqual(describeTasks().filter((c) => c.at > stopped).map((c) => c.at), [])
      assert.isTrue(logs.some((l) => l.message === "target is deregistering"))
      yield* TestClock.setTime(seen + 120 * s)
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 7)
      assert.strictEqual(drained.stopCode, undefined)
    }))
})
