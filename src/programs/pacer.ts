// The poll loop's pacing as it runs: which channel reads next (ELBv2, or ECS
// after an ELBv2 throttle), the delay to the next poll, and the one warning
// when the detection budget cannot be kept. The arithmetic is in pacing.ts.
import { Clock, Effect, Random } from "effect"
import type { AwsCallFailed } from "../errors.ts"
import {
  afterReading,
  budgetArithmetic,
  initialPacing,
  nextDelayMillis,
  overdue,
  type Pacing,
  pacingSettings,
  type Reading
} from "./pacing.ts"

/** How many times an unknown D is read again, at most. */
export const maxRereads = 5

export interface Pacer {
  /** This poll asks ECS (DescribeTasks on this task) instead of ELBv2. */
  readonly ecsTurn: () => boolean
  /** Notes an ELBv2 poll's outcome; the delay to the next poll. */
  readonly afterElb: (reading: Reading) => Effect.Effect<number>
  /** One ECS reading, noted; the delay to the next poll (short, when ECS says the task is stopping). */
  readonly readEcs: Effect.Effect<number>
}

export const makePacer = Effect.fnUntraced(function*(input: {
  readonly pollingFrequencySeconds: number
  readonly deregistrationWaitSeconds: number
  readonly deregistrationDelaySeconds: number | undefined
  /** ecs:DescribeTasks on this task; without it (or once it is denied), ELBv2 alone. */
  readonly isTaskStopping: Effect.Effect<boolean, AwsCallFailed> | undefined
  /** Reads D again (DescribeTargetGroupAttributes), when it could not be read at startup. */
  readonly rereadDelay?: Effect.Effect<number | undefined, AwsCallFailed> | undefined
}) {
  let settings = pacingSettings(input)
  let rereads = 0
  let pacing: Pacing = initialPacing(settings, yield* Clock.currentTimeMillis)
  let ecsChannel = input.isTaskStopping !== undefined
  let warned = false
  let stoppingLogged = false

  const note = (reading: Reading): Effect.Effect<number> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const r = yield* Random.next
      if (reading.outcome !== "read" && !warned && overdue(settings, pacing, now)) {
        warned = true
        yield* Effect.logWarning("detection budget exceeded: the account's API buckets cannot carry this fleet").pipe(
          Effect.annotateLogs(budgetArithmetic(settings, pacing, now))
        )
      }
      pacing = afterReading(settings, pacing, reading, now)
      return nextDelayMillis(settings, pacing, reading, now, r)
    })

  const readEcs: Effect.Effect<number> = Effect.suspend(() =>
    (input.isTaskStopping ?? Effect.succeed(false)).pipe(
      Effect.matchEffect({
        onSuccess: (stopping) =>
          stopping
            // Not a reading of this task's target: the confirmation on ELBv2 comes next, and soon.
            ? Effect.suspend(() => {
              const log = stoppingLogged ? Effect.logDebug : Effect.logInfo
              stoppingLogged = true
              return log("ECS is stopping this task: confirming with ELBv2")
            }).pipe(Effect.andThen(note({ outcome: "stopping", channel: "ecs" })))
            : Effect.logDebug("ELBv2 throttled: ECS says this task runs").pipe(
              Effect.andThen(note({ outcome: "read", channel: "ecs" }))
            ),
        onFailure: (error) => {
          if (!error.retryable) ecsChannel = false
          return Effect.logDebug("ECS reading failed").pipe(
            Effect.annotateLogs({ error: error.code, ecsChannel }),
            Effect.andThen(note({ outcome: error.throttled === true ? "throttled" : "failed", channel: "ecs" }))
          )
        }
      })
    )
  )

  const pacer: Pacer = {
    ecsTurn: () => ecsChannel && pacing.ecsNext,
    afterElb: (reading) =>
      note(reading).pipe(
        Effect.tap(() =>
          // D unknown (throttled at startup, say): read again after an ELBv2 reading that went through, a few times.
          reading.outcome !== "read" || settings.deregistrationDelaySeconds !== undefined ||
            input.rereadDelay === undefined || rereads >= maxRereads
            ? Effect.void
            : input.rereadDelay.pipe(
              Effect.tap((seconds) =>
                Effect.sync(() => {
                  rereads = seconds === undefined ? maxRereads : rereads + 1
                  settings = pacingSettings({ ...input, deregistrationDelaySeconds: seconds })
                })
              ),
              Effect.catch((error) =>
                Effect.sync(() => {
                  rereads = error.retryable ? rereads + 1 : maxRereads
                })
              )
            )
        )
      ),
    readEcs
  }
  return pacer
})
