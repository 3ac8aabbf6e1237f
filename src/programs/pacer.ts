// The poll loop's pacing as it runs: what the next poll asks (ELBv2 for the
// targets, ECS for this task, or ELBv2 for the deregistration delay once the
// budget matters), the delay to it, and the one warning when the detection
// budget cannot be kept. The arithmetic is in pacing.ts.
import { Clock, Effect, Random } from "effect"
import type { AwsCallFailed } from "../errors.ts"
import {
  afterReading,
  budgetArithmetic,
  initialPacing,
  overdue,
  pace,
  type Pacing,
  pacingSettings,
  type Reading
} from "./pacing.ts"

/** How many times an unknown D is read again, at most. */
export const maxRereads = 5

/** The delay to the next poll, and what ECS said (undefined: it did not answer). */
export interface EcsReading {
  readonly delayMillis: number
  readonly stopping: boolean | undefined
}

export interface Pacer {
  /** What this poll asks: ELBv2 for the targets, ECS for this task, or ELBv2 for D (the budget's). */
  readonly turn: () => "elb" | "ecs" | "delay"
  /** Notes an ELBv2 poll's outcome; the delay to the next poll. */
  readonly afterElb: (reading: Reading) => Effect.Effect<number>
  /** One ECS reading, noted; the delay to the next poll (short, when ECS says the task is stopping), and what ECS said. */
  readonly readEcs: Effect.Effect<EcsReading>
  /** Reads D in one of ELBv2's turns; the delay to the next poll. */
  readonly delayTurn: Effect.Effect<number>
}

export const makePacer = Effect.fnUntraced(function*(input: {
  readonly pollingFrequencySeconds: number
  readonly deregistrationWaitSeconds: number
  /** ecs:DescribeTasks on this task; without it (or once it is denied), ELBv2 alone. */
  readonly isTaskStopping: Effect.Effect<boolean, AwsCallFailed> | undefined
  /** A startup call was throttled: ELBv2 starts backed off, as after a throttle. */
  readonly startedThrottled?: boolean
  /** Reads D, unknown until the budget matters (ELBv2 throttles): DescribeTargetGroupAttributes. */
  readonly readDelay?: Effect.Effect<number | undefined, AwsCallFailed> | undefined
}) {
  // D is unknown until read (see `readDelay`): the 4x cap stands in for the budget.
  let settings = pacingSettings({ ...input, deregistrationDelaySeconds: undefined })
  let reads = 0
  const startedAt = yield* Clock.currentTimeMillis
  let pacing: Pacing = initialPacing(settings, startedAt, input.isTaskStopping !== undefined)
  if (input.startedThrottled === true) {
    pacing = afterReading(settings, pacing, { outcome: "throttled", channel: "elb" }, startedAt)
  }
  let warned = false
  let stoppingLogged = false
  /** A reading has not gone through (a throttle, an error, on either channel): the budget matters from now on. */
  let troubled = input.startedThrottled === true

  const note = (reading: Reading): Effect.Effect<number> =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const r = yield* Random.next
      troubled ||= reading.outcome === "throttled" || reading.outcome === "failed"
      if (
        (reading.outcome === "throttled" || reading.outcome === "failed") && !warned && overdue(settings, pacing, now)
      ) {
        warned = true
        yield* Effect.logWarning("detection budget exceeded: the account's API buckets cannot carry this fleet").pipe(
          Effect.annotateLogs(budgetArithmetic(settings, pacing, now))
        )
      }
      const next = pace(settings, pacing, reading, now, r)
      pacing = next.pacing
      return next.delayMillis
    })

  const readEcs: Pacer["readEcs"] = Effect.suspend(() =>
    (input.isTaskStopping ?? Effect.succeed(false)).pipe(
      Effect.matchEffect({
        onSuccess: (stopping) =>
          stopping
            // Not a reading of this task's target: the confirmation on ELBv2 comes next, and soon.
            ? Effect.suspend(() => {
              const log = stoppingLogged ? Effect.logDebug : Effect.logInfo
              stoppingLogged = true
              return log("ECS is stopping this task: confirming with ELBv2")
            }).pipe(
              Effect.andThen(note({ outcome: "stopping", channel: "ecs" })),
              Effect.map((delayMillis): EcsReading => ({ delayMillis, stopping }))
            )
            : Effect.logDebug("ELBv2 throttled: ECS says this task runs").pipe(
              Effect.andThen(note({ outcome: "read", channel: "ecs" })),
              Effect.map((delayMillis): EcsReading => ({ delayMillis, stopping }))
            ),
        onFailure: (error) => {
          if (!error.retryable) pacing = { ...pacing, ecs: false }
          return Effect.logDebug("ECS reading failed").pipe(
            Effect.annotateLogs({ error: error.code, ecsChannel: pacing.ecs }),
            Effect.andThen(note({ outcome: error.throttled === true ? "throttled" : "failed", channel: "ecs" })),
            Effect.map((delayMillis): EcsReading => ({ delayMillis, stopping: undefined }))
          )
        }
      })
    )
  )

  /**
   * D is read once a reading did not go through (a throttle, an error): from then on the budget
   * bounds the back-off. Never at startup, with every other new task of a deployment. While ELBv2 is
   * backed off, in one of its turns (never the first, nor two in a row); otherwise right after an
   * ELBv2 reading that went through. A few times at most.
   */
  let lastTurn: "elb" | "ecs" | "delay" = "delay"
  const delayWanted = () =>
    troubled && input.readDelay !== undefined && settings.deregistrationDelaySeconds === undefined &&
    reads < maxRereads
  /** ELBv2 is backed off (ECS, if it can, reads in between): D can take one of its turns. */
  const inTurn = () => pacing.elbMillis > settings.baseMillis && !pacing.confirming && !pacing.settling

  /** Reads D; whether ELBv2 throttled it. */
  const readDelay: Effect.Effect<boolean> = Effect.suspend(() =>
    input.readDelay === undefined ? Effect.succeed(false) : input.readDelay.pipe(
      Effect.map((seconds) => {
        reads = seconds === undefined ? maxRereads : reads + 1
        settings = pacingSettings({ ...input, deregistrationDelaySeconds: seconds })
        return false
      }),
      Effect.catch((error) =>
        Effect.sync(() => {
          reads = error.retryable ? reads + 1 : maxRereads
          return error.throttled === true
        })
      )
    )
  )

  const pacer: Pacer = {
    turn: () => {
      lastTurn = pacing.ecs && pacing.next === "ecs"
        ? "ecs"
        : lastTurn !== "delay" && inTurn() && delayWanted()
        ? "delay"
        : "elb"
      return lastTurn
    },
    afterElb: (reading) =>
      note(reading).pipe(
        Effect.tap(() =>
          reading.outcome === "read" && !inTurn() && delayWanted()
            ? readDelay.pipe(
              Effect.flatMap((throttled) => throttled ? note({ outcome: "throttled", channel: "elb" }) : Effect.void)
            )
            : Effect.void
        )
      ),
    readEcs,
    delayTurn: readDelay.pipe(
      Effect.flatMap((throttled) => note({ outcome: throttled ? "throttled" : "aside", channel: "elb" }))
    )
  }
  return pacer
})
