// The poll loop: one DescribeTargetHealth per target group per poll, until a
// watched target is deregistering. No API failure ends it.
import { Duration, Effect, Random, Schedule } from "effect"
import { type TargetObservation, targetKey, type WatchedTarget } from "../domain.ts"
import { Config } from "../layers/Config.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { collectGarbageEvery, exposedGc, pollsPerCollection } from "../heap.ts"
import { PollTiming } from "../retry.ts"
import { hasChanged, initialMemory, isDeregistering, remember, type TargetMemory } from "./deregistration.ts"

export interface PollResult {
  /** The first deregistering target seen by this poll, if any. */
  readonly deregistering: TargetObservation | undefined
  /** Polls in a row in which at least one target group could not be read. */
  readonly consecutiveFailures: number
}

const annotationsOf = (o: TargetObservation) => ({
  targetGroupArn: o.target.targetGroupArn,
  targetId: o.target.id,
  port: o.target.port,
  state: o.state,
  reason: o.reason ?? null
})

export const groupByTargetGroup = (targets: ReadonlyArray<WatchedTarget>): ReadonlyArray<readonly [string, ReadonlyArray<WatchedTarget>]> => {
  const groups = new Map<string, Array<WatchedTarget>>()
  for (const t of targets) groups.set(t.targetGroupArn, [...(groups.get(t.targetGroupArn) ?? []), t])
  return [...groups]
}

export const watchUntilDeregistering = (targets: ReadonlyArray<WatchedTarget>) =>
  Effect.gen(function*() {
    const settings = yield* Config
    const elb = yield* TargetHealth
    const timing = yield* PollTiming
    const groups = groupByTargetGroup(targets)
    const memory = new Map<string, TargetMemory>()
    let consecutiveFailures = 0

    const observe = (o: TargetObservation) =>
      Effect.gen(function*() {
        const key = targetKey(o.target)
        const before = memory.get(key) ?? (o.target.registered === true ? { ...initialMemory, registeredSeen: true } : initialMemory)
        const deregistering = isDeregistering(before, o)
        memory.set(key, remember(before, o))
        const log = deregistering || hasChanged(before, o)
          ? Effect.logInfo(deregistering ? "target is deregistering" : "target state changed")
          : Effect.logDebug("target state unchanged")
        yield* log.pipe(Effect.annotateLogs(annotationsOf(o)))
        return deregistering
      })

    const pollGroup = ([targetGroupArn, groupTargets]: readonly [string, ReadonlyArray<WatchedTarget>]) =>
      elb.poll(targetGroupArn, groupTargets).pipe(
        Effect.flatMap((observations) =>
          Effect.forEach(observations, (o) => observe(o).pipe(Effect.map((d) => (d ? o : undefined))))
        ),
        Effect.map((found) => ({ ok: true as const, deregistering: found.find((o) => o !== undefined) })),
        Effect.catch((error) =>
          Effect.logWarning("poll failed").pipe(
            Effect.annotateLogs({
              targetGroupArn,
              error: error.code,
              detail: error.detail,
              requestId: error.requestId ?? null,
              consecutiveFailures: consecutiveFailures + 1
            }),
            Effect.as({ ok: false as const, deregistering: undefined })
          )
        )
      )

    const afterPoll = collectGarbageEvery(pollsPerCollection, exposedGc)
    const poll: Effect.Effect<PollResult> = Effect.forEach(groups, pollGroup, { concurrency: "unbounded" }).pipe(
      Effect.map((results): PollResult => {
        consecutiveFailures = results.every((r) => r.ok) ? 0 : consecutiveFailures + 1
        return { deregistering: results.find((r) => r.deregistering !== undefined)?.deregistering, consecutiveFailures }
      }),
      Effect.tap(() => afterPoll)
    )

    const schedule = Schedule.spaced(Duration.seconds(settings.pollingFrequencySeconds)).pipe(
      Schedule.setInputType<PollResult>(),
      Schedule.modifyDelay(({ input }) =>
        Random.next.pipe(Effect.map((r) => timing.delayMillis(settings.pollingFrequencySeconds, input.consecutiveFailures, r)))
      )
    )

    const firstDelay = timing.firstDelayMillis(settings.pollingFrequencySeconds, yield* Random.next)
    yield* Effect.logDebug("first poll scheduled").pipe(Effect.annotateLogs({ inMs: Math.round(firstDelay) }))
    yield* Effect.sleep(Duration.millis(firstDelay))
    const last = yield* Effect.repeat(poll, { schedule, until: (r) => r.deregistering !== undefined })
    // `until` guarantees it; the type cannot say so.
    return last.deregistering as TargetObservation
  })
