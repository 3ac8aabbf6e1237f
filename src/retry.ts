// Retry policies, in one place: the SDK clients never retry on their own
// (see src/layers/aws.ts), so every retry the sidecar makes is one of these.
import { Context, Duration, Effect, Random, Schedule } from "effect"

interface Retryable {
  readonly retryable: boolean
  readonly message: string
}

const startupBase = Duration.millis(500)
const startupCap = Duration.seconds(10)

/**
 * Startup calls (metadata, discovery): exponential backoff from 0.5 s with
 * full jitter, capped at 10 s, for retryable failures only, while less than
 * `timeoutSeconds` have passed. Permanent failures end at once.
 */
export const retryDuringStartup = (what: string, timeoutSeconds: number) =>
<A, E extends Retryable, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  self.pipe(
    Effect.retry(
      Schedule.exponential(startupBase).pipe(
        // Full jitter, and never sleeping past the deadline.
        Schedule.modifyDelay(({ duration, elapsed }) =>
          Random.nextBetween(0, Duration.toMillis(Duration.min(duration, startupCap))).pipe(
            Effect.map((ms) => Math.max(0, Math.min(ms, timeoutSeconds * 1000 - elapsed)))
          )
        ),
        Schedule.setInputType<E>(),
        Schedule.while(({ input, elapsed }) => input.retryable && elapsed < timeoutSeconds * 1000),
        Schedule.tap(({ input, duration, attempt }) =>
          Effect.logWarning(`${what} failed, retrying`).pipe(
            Effect.annotateLogs({ error: input.message, attempt, retryInMs: Math.round(Duration.toMillis(duration)) })
          )
        )
      )
    ),
    Effect.tapError((error) =>
      error.retryable
        ? Effect.logWarning(`${what}: giving up after STARTUP_TIMEOUT=${timeoutSeconds}s`)
        : Effect.void
    )
  )

/**
 * Poll spacing: the interval, times 2^failures while polls keep failing
 * (at most 4x), then ±10% jitter so that tasks started together by one
 * deployment drift apart instead of polling ELBv2 in lock-step.
 */
export const pollDelayMillis = (intervalSeconds: number, consecutiveFailures: number, random01: number): number => {
  const backoff = Math.min(2 ** consecutiveFailures, 4)
  return intervalSeconds * 1000 * backoff * (0.9 + 0.2 * random01)
}

/** The first poll lands within [0, min(2 s, interval)] for the same reason. */
export const firstPollDelayMillis = (intervalSeconds: number, random01: number): number =>
  Math.min(2_000, intervalSeconds * 1000) * random01

/**
 * The poll timing as a replaceable reference, so that the fleet simulation can
 * compare it with naive fixed-interval polling.
 */
export const PollTiming = Context.Reference<{
  readonly firstDelayMillis: (intervalSeconds: number, random01: number) => number
  readonly delayMillis: (intervalSeconds: number, consecutiveFailures: number, random01: number) => number
}>("nlb-sidecar/PollTiming", {
  defaultValue: () => ({ firstDelayMillis: firstPollDelayMillis, delayMillis: pollDelayMillis })
})
