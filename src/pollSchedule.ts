// The poll loop's spacing: the first poll's delay, back-off and jitter, and the
// quick confirming poll. Startup calls retry on their own back-off
// (src/layers/Startup.ts).
import { Context, Duration, Effect, Random, Schedule } from "effect"

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
