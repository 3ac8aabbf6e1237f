import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { exitCodeOf } from "../src/errors.ts"
import type { Settings } from "../src/layers/Config.ts"
import type { TaskDescription } from "../src/layers/Ecs.ts"
import { TargetHealth } from "../src/layers/TargetHealth.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { watchUntilDeregistering } from "../src/programs/watchTargets.ts"
import { expectFailure } from "./support/assertions.ts"
import { captureLogs } from "./support/logs.ts"
import { configTest, fixedRandom, ipGroup, type Step, testLayer, tgArn, webLoadBalancer } from "./support/mocks.ts"
import { partialService } from "./support/partialService.ts"

const web = tgArn("web")
const admin = tgArn("admin", "fedcba9876543210")
const s = 1000

const start = (options: {
  readonly timelines: Record<string, ReadonlyArray<Step>>
  readonly settings?: Partial<Settings>
  readonly random?: number
  readonly twoGroups?: boolean
  /** What ecs:DescribeTasks says of this task. */
  readonly task?: TaskDescription
}) =>
  Effect.gen(function*() {
    const world = testLayer({
      settings: { pollingFrequencySeconds: 30, deregistrationWaitSeconds: 120, drainExitCode: 7, ...options.settings },
      ecs: {
        loadBalancers: options.twoGroups
          ? [webLoadBalancer, { ...webLoadBalancer, targetGroupArn: admin, containerPort: 9090 }]
          : [webLoadBalancer],
        task: options.task
      },
      elb: { timelines: options.timelines, groups: [ipGroup(web), ipGroup(admin)] },
      random: options.random ?? 0
    })
    assert.strictEqual(yield* Clock.currentTimeMillis, 0)
    const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
    return { fiber, ...world }
  })

const expectDrained = (fiber: Fiber.Fiber<never, unknown>, exitCode: number) =>
  Effect.sync(() => expectFailure(fiber.pollUnsafe(), "Drained", exitCode))

describe("sidecar: polling", () => {
  it.effect("polls at once, then every POLLING_FREQUENCY (jitter pinned to its low end)", () =>
    Effect.gen(function*() {
      const { polls } = yield* start({ timelines: { [web]: [{ at: 0, state: "healthy" }] } })
      yield* TestClock.setTime(0)
      assert.deepStrictEqual(polls().map((c) => c.at), [0])
      yield* TestClock.setTime(60 * s)
      // 30 s −10% jitter with Random pinned to 0.
      assert.deepStrictEqual(polls().map((c) => c.at), [0, 27 * s, 54 * s])
    }))

  it.effect("spreads the first poll over [0, min(2 s, interval)] and each interval over ±10%", () =>
    Effect.gen(function*() {
      const { polls } = yield* start({ timelines: { [web]: [{ at: 0, state: "healthy" }] }, random: 0.75 })
      yield* TestClock.setTime(70 * s)
      // First poll at 0.75 × 2 s; then 30 s × (0.9 + 0.2 × 0.75) = 31.5 s.
      assert.deepStrictEqual(polls().map((c) => c.at), [1500, 33_000, 64_500])
    }))

  it.effect("waits DEREGISTRATION_WAIT after draining is seen, then fails with Drained carrying DRAIN_EXIT_CODE", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* start({
        timelines: {
          [web]: [{ at: 0, state: "healthy" }, {
            at: 95 * s,
            state: "draining",
            reason: "Target.DeregistrationInProgress"
          }]
        }
      })
      // Polls at 0, 27, 54, 81, 108 s: draining is first seen at 108 s.
      yield* TestClock.setTime(108 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe(), "must not exit before the wait is over")
      yield* TestClock.setTime(108 * s + 120 * s)
      yield* expectDrained(fiber, 7)
      const deregistering = logs.find((l) => l.message === "target is deregistering")
      assert.deepInclude(deregistering, {
        level: "info",
        targetGroupArn: web,
        targetId: "10.0.2.106",
        port: 8080,
        state: "draining"
      })
    }))

  it.effect("logs a state change at info and an unchanged poll at debug", () =>
    Effect.gen(function*() {
      const { logs } = yield* start({
        timelines: {
          [web]: [{ at: 0, state: "initial", reason: "Elb.RegistrationInProgress" }, { at: 20 * s, state: "healthy" }]
        }
      })
      yield* TestClock.setTime(60 * s)
      const polls = logs.filter((l) => l.message.startsWith("target state"))
      assert.deepStrictEqual(polls.map((l) => [l.level, l.state]), [["info", "initial"], ["info", "healthy"], [
        "debug",
        "healthy"
      ]])
    }))
})

