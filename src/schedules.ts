// Every schedule the sidecar runs on, in one place: startup retries (the SDK
// clients never retry on their own, see src/aws/callAws.ts) and the poll loop's
// spacing.
import { Context, Duration, Effect, Random, Ref, Schedule } from "effect"
import type { AwsCallFailed, MetadataUnavailable } from "./errors.ts"
import { Startup, type StartupFailure } from "./layers/Startup.ts"

/** 0.5 s doubling, capped at 10 s; each delay drawn at random below that (full jitter). */
export const startupBackoff = Schedule.min([Schedule.exponential("500 millis"), Schedule.spaced("10 seconds")]).pipe(
  Schedule.modifyDelay(({ duration }) => Random.nextBetween(0, Duration.toMillis(duration)))
)

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
          Schedule.tap(({ input, duration, attempt }) =>
            Ref.set(startup.lastFailure, { what, error: input }).pipe(
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

/** The first poll lands within [0, min(2 s, interval)]: tasks started together by one deployment drift apart. */
export const firstPollDelayMillis = (intervalSeconds: number, random01: number): number =>
  Math.min(2_000, intervalSeconds * 1000) * random01

/** The interval, times 2^failures while polls keep failing (at most 4x), then ±10% jitter. */
export const pollScale = (consecutiveFailures: number, random01: number): number =>
  Math.min(2 ** consecutiveFailures, 4) * (0.9 + 0.2 * random01)

/**
 * The poll timing as a replaceable reference, so that the fleet simulation can
 * compare it with naive fixed-interval polling.
 */
export const PollTiming = Context.Reference<{
  readonly firstDelayMillis: (intervalSeconds: number, random01: number) => number
  readonly scale: (consecutiveFailures: number, random01: number) => number
  /** AIMD, the detection budget and ECS after an ELBv2 throttle (src/programs/pacing.ts); false only to compare. */
  readonly paced?: boolean
}>("nlb-sidecar/PollTiming", {
  defaultValue: () => ({ firstDelayMillis: firstPollDelayMillis, scale: pollScale, paced: true })
})

/** What a poll tells the schedule. */
export interface PollOutcome {
  /** Something is leaving: the loop ends. */
  readonly done: boolean
  /** A target read as not registered once: the next poll comes at once to confirm it. */
  readonly confirming: boolean
  /** Polls in a row in which at least one target group could not be read. */
  readonly consecutiveFailures: number
  /** The loop's own pacing (src/programs/pacing.ts): the delay to the next poll, when it sets one. */
  readonly delayMillis?: number | undefined
}

/** A confirming poll comes this soon: ELBv2's eventual consistency settles within about a second. */
export const confirmAfterMillis = 1_000

/**
 * The poll loop's schedule, first poll included (the initial input is
 * `undefined`): POLLING_FREQUENCY, scaled by back-off and jitter; a confirming
 * poll a second later; until a poll is done. Its output is the last poll's.
 */
export const pollSchedule = <A extends PollOutcome>(intervalSeconds: number) =>
  Effect.gen(function*() {
    const timing = yield* PollTiming
    return Schedule.spaced(Duration.seconds(intervalSeconds)).pipe(
      Schedule.setInputType<A | undefined>(),
      Schedule.modifyDelay(({ input, duration }) =>
        Random.next.pipe(Effect.flatMap((r) =>
          input === undefined
            ? Effect.succeed(timing.firstDelayMillis(intervalSeconds, r)).pipe(
              Effect.tap((inMs) =>
                Effect.logDebug("first poll scheduled").pipe(Effect.annotateLogs({ inMs: Math.round(inMs) }))
              )
            )
            : Effect.succeed(
              input.confirming && input.consecutiveFailures === 0
                ? Math.min(confirmAfterMillis, Duration.toMillis(duration))
                : input.delayMillis ?? Duration.toMillis(duration) * timing.scale(input.consecutiveFailures, r)
            )
        ))
      ),
      Schedule.while(({ input }) => input === undefined || !input.done),
      Schedule.passthrough
    )
  })
