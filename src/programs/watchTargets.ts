// The poll loop: one DescribeTargetHealth per target group per poll, until a
// watched target is leaving. No API failure ends it.
import { Clock, Effect, Schedule } from "effect"
import {
  isUnregistered,
  readTargets,
  targetKey,
  type TargetObservation,
  type TargetSearch,
  type WatchedTarget
} from "../domain.ts"
import type { AwsCallFailed } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { type PollOutcome, pollSchedule } from "../schedules.ts"
import { hasChanged, initialMemory, judge, type TargetMemory, type Verdict } from "./deregistration.ts"

/** Target groups read at the same time, at most: each is one request from the account's shared ELBv2 budget. */
export const pollConcurrency = 5

/** One target group as the loop sees it: this task's targets there, or how to find them. */
export interface WatchedGroup {
  readonly targetGroupArn: string
  readonly targets: ReadonlyArray<WatchedTarget>
  /** TARGET_GROUP_ARNS, while `targets` is empty: list the group and pick this task's registrations. */
  readonly search: TargetSearch | undefined
}

export interface PollResult extends PollOutcome {
  /** Targets this poll found leaving (draining, or not registered twice, after an own state). */
  readonly leaving: ReadonlyArray<TargetObservation>
}

const annotationsOf = (o: TargetObservation) => ({
  targetGroupArn: o.target.targetGroupArn,
  targetId: o.target.id,
  port: o.target.port,
  state: o.state,
  reason: o.reason ?? null
})

export const watchedGroups = (
  targets: ReadonlyArray<WatchedTarget>,
  searches: ReadonlyArray<TargetSearch> = []
): ReadonlyArray<WatchedGroup> => {
  const groups = new Map<string, WatchedGroup>()
  for (const t of targets) {
    const group = groups.get(t.targetGroupArn)
    groups.set(t.targetGroupArn, {
      targetGroupArn: t.targetGroupArn,
      targets: [...(group?.targets ?? []), t],
      search: undefined
    })
  }
  for (const s of searches) {
    if (!groups.has(s.targetGroupArn)) {
      groups.set(s.targetGroupArn, { targetGroupArn: s.targetGroupArn, targets: [], search: s })
    }
  }
  return [...groups.values()]
}

/**
 * One reading of one group: the watched targets by name; a group still searched
 * for by an unfiltered listing, where this task's registrations (if any) are
 * the readings, and from then on the targets.
 */
export const readGroup = (elb: TargetHealth["Service"], group: WatchedGroup): Effect.Effect<
  { readonly group: WatchedGroup; readonly observations: ReadonlyArray<TargetObservation> },
  AwsCallFailed
> => {
  const { search } = group
  return search === undefined || group.targets.length > 0
    ? elb.poll(group.targetGroupArn, group.targets).pipe(Effect.map((observations) => ({ group, observations })))
    : elb.listTargets(group.targetGroupArn).pipe(Effect.map((registered) => {
      const ours = registered.filter((r) => search.isOurs(r.id, r.port))
      const targets = [...new Map(ours.map((r) => [`${r.id}|${r.port}`, r])).values()].map((r): WatchedTarget => ({
        targetGroupArn: group.targetGroupArn,
        id: r.id,
        port: r.port,
        containerName: search.containerName,
        containerPort: r.port
      }))
      const { observations } = readTargets(targets, ours)
      return {
        group: observations.length === 0 ? group : { ...group, targets: observations.map((o) => o.target) },
        observations
      }
    }))
}

const messages: Record<Verdict, string> = {
  leaving: "target is deregistering",
  confirm: "target reads as not registered: confirming with one more poll",
  predecessor: "target still draining from an earlier task",
  watching: "target state changed"
}

/** How long ECS's word that this task is running holds while a drain looks like an earlier task's. */
export const askEcsAgainAfterMillis = 60_000