describe("sidecar: what counts as deregistration", () => {
  it.effect("waits for a target that is not registered yet, then drains normally", () =>
    Effect.gen(function*() {
      const { fiber } = yield* start({
        timelines: {
          [web]: [
            { at: 0, state: "unused", reason: "Target.NotRegistered" },
            { at: 50 * s, state: "initial", reason: "Elb.RegistrationInProgress" },
            { at: 100 * s, state: "healthy" },
            { at: 200 * s, state: "draining" }
          ]
        }
      })
      yield* TestClock.setTime(199 * s)
      assert.isUndefined(fiber.pollUnsafe(), "not registered at startup is not a deregistration")
      // Draining seen at the 216 s poll (8 × 27 s).
      yield* TestClock.setTime(216 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(216 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))

  it.effect("does not treat unhealthy.draining as deregistration", () =>
    Effect.gen(function*() {
      const { fiber, polls } = yield* start({
        timelines: {
          [web]: [
            { at: 0, state: "healthy" },
            { at: 20 * s, state: "unhealthy.draining", reason: "Target.FailedHealthChecks" },
            { at: 100 * s, state: "healthy" }
          ]
        }
      })
      yield* TestClock.setTime(1000 * s)
      assert.isUndefined(fiber.pollUnsafe())
      assert.isAbove(polls().length, 30)
    }))

  it.effect("catches a draining window missed between two polls (healthy, then not registered, read twice)", () =>
    Effect.gen(function*() {
      const { fiber, polls } = yield* start({
        timelines: {
          [web]: [{ at: 0, state: "healthy" }, { at: 30 * s, state: "unused", reason: "Target.NotRegistered" }]
        }
      })
      // Not registered at the 54 s poll; the confirming poll follows a second later.
      yield* TestClock.setTime(55 * s)
      assert.deepStrictEqual(polls().map((c) => c.at), [0, 27 * s, 54 * s, 55 * s])
      yield* TestClock.setTime(55 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(55 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))

  it.effect("one stale not-registered reading after an own state is not a deregistration: the confirming poll sees it registered", () =>
    Effect.gen(function*() {
      const { fiber, polls, logs } = yield* start({
        timelines: {
          [web]: [
            { at: 0, state: "healthy" },
            // Eventually consistent: one reading at 27 s says not registered.
            { at: 27 * s, state: "unused", reason: "Target.NotRegistered" },
            { at: 27 * s + 1, state: "healthy" }
          ]
        }
      })
      yield* TestClock.setTime(400 * s)
      assert.isUndefined(fiber.pollUnsafe())
      assert.isTrue(logs.some((l) => l.message === "target reads as not registered: confirming with one more poll"))
      assert.isFalse(logs.some((l) => l.message === "target is deregistering"))
      // The confirming poll a second later, then the usual interval again.
      assert.deepStrictEqual(polls().slice(0, 5).map((c) => c.at), [0, 27 * s, 28 * s, 55 * s, 82 * s])
    }))

  it.effect("draining before any own state is an earlier task's drain: waited out and logged once; this task's own drain ends it", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* start({
        timelines: {
          [web]: [
            // host/bridge port or awsvpc IP reused: the predecessor's target is still draining.
            { at: 0, state: "draining", reason: "Target.DeregistrationInProgress" },
            { at: 100 * s, state: "unused", reason: "Target.NotRegistered" },
            { at: 150 * s, state: "initial", reason: "Elb.RegistrationInProgress" },
            { at: 200 * s, state: "healthy" },
            { at: 300 * s, state: "draining", reason: "Target.DeregistrationInProgress" }
          ]
        }
      })
      yield* TestClock.setTime(299 * s)
      assert.isUndefined(fiber.pollUnsafe(), "an earlier task's drain never ends this task")
      assert.strictEqual(logs.filter((l) => l.message === "target still draining from an earlier task").length, 1)
      assert.isFalse(logs.some((l) => l.message === "target is deregistering"))
      // This task's own drain is seen at the 324 s poll (12 × 27 s).
      yield* TestClock.setTime(324 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(324 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))

  it.effect("a drain before any own state is this task's own when ECS says it is stopping (its polls failed all along)", () =>
    Effect.gen(function*() {
      const stopping: TaskDescription = {
        group: "service:web",
        containerInstanceArn: undefined,
        containers: [],
        desiredStatus: "STOPPED",
        lastStatus: "DEACTIVATING"
      }
      const { fiber, logs, calls } = yield* start({
        task: stopping,
        timelines: { [web]: [{ at: 0, error: "ServiceUnavailable" }, { at: 100 * s, state: "draining" }] }
      })
      // Polls at 0 (failed), 54 (failed, ×2), 162 s (×4 would be 216 s, past the detection budget of
      // 0.9 × (300 − 120) s from the start): draining, and ECS says the task is stopping.
      yield* TestClock.setTime(162 * s)
      assert.deepInclude(logs.find((l) => l.message === "target is deregistering"), {
        evidence: "ECS is stopping this task"
      })
      assert.strictEqual(calls.filter((c) => c.action === "DescribeTasks").length, 1)
      yield* TestClock.setTime(162 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))

  it.effect("ECS's word that the task runs is asked at most once a minute while an earlier task's drain lasts", () =>
    Effect.gen(function*() {
      const running: TaskDescription = {
        group: "service:web",
        containerInstanceArn: undefined,
        containers: [],
        desiredStatus: "RUNNING",
        lastStatus: "RUNNING"
      }
      const { fiber, calls, logs } = yield* start({
        task: running,
        settings: { pollingFrequencySeconds: 10 },
        timelines: { [web]: [{ at: 0, state: "draining" }] }
      })
      yield* TestClock.setTime(300 * s)
      assert.isUndefined(fiber.pollUnsafe())
      const asked = calls.filter((c) => c.action === "DescribeTasks").map((c) => c.at / s)
      assert.isAtLeast(asked.length, 4)
      asked.slice(1).forEach((t, i) => assert.isAtLeast(t - (asked[i] ?? 0), 60))
      assert.deepInclude(logs.find((l) => l.message === "target still draining from an earlier task"), {
        evidence: "ECS says this task is running"
      })
    }))

  it.effect("draining at the first poll with no own state, then gone: the task is never stopped for it", () =>
    Effect.gen(function*() {
      const { fiber } = yield* start({
        timelines: {
          [web]: [{ at: 0, state: "draining" }, { at: 50 * s, state: "unused", reason: "Target.NotRegistered" }]
        }
      })
      yield* TestClock.setTime(1000 * s)
      assert.isUndefined(fiber.pollUnsafe())
    }))

  it.effect("treats InvalidTarget after registration as deregistration (read twice), but not before", () =>
    Effect.gen(function*() {
      const { fiber } = yield* start({
        timelines: {
          [web]: [{ at: 0, error: "InvalidTarget" }, { at: 40 * s, state: "healthy" }, {
            at: 60 * s,
            error: "InvalidTarget"
          }]
        }
      })
      yield* TestClock.setTime(59 * s)
      assert.isUndefined(fiber.pollUnsafe(), "InvalidTarget before registration is waited out")
      // InvalidTarget at 81 s, confirmed at 82 s.
      yield* TestClock.setTime(82 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(82 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))

  it.effect("watches every target group, one DescribeTargetHealth each per poll, and exits when only the second drains", () =>
    Effect.gen(function*() {
      const { fiber, polls } = yield* start({
        twoGroups: true,
        timelines: {
          [web]: [{ at: 0, state: "healthy" }],
          [admin]: [{ at: 0, state: "healthy" }, { at: 50 * s, state: "draining" }]
        }
      })
      yield* TestClock.setTime(54 * s)
      const byPoll = Object.groupBy(polls(), (c) => String(c.at))
      assert.deepStrictEqual(Object.keys(byPoll), ["0", "27000", "54000"])
      for (const calls of Object.values(byPoll)) {
        assert.deepStrictEqual(calls?.map((c) => c.targetGroupArn).sort(), [web, admin].sort())
      }
      yield* TestClock.setTime(54 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))
})

describe("sidecar: many target groups", () => {
  it.effect("reads at most 5 target groups at a time, each once per poll", () =>
    Effect.gen(function*() {
      const groups = Array.from({ length: 10 }, (_, i) => tgArn(`tg${i}`))
      let inFlight = 0
      let most = 0
      const reads: Array<string> = []
      const elb = TargetHealth.layerTest(partialService(TargetHealth, {
        describeTargetGroups: () => Effect.succeed([]),
        listTargets: () => Effect.succeed([]),
        poll: (arn, targets) =>
          Effect.sync(() => {
            reads.push(arn)
            most = Math.max(most, ++inFlight)
          }).pipe(
            Effect.andThen(Effect.sleep("1 second")),
            Effect.ensuring(Effect.sync(() => inFlight--)),
            Effect.as(targets.map((target) => ({ target, state: "healthy", reason: undefined })))
          )
      }))
      const targets = groups.map((arn) => ({
        targetGroupArn: arn,
        id: "10.0.2.106",
        port: 8080,
        containerName: "app",
        containerPort: 8080
      }))
      const fiber = yield* Effect.forkChild(
        watchUntilDeregistering(targets).pipe(
          Effect.provide(
            Layer.mergeAll(configTest({ pollingFrequencySeconds: 30 }), elb, fixedRandom(0), captureLogs().layer)
          )
        )
      )
      yield* TestClock.setTime(2 * s)
      assert.strictEqual(most, 5)
      assert.deepStrictEqual([...reads].sort(), [...groups].sort())
      yield* Fiber.interrupt(fiber)
    }))
})

describe("sidecar: failures while polling never end it", () => {
  it.effect("backs off while polls fail (2x, 4x, capped at 4x until D is read) and returns to the interval after a success", () =>
    Effect.gen(function*() {
      const { fiber, polls, calls } = yield* start({
        timelines: {
          [web]: [{ at: 0, state: "healthy" }, { at: 20 * s, error: "ServiceUnavailable" }, {
            at: 200 * s,
            state: "healthy"
          }, {
            at: 400 * s,
            state: "draining"
          }]
        }
      })
      yield* TestClock.setTime(330 * s)
      // 0 ok, 27 fail → ×2 (54 s), 81 fail → ×4 would be 189 s: D is not read yet (nothing needed it at
      // startup), so the 4x cap stands in for the budget: 120 s after the last reading at 0; fail → ×4
      // (108 s), 228 ok → back to 27 s.
      assert.deepStrictEqual(polls().map((c) => c.at / s), [0, 27, 81, 120, 228, 255, 282, 309])
      // D is read right after the first reading that went through once one had failed: the budget, from then on.
      assert.deepStrictEqual(
        calls.filter((c) => c.action === "DescribeTargetGroupAttributes").map((c) => c.at / s),
        [228]
      )
      assert.isUndefined(fiber.pollUnsafe())
      // Draining at 400 is seen at 417 (309 + 4 × 27).
      yield* TestClock.setTime(417 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(417 * s + 120 * s)
      yield* expectDrained(fiber, 7)
    }))

  it.effect("keeps running through AccessDenied and 5xx, logging each failure with its code and request id", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* start({
        timelines: {
          [web]: [
            { at: 0, state: "healthy" },
            { at: 20 * s, error: "AccessDenied", retryable: false },
            { at: 100 * s, error: "ServiceUnavailable" },
            { at: 250 * s, state: "draining" }
          ]
        }
      })
      yield* TestClock.setTime(249 * s)
      assert.isUndefined(fiber.pollUnsafe())
      const failures = logs.filter((l) => l.message === "poll failed")
      assert.isAtLeast(failures.length, 3)
      assert.deepInclude(failures[0], {
        level: "warn",
        error: "AccessDenied",
        requestId: "mock-request-id",
        targetGroupArn: web
      })
      assert.isTrue(failures.some((l) => l.error === "ServiceUnavailable"))
      yield* TestClock.setTime(600 * s)
      yield* expectDrained(fiber, 7)
    }))
})

describe("sidecar: signals and dry run", () => {
  const interruptAt = (ms: number) =>
    Effect.gen(function*() {
      const { fiber } = yield* start({
        timelines: {
          [web]: [{ at: 0, state: "healthy" }, { at: 20 * s, error: "Throttling" }, { at: 60 * s, state: "draining" }]
        }
      })
      yield* TestClock.setTime(ms)
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit)
      if (exit !== undefined) assert.strictEqual(exitCodeOf(exit), 0)
    })

  it.effect("an interrupt while polling exits 0", () => interruptAt(10 * s))
  it.effect("an interrupt during backoff exits 0", () => interruptAt(40 * s))
  it.effect("an interrupt during the drain wait exits 0", () => interruptAt(150 * s))

  it.effect("DRY_RUN logs the exit it would make and keeps running", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* start({
        settings: { dryRun: true },
        timelines: { [web]: [{ at: 0, state: "healthy" }, { at: 10 * s, state: "draining" }] }
      })
      yield* TestClock.setTime(27 * s + 120 * s)
      assert.isTrue(logs.some((l) => l.message === "dry run: would exit with code 7"))
      yield* TestClock.setTime(2000 * s)
      assert.isUndefined(fiber.pollUnsafe())
    }))
})
