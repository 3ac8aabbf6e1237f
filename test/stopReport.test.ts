// What a stop tells operators, on virtual time: EMF records for the drain and
// the exit, why ECS stops the task, the time saved against the target group's
// deregistration delay, poll problems at most once a minute; optional calls
// that fail change nothing else.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import type { Settings } from "../src/layers/Config.ts"
import type { TaskDescription } from "../src/layers/Ecs.ts"
import type { EmfRecord } from "../src/metrics/emf.ts"
import { PollTiming } from "../src/pollSchedule.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { emfProblems } from "./support/emf.ts"
import { awsError, ipGroup, type Step, testLayer, tgArn } from "./support/mocks.ts"

const web = tgArn("web")
const s = 1000

const stopping: TaskDescription = {
  group: "service:web",
  containerInstanceArn: undefined,
  containers: [],
  desiredStatus: "STOPPED",
  lastStatus: "DEACTIVATING",
  stopCode: "ServiceSchedulerInitiated",
  stoppedReason: "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"
}

const start = (options: {
  readonly timeline: ReadonlyArray<Step>
  readonly settings?: Partial<Settings>
  readonly delay?: { readonly seconds: number | undefined } | { readonly error: string }
  readonly describeTasksFails?: boolean
  readonly openConnections?: number
  /** Polling without pacing (src/programs/pacing.ts): the metrics' timing alone. */
  readonly unpaced?: boolean
  /** What ecs:DescribeTasks says, by virtual time; `stopping` by default. */
  readonly task?: (atMillis: number) => TaskDescription
}) =>
  Effect.gen(function*() {
    const metrics: Array<EmfRecord> = []
    const world = testLayer({
      settings: { pollingFrequencySeconds: 30, deregistrationWaitSeconds: 120, ...options.settings },
      ecs: {
        task: options.task ?? stopping,
        ...(options.describeTasksFails === true
          ? { failWith: { DescribeTasks: awsError("ecs:DescribeTasks", "AccessDeniedException", false) } }
          : {})
      },
      elb: {
        timelines: { [web]: options.timeline },
        groups: [ipGroup(web)],
        ...(options.delay === undefined ? {} : { deregistrationDelay: { [web]: options.delay } })
      },
      metrics,
      ...(options.openConnections === undefined
        ? {}
        : {
          connections: (ports) => Effect.succeed({ open: new Map(ports.map((p) => [p, options.openConnections ?? 0])) })
        })
    })
    const timing = yield* PollTiming
    const fiber = yield* Effect.forkChild(
      sidecar.pipe(
        Effect.provide(world.layer),
        Effect.provideService(PollTiming, { ...timing, paced: options.unpaced !== true })
      )
    )
    return { fiber, metrics, ...world }
  })

const drainAt100 = [{ at: 0, state: "healthy" }, { at: 100 * s, state: "draining" }] as const