export interface WatchOptions {
  /** TARGET_GROUP_ARNS: groups where this task's target is still to be found. */
  readonly searches?: ReadonlyArray<TargetSearch>
  /**
   * ecs:DescribeTasks on this task: settles a drain seen before any own state,
   * an earlier task's drain, or this task's own when ECS had already decided to
   * stop it (its polls failed all along, say).
   */
  readonly isTaskStopping?: Effect.Effect<boolean, AwsCallFailed>
  /** Told of each group that could not be read (for the PollFailures metric). */
  readonly onPollFailed?: (targetGroupArn: string, error: AwsCallFailed) => Effect.Effect<void>
}

/** One target's reading in one poll, as the loop judged it. */
export interface Judged {
  readonly o: TargetObservation
  readonly verdict: Verdict
}

export interface WatchPollResult extends PollResult {
  /** Every reading of this poll (the groups that could be read). */
  readonly judged: ReadonlyArray<Judged>
}

/**
 * The poll loop over the task's targets: `untilLeaving` polls until a target
 * is leaving and returns what that poll found leaving; `whileWaiting` goes on
 * from there at the usual interval (still one call per group per poll), each
 * change logged once, and hands each poll to `onPoll` until it is interrupted.
 */
export const watchTargets = Effect.fn("watchTargets")(function*(
  targets: ReadonlyArray<WatchedTarget>,
  { isTaskStopping = Effect.succeed(false), onPollFailed = () => Effect.void, searches = [] }: WatchOptions = {}
) {
  const settings = yield* Config
  const elb = yield* TargetHealth
  let groups = watchedGroups(targets, searches)
  const memory = new Map<string, TargetMemory>()
  const searchLogged = new Set<string>()
  // Targets whose leaving was logged: a target that stays leaving is logged once.
  const leavingLogged = new Set<string>()
  // When each target was last read in service (an own state): its deregistration began after that.
  const inServiceAt = new Map<string, number>()
  let consecutiveFailures = 0

  // ECS's last word on this task: asked again after a while, or at once after a transient failure.
  let ecsWord: { readonly at: number; readonly stopping: boolean; readonly said: string } | undefined
  const askEcs = Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    if (ecsWord !== undefined && now - ecsWord.at < askEcsAgainAfterMillis) return ecsWord
    const answer = yield* isTaskStopping.pipe(
      Effect.map((stopping) => ({
        at: now,
        stopping,
        said: stopping ? "ECS is stopping this task" : "ECS says this task is running"
      })),
      Effect.catch((error) =>
        Effect.succeed(
          error.retryable ? undefined : { at: now, stopping: false, said: `cannot ask ECS (${error.code}): waited out` }
        )
      )
    )
    ecsWord = answer
    return answer ?? { at: now, stopping: false, said: "ECS did not answer: asked again at the next poll" }
  })

  const observe = (o: TargetObservation) =>
    Effect.gen(function*() {
      const key = targetKey(o.target)
      const before = memory.get(key) ?? initialMemory
      const judged = judge(before, o)
      const word = judged.verdict === "predecessor" ? yield* askEcs : undefined
      const verdict: Verdict = word?.stopping === true ? "leaving" : judged.verdict
      memory.set(key, judged.memory)
      if (verdict === "watching" && judged.memory.ownStateSeen && !isUnregistered(o)) {
        inServiceAt.set(key, yield* Clock.currentTimeMillis)
      }
      const changed = hasChanged(before, o)
      const wasLeaving = leavingLogged.has(key)
      if (verdict === "leaving") leavingLogged.add(key)
      else if (verdict === "watching") leavingLogged.delete(key)
      // Each change is logged once: the predecessor's drain however long it lasts, a drain however many polls see it.
      const quiet = verdict === "predecessor"
        ? before.predecessorLogged
        : verdict === "leaving"
        ? wasLeaving && !changed
        : verdict === "watching" && !changed
      const message = verdict === "watching" && wasLeaving
        ? "target is registered again after it was seen leaving: an exit already decided stands"
        : messages[verdict]
      yield* (quiet ? Effect.logDebug("target state unchanged") : Effect.logInfo(message)).pipe(
        Effect.annotateLogs({ ...annotationsOf(o), ...(word === undefined ? {} : { evidence: word.said }) })
      )
      return verdict
    })

  const pollGroup = (group: WatchedGroup) =>
    readGroup(elb, group).pipe(
      Effect.tap(({ group: read }) => {
        if (read.targets.length > 0) return Effect.void
        const first = !searchLogged.has(read.targetGroupArn)
        searchLogged.add(read.targetGroupArn)
        return (first ? Effect.logInfo : Effect.logDebug)("waiting for this task to be registered").pipe(
          Effect.annotateLogs({ targetGroupArn: read.targetGroupArn })
        )
      }),
      Effect.flatMap(({ group: read, observations }) =>
        Effect.forEach(observations, (o) => observe(o).pipe(Effect.map((verdict): Judged => ({ o, verdict })))).pipe(
          Effect.map((judged) => ({ ok: true as const, group: read, judged }))
        )
      ),
      Effect.catch((error) =>
        onPollFailed(group.targetGroupArn, error).pipe(
          Effect.andThen(Effect.logWarning("poll failed")),
          Effect.annotateLogs({
            targetGroupArn: group.targetGroupArn,
            error: error.code,
            detail: error.detail,
            requestId: error.requestId ?? null,
            consecutiveFailures: consecutiveFailures + 1
          }),
          Effect.as({ ok: false as const, group, judged: [] as ReadonlyArray<Judged> })
        )
      )
    )

  const poll: Effect.Effect<WatchPollResult> = Effect.suspend(() =>
    Effect.forEach(groups, pollGroup, { concurrency: pollConcurrency })
  ).pipe(
    Effect.map((results): WatchPollResult => {
      groups = results.map((r) => r.group)
      consecutiveFailures = results.every((r) => r.ok) ? 0 : consecutiveFailures + 1
      const judged = results.flatMap((r) => r.judged)
      const leaving = judged.filter((j) => j.verdict === "leaving").map((j) => j.o)
      return {
        leaving,
        judged,
        done: leaving.length > 0,
        confirming: [...memory.values()].some((m) => m.unregisteredOnce),
        consecutiveFailures
      }
    })
  )

  const schedule = yield* pollSchedule<WatchPollResult>(settings.pollingFrequencySeconds)
  const untilLeaving = Effect.scheduleFrom(
    poll,
    undefined,
    schedule.pipe(Schedule.map(({ output }) => output?.leaving ?? []))
  )
  const whileWaiting = (onPoll: (result: WatchPollResult) => Effect.Effect<void>): Effect.Effect<void> => {
    // Never done: the wait ends this loop by interrupting it. The first poll comes an interval after the last.
    const going = { leaving: [], judged: [], done: false, confirming: false, consecutiveFailures }
    return Effect.asVoid(Effect.scheduleFrom(
      poll.pipe(Effect.tap(onPoll), Effect.map((r): WatchPollResult => ({ ...r, done: false }))),
      going,
      schedule
    ))
  }
  return {
    untilLeaving,
    whileWaiting,
    /** Every target of the task known now (a searched group's, once it was found). */
    watched: Effect.sync(() => groups.flatMap((g) => g.targets)),
    /** The earliest of the last times `targets` were read in service: their deregistration began after it. */
    lastInServiceAt: (targets: ReadonlyArray<WatchedTarget>) =>
      Effect.sync(() => {
        const times = targets.flatMap((t) => inServiceAt.get(targetKey(t)) ?? [])
        return times.length === 0 ? undefined : Math.min(...times)
      })
  }
})

/** Polls until a target is leaving; returns what the last poll found leaving. */
export const watchUntilDeregistering = (targets: ReadonlyArray<WatchedTarget>, options: WatchOptions = {}) =>
  watchTargets(targets, options).pipe(Effect.flatMap((watch) => watch.untilLeaving))
