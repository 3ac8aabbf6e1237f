// Pacing in a shared account: the detection budget, ECS after an ELBv2 throttle
// and its confirmation, AIMD with full jitter. The arithmetic on its own, then
// the sidecar on TestClock.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { TaskDescription } from "../src/layers/Ecs.ts"
import {
  afterReading,
  decreaseFactor,
  initialPacing,
  minDelayMillis,
  nextDelayMillis,
  pacingSettings,
  type Reading
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

  it("multiplicative decrease on each throttle up to the budget, additive increase back to POLLING_FREQUENCY", () => {
    let p = initialPacing(settings, 0)
    const intervals: Array<number> = []
    for (let i = 0; i < 3; i++) {
      p = afterReading(settings, p, elbThrottled, i * s)
      intervals.push(p.intervalMillis / s)
    }
    assert.deepStrictEqual(intervals, [30 * decreaseFactor, 162, 162])
    assert.isTrue(p.ecsNext, "after an ELBv2 throttle, ECS reads next")
    let readings = 0
    while (p.intervalMillis > settings.baseMillis) {
      p = afterReading(settings, p, readings % 2 === 0 ? { outcome: "read", channel: "ecs" } : elbRead, readings * s)
      readings++
    }
    assert.strictEqual(readings, 30, "back to 30 s in 30 readings")
    assert.isFalse(afterReading(settings, p, elbRead, 0).ecsNext, "at POLLING_FREQUENCY, ELBv2 alone")
  })

  it("full jitter after a throttle: anywhere from 1 s to the interval; ±10% after a reading", () => {
    const throttled = afterReading(settings, initialPacing(settings, 0), elbThrottled, 0)
    const delays = [0, 0.5, 1].map((r) => nextDelayMillis(settings, throttled, elbThrottled, 0, r))
    assert.deepStrictEqual(delays, [minDelayMillis, minDelayMillis + (120 * s - minDelayMillis) / 2, 120 * s])
    const read = afterReading(settings, initialPacing(settings, 0), elbRead, 0)
    assert.deepStrictEqual([0, 1].map((r) => nextDelayMillis(settings, read, elbRead, 0, r)), [27 * s, 33 * s])
  })

  it("no back-off pushes the next reading past the budget from the last reading", () => {
    let p = initialPacing(settings, 0)
    let now = 0
    // Other failures back off 2x, 4x: without the budget the second retry would come at 54 + 108 s.
    const failed: Reading = { outcome: "failed", channel: "elb" }
    const at: Array<number> = []
    for (let i = 0; i < 3; i++) {
      p = afterReading(settings, p, failed, now)
      now += nextDelayMillis(settings, p, failed, now, 0)
      at.push(now / s)
    }
    // Past the budget nothing is gained by hurrying: the back-off goes on (4x, 108 s).
    assert.deepStrictEqual(at, [54, 162, 270])
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

const start = (timeline: ReadonlyArray<Step>, stoppingAt: number, denied = false) =>
  Effect.gen(function*() {
    const ecsCalls: Array<Call> = []
    const world = testLayer({
      settings: { pollingFrequencySeconds: 30, deregistrationWaitSeconds: 120, drainExitCode: 7 },
      ecsLayer: ecsStoppingAt(stoppingAt, ecsCalls, denied),
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
      // Past the confirmation (at most 162 s after the drain's start), before the end of its wait.
      yield* TestClock.setTime(363 * s)
      const stoppingSaid = logs.findIndex((l) => l.message === "ECS is stopping this task: confirming with ELBv2")
      const leaving = logs.findIndex((l) => l.message === "target is deregistering")
      assert.isAbove(stoppingSaid, -1)
      assert.isAbove(leaving, stoppingSaid, "the drain is acted on after ELBv2 confirms it")
      // The confirmation: the ELBv2 reading that saw the drain came within 2 s of an ECS answer of STOPPED
      // (the ones before it were throttled), and within the detection budget of the drain's start.
      const confirmed = polls().find((c) => c.at >= 230 * s)?.at ?? Infinity
      const stoppedBefore = describeTasks().filter((c) => c.at >= 200 * s && c.at <= confirmed).at(-1)?.at ?? -Infinity
      assert.isAtMost(confirmed - stoppedBefore, 2 * s)
      assert.isAtMost(confirmed - 200 * s, 162 * s)
      yield* TestClock.setTime(confirmed + 120 * s - 1)
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
