// A control-plane brownout at startup never ends the sidecar; STARTUP_TIMEOUT
// counts from process start and bounds the metadata endpoint, whatever a
// request's own timeout.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Config } from "../src/layers/Config.ts"
import { Ecs } from "../src/layers/Ecs.ts"
import { Metadata, MetadataGet } from "../src/layers/Metadata.ts"
import { Startup } from "../src/layers/Startup.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { captureLogs } from "./support/logs.ts"
import {
  awsError,
  type Call,
  ecsService,
  fixedRandom,
  ipGroup,
  testLayer,
  tgArn,
  webLoadBalancer
} from "./support/mocks.ts"
import { partialService } from "./support/partialService.ts"

const web = tgArn("web")
const s = 1000

/** ECS answering DescribeServices with `failure` until `until` ms of virtual time, then normally. */
const ecsBrownout = (
  until: number,
  calls: Array<Call>,
  failure: Effect.Effect<never, ReturnType<typeof awsError>> = Effect.fail(
    awsError("ecs:DescribeServices", "ThrottlingException", true)
  )
) =>
  Ecs.layerTest(partialService(Ecs, {
    describeService: () =>
      Clock.currentTimeMillis.pipe(Effect.flatMap((at) => {
        calls.push({ at, action: "DescribeServices" })
        return at < until ? failure : Effect.succeed(ecsService([webLoadBalancer]))
      }))
  }))

const startSidecar = (ecs: Layer.Layer<Ecs>) =>
  Effect.gen(function*() {
    const world = testLayer({
      settings: { startupTimeoutSeconds: 60, pollingFrequencySeconds: 30 },
      ecsLayer: ecs,
      elb: { timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)] },
      random: 0.5
    })
    const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
    return { fiber, logs: world.logs, polls: world.polls }
  })

describe("startup through an AWS brownout", () => {
  it.effect("throttling never ends it: a capped back-off four times the ordinary one (2 s doubling, capped at 40 s), an error line at STARTUP_TIMEOUT and every 5 minutes, watching within seconds of AWS answering", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const { fiber, logs, polls } = yield* startSidecar(ecsBrownout(10 * 60 * s, calls))
      const stillNotWatching = () =>
        logs.filter((l) => l.message === "still not watching: startup keeps failing; retrying")

      yield* TestClock.adjust(Duration.seconds(59))
      assert.deepStrictEqual(stillNotWatching(), [], "no error line before STARTUP_TIMEOUT")
      yield* TestClock.adjust(Duration.seconds(1))
      assert.strictEqual(stillNotWatching().length, 1)
      assert.deepInclude(stillNotWatching()[0], {
        level: "error",
        failing: "ecs:DescribeServices",
        startupTimeoutSeconds: 60
      })
      assert.include(String(stillNotWatching()[0]?.error), "ThrottlingException")

      yield* TestClock.adjust(Duration.minutes(5))
      assert.strictEqual(stillNotWatching().length, 2)
      assert.isUndefined(fiber.pollUnsafe(), "a brownout never ends the sidecar")

      // A throttle means the account is busy: 2 s doubling to a 40 s cap, full jitter pinned at 0.5.
      const services = calls.filter((c) => c.action === "DescribeServices").map((c) => c.at)
      const gaps = services.slice(1).map((t, i) => t - (services[i] ?? 0))
      assert.deepStrictEqual(gaps.slice(0, 7), [1000, 2000, 4000, 8000, 16000, 20000, 20000])
      assert.isTrue(gaps.every((g) => g <= 20000))

      // AWS answers again at 10 min: discovery completes and polling starts within one back-off step.
      yield* TestClock.adjust(Duration.minutes(5))
      const firstPoll = polls()[0]
      assert.isDefined(firstPoll)
      assert.isAtMost((firstPoll?.at ?? Infinity) - 10 * 60 * s, 20 * s + 1 * s)
      assert.isTrue(logs.some((l) => l.message === "watching targets"))
      const errorsAfterWatching = stillNotWatching().filter((l) => Date.parse(String(l.time)) >= 10 * 60 * s)
      assert.deepStrictEqual(errorsAfterWatching, [], "the report stops once watching")
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a request that hangs does not delay the error line past STARTUP_TIMEOUT", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const { fiber, logs } = yield* startSidecar(ecsBrownout(Infinity, calls, Effect.never))
      yield* TestClock.adjust(Duration.seconds(60))
      assert.isTrue(
        logs.some((l) => l.level === "error" && l.message === "still not watching: startup keeps failing; retrying")
      )
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("a permanent refusal still ends it at once (exit 5)", () =>
    Effect.gen(function*() {
      const calls: Array<Call> = []
      const { fiber } = yield* startSidecar(
        ecsBrownout(Infinity, calls, Effect.fail(awsError("ecs:DescribeServices", "AccessDeniedException", false)))
      )
      yield* TestClock.adjust(Duration.millis(1))
      expectFailure(fiber.pollUnsafe(), "AwsCallFailed", 5)
    }))
})

describe("STARTUP_TIMEOUT counts from process start", () => {
  /** A metadata endpoint whose requests never answer. */
  const hangingHttp = Layer.succeed(MetadataGet, () => Effect.never)

  it.effect("a metadata request that hangs is cut at the deadline (less the time the process ran before), not after its own 5 s timeout", () =>
    Effect.gen(function*() {
      const settings = Config.layerTest({ metadataUri: "http://169.254.170.2/v4/abc", startupTimeoutSeconds: 3 })
      // The process had run 1 s (loading its code) when the layers were built.
      const layer = Metadata.layerNoDeps.pipe(
        Layer.provide([hangingHttp, Startup.make(Duration.seconds(1)).pipe(Layer.provideMerge(settings))]),
        Layer.provideMerge(Layer.mergeAll(fixedRandom(0.5), captureLogs().layer))
      )
      const fiber = yield* Effect.forkChild(Effect.exit(
        Effect.gen(function*() {
          return yield* (yield* Metadata).task
        }).pipe(Effect.provide(layer))
      ))
      yield* TestClock.adjust(Duration.millis(1999))
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(Duration.millis(1))
      assert.include(
        expectFailure(yield* Fiber.join(fiber), "MetadataUnavailable", 3).message,
        "no usable answer within STARTUP_TIMEOUT=3s"
      )
    }))
})
