// STARTUP_TIMEOUT, counted from process start on the monotonic clock: how long
// the metadata endpoint is tried before exit 3, and when a start that AWS keeps
// failing is reported at error level (the sidecar itself goes on trying). And
// how every startup call retries: the SDK clients never retry on their own
// (see src/aws/callAws.ts).
import { Clock, Context, Duration, Effect, Layer, Random, Ref, Schedule } from "effect"
import type { AwsCallFailed, MetadataUnavailable } from "../errors.ts"
import { Config } from "./Config.ts"

/** A transient failure during startup, kept for the report of a slow start. */
export interface StartupFailure {
  readonly what: string
  readonly error: AwsCallFailed | MetadataUnavailable
}

export class Startup extends Context.Service<Startup, {
  readonly timeoutSeconds: number
  /** What is left of STARTUP_TIMEOUT; zero once it has passed. */
  readonly remaining: Effect.Effect<Duration.Duration>
  readonly lastFailure: Ref.Ref<StartupFailure | undefined>
  /** Whether a startup call was throttled: the account is busy, and the poll loop starts backed off. */
  readonly metThrottle: Ref.Ref<boolean>
}>()("nlb-sidecar/Startup") {
  /** `alreadyRunning`: how long the process had run before the layer was built (loading its code). */
  static readonly make = (alreadyRunning: Duration.Duration) =>
    Layer.effect(
      Startup,
      Effect.gen(function*() {
        const { startupTimeoutSeconds } = yield* Config
        const deadline = (yield* Clock.monotonicTimeNanos) + BigInt(startupTimeoutSeconds) * 1_000_000_000n -
          Duration.toNanosUnsafe(alreadyRunning)
        const remaining = Clock.monotonicTimeNanos.pipe(
          Effect.map((now) => (now >= deadline ? Duration.zero : Duration.nanos(deadline - now)))
        )
        return {
          timeoutSeconds: startupTimeoutSeconds,
          remaining,
          lastFailure: yield* Ref.make<StartupFailure | undefined>(undefined),
          metThrottle: yield* Ref.make(false)
        }
      })
    )

  static readonly layer = Layer.suspend(() => Startup.make(Duration.seconds(process.uptime())))

  /** Starts counting when the layer is built: at virtual time 0 in TestClock tests. */
  static readonly layerTest = Startup.make(Duration.zero)
}

/** 0.5 s doubling, capped at 10 s; each delay drawn at random below that (full jitter). */
export const startupBackoff = Schedule.min([Schedule.exponential("500 millis"), Schedule.spaced("10 seconds")]).pipe(
  Schedule.modifyDelay(({ duration }) => Random.nextBetween(0, Duration.toMillis(duration)))
)

/**
 * After a throttle the account is busy: the ceiling is 4x (2 s doubling,
 * capped at 40 s), still full jitter and never giving up, so a deployment's
 * sidecars spread their retries instead of refilling the bucket together.
 */
export const throttledDelayMs = (attempt: number): number => Math.min(2_000 * 2 ** Math.max(0, attempt - 1), 40_000)

const isThrottle = (error: AwsCallFailed | MetadataUnavailable): boolean =>
  "throttled" in error && error.throttled === true

/**
 * A startup call: transient failures (throttling, 5xx, network, timeouts) are
 * retried on the back-off for as long as it takes, because an AWS brownout
 * must not end a healthy task; permanent ones (access denied, not found) end
 * at once. Each retry is logged and remembered for the report of a slow start.
 */
export const retryTransient = (what: string) =>
<A, E extends AwsCallFailed | MetadataUnavailable, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | Startup> =>
  Effect.gen(function*() {
    const startup = yield* Startup
    return yield* self.pipe(
      Effect.retry(
        startupBackoff.pipe(
          Schedule.setInputType<E>(),
          Schedule.while(({ input }) => input.retryable),
          Schedule.modifyDelay(({ attempt, duration, input }) =>
            isThrottle(input)
              ? Random.nextBetween(0, throttledDelayMs(attempt))
              : Effect.succeed(duration)
          ),
          Schedule.tap(({ input, duration, attempt }) =>
            Ref.set(startup.lastFailure, { what, error: input }).pipe(
              Effect.andThen(isThrottle(input) ? Ref.set(startup.metThrottle, true) : Effect.void),
              Effect.andThen(Effect.logWarning(`${what} failed, retrying`)),
              Effect.annotateLogs({
                error: input.message,
                attempt,
                retryInMs: Math.round(Duration.toMillis(duration))
              })
            )
          )
        )
      )
    )
  })

/**
 * Ends whatever is still running when STARTUP_TIMEOUT is over (from process
 * start, whatever a request's own timeout), failing with `orElse`'s error,
 * given the last transient failure.
 */
export const withinStartupTimeout =
  <E2>(orElse: (last: StartupFailure | undefined, timeoutSeconds: number) => E2) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | E2, R | Startup> =>
    Effect.gen(function*() {
      const startup = yield* Startup
      return yield* self.pipe(Effect.timeoutOrElse({
        duration: yield* startup.remaining,
        orElse: () =>
          Ref.get(startup.lastFailure).pipe(Effect.flatMap((last) => Effect.fail(orElse(last, startup.timeoutSeconds))))
      }))
    })

/** How often a start that AWS keeps failing is reported again, after STARTUP_TIMEOUT. */
export const slowStartReportEvery = Duration.minutes(5)

/**
 * At STARTUP_TIMEOUT, and every few minutes after, an error line that the
 * sidecar is not watching yet and why. It goes on trying: only evidence that
 * the task is leaving ends it, never an AWS brownout.
 */
export const reportSlowStart = Effect.gen(function*() {
  const startup = yield* Startup
  yield* Effect.sleep(yield* startup.remaining)
  const report = Ref.get(startup.lastFailure).pipe(
    Effect.flatMap((last) =>
      Effect.logError("still not watching: startup keeps failing; retrying").pipe(Effect.annotateLogs({
        startupTimeoutSeconds: startup.timeoutSeconds,
        failing: last?.what ?? null,
        error: last?.error.message ?? null
      }))
    )
  )
  yield* Effect.repeat(report, Schedule.spaced(slowStartReportEvery))
})