describe("metrics and stop reasons", () => {
  it.effect("a drain writes DrainDetected, then at exit DrainWaitSeconds and SecondsSaved, valid EMF with the service and target group", () =>
    Effect.gen(function*() {
      const { fiber, metrics } = yield* start({ timeline: drainAt100 })
      // Draining seen at the 108 s poll; 120 s later the sidecar exits.
      yield* TestClock.setTime(108 * s + 120 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 0)
      for (const record of metrics) assert.deepStrictEqual(emfProblems(record), [])
      const [detected, exit] = metrics
      assert.deepInclude(detected, {
        event: "drain-detected",
        DrainDetected: 1,
        ServiceName: "web",
        TargetGroup: "targetgroup/web/0123456789abcdef"
      })
      assert.deepInclude(detected, { stopCode: "ServiceSchedulerInitiated", stoppedReason: stopping.stoppedReason })
      assert.strictEqual(detected?._aws.Timestamp, 108 * s)
      // 300 s of deregistration delay; 120 s stayed after draining was seen, 147 s after the last poll that
      // found the target in service (81 s): ECS said nothing of when it began stopping the task.
      assert.deepInclude(exit, { event: "exit", DrainWaitSeconds: 120, SecondsSaved: 153 })
      assert.strictEqual(metrics.length, 2)
    }))

  it.effect("SecondsSaved counts from ECS's stoppingAt when DescribeTasks tells it, not from when draining was seen", () =>
    Effect.gen(function*() {
      const { fiber, metrics } = yield* start({
        timeline: drainAt100,
        task: () => ({ ...stopping, stoppingAt: 99 * s })
      })
      yield* TestClock.setTime(108 * s + 120 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 0)
      // 300 s less the 129 s from 99 s (ECS began stopping the task) to the exit at 228 s.
      assert.deepInclude(metrics.find((r) => r.event === "exit"), { DrainWaitSeconds: 120, SecondsSaved: 171 })
    }))

  it.effect("after an earlier task's drain was settled by ECS ('running'), the task's own drain asks ECS afresh for the stop reason", () =>
    Effect.gen(function*() {
      // Polls every 4.5 s: an earlier task's drain at 0 (ECS: running), healthy from 2 s, this task's drain
      // at 6 s, seen at 9 s: within seconds of ECS's "running".
      const { fiber, logs, calls } = yield* start({
        settings: { pollingFrequencySeconds: 5 },
        timeline: [{ at: 0, state: "draining" }, { at: 2 * s, state: "healthy" }, { at: 6 * s, state: "draining" }],
        task: (at) =>
          at < 5 * s
            ? {
              ...stopping,
              desiredStatus: "RUNNING",
              lastStatus: "RUNNING",
              stopCode: undefined,
              stoppedReason: undefined
            }
            : stopping
      })
      yield* TestClock.setTime(9 * s + 120 * s)
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.deepInclude(drained, { stopCode: "ServiceSchedulerInitiated", stoppedReason: stopping.stoppedReason })
      assert.deepInclude(logs.find((l) => l.message === "waiting before exit"), {
        stopCode: "ServiceSchedulerInitiated"
      })
      // One DescribeTasks for the earlier drain (0 s), one for this task's own (9 s).
      assert.deepStrictEqual(calls.filter((c) => c.action === "DescribeTasks").map((c) => c.at), [0, 9 * s])
    }))

  it.effect("the wait line and the last line carry the stop reason, the delay and the time saved", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* start({ timeline: drainAt100 })
      yield* TestClock.setTime(108 * s + 120 * s)
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.deepInclude(drained, {
        stopCode: "ServiceSchedulerInitiated",
        stoppedReason: stopping.stoppedReason,
        secondsSaved: 153
      })
      assert.deepInclude(logs.find((l) => l.message === "waiting before exit"), {
        stopCode: "ServiceSchedulerInitiated",
        targetGroupDelaySeconds: 300,
        plan: "target group delay 300 s; exiting after 120 s"
      })
    }))

  it.effect("DRAIN_STRATEGY=connections: ConnectionsAtExit", () =>
    Effect.gen(function*() {
      const { fiber, metrics } = yield* start({
        timeline: drainAt100,
        settings: { drainStrategy: "connections", drainMinWaitSeconds: 10 },
        openConnections: 0
      })
      yield* TestClock.setTime(108 * s + 30 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.deepInclude(metrics.find((r) => r.event === "exit"), { ConnectionsAtExit: 0, DrainWaitSeconds: 10 })
    }))

  it.effect("poll failures and throttled polls: written at once, then at most once a minute while they last, and at the end", () =>
    Effect.gen(function*() {
      const { fiber, metrics, polls } = yield* start({
        settings: { pollingFrequencySeconds: 10 },
        timeline: [
          { at: 0, state: "healthy" },
          { at: 15 * s, error: "Throttling" },
          { at: 200 * s, state: "healthy" },
          { at: 300 * s, state: "draining" }
        ]
      })
      yield* TestClock.setTime(600 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 0)
      const problems = metrics.filter((r) => r.event === "poll-problems")
      for (const record of problems) assert.deepStrictEqual(emfProblems(record), [])
      assert.isAtLeast(problems.length, 2)
      const times = problems.map((r) => r._aws.Timestamp)
      times.slice(1).forEach((t, i) => assert.isAtLeast(t - (times[i] ?? 0), 60 * s))
      const counted = problems.reduce((n, r) => n + Number(r.PollFailures), 0)
      assert.strictEqual(
        counted,
        problems.reduce((n, r) => n + Number(r.ThrottledPolls), 0),
        "every failure here was throttling"
      )
      // Every throttled poll is in a record, the last ones in the one written at the end.
      assert.strictEqual(counted, polls().filter((c) => c.at >= 15 * s && c.at < 200 * s).length)
    }))

  it.effect("a failure not yet written when the task drains is written at the end", () =>
    Effect.gen(function*() {
      // Polls at 0, 9, 18 s (throttled: written at once), 36 s (throttled, within the minute), 72 s (healthy).
      const { fiber, metrics } = yield* start({
        settings: { pollingFrequencySeconds: 10, deregistrationWaitSeconds: 5 },
        unpaced: true,
        timeline: [{ at: 0, state: "healthy" }, { at: 15 * s, error: "Throttling" }, { at: 40 * s, state: "healthy" }, {
          at: 100 * s,
          state: "draining"
        }]
      })
      yield* TestClock.setTime(300 * s)
      expectFailure(fiber.pollUnsafe(), "Drained", 0)
      const problems = metrics.filter((r) => r.event === "poll-problems")
      assert.deepStrictEqual(problems.map((r) => r.ThrottledPolls), [1, 1])
      assert.strictEqual(problems[0]?._aws.Timestamp, 18 * s)
      // The second at the exit: draining seen at 108 s, 5 s of wait.
      assert.strictEqual(problems[1]?._aws.Timestamp, 113 * s)
    }))

  it.effect("denied optional calls (DescribeTargetGroupAttributes, DescribeTasks) are logged once each and change nothing else", () =>
    Effect.gen(function*() {
      const { fiber, metrics, logs } = yield* start({
        timeline: drainAt100,
        delay: { error: "AccessDenied" },
        describeTasksFails: true
      })
      yield* TestClock.setTime(108 * s + 120 * s)
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.isUndefined(drained.secondsSaved)
      const warnings = logs.filter((l) => l.level === "warn")
      assert.deepStrictEqual(warnings.map((l) => l.optionalPermission), [
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "ecs:DescribeTasks"
      ])
      assert.deepInclude(metrics.find((r) => r.event === "exit"), { DrainWaitSeconds: 120 })
      assert.isUndefined(metrics.find((r) => r.event === "exit")?.SecondsSaved)
    }))
})
