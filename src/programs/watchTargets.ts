// The poll loop: one DescribeTargetHealth per target group per poll, until a
// watched target is leaving. No API failure ends it.
import { Clock, Effect, Ref, Schedule } from "effect"
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
import { type PollOutcome, pollSchedule, PollTiming } from "../pollSchedule.ts"
import { hasChanged, initialMemory, judge, type TargetMemory, type Verdict } from "./deregistration.ts"
import { makePacer } from "./pacer.ts"

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

/** ECS's word on this task, when it was given, and how the log says it. */
export interface EcsWord {
  readonly at: number
  readonly stopping: boolean
  readonly said: string
}

/** Everything the poll loop carries from one poll to the next. */
export interface WatchState {
  readonly groups: ReadonlyArray<WatchedGroup>
  readonly memory: ReadonlyMap<string, TargetMemory>
  /** Searched groups whose "waiting for this task to be registered" was logged at info. */
  readonly searchLogged: ReadonlySet<string>
  /** Targets whose leaving was logged: a target that stays leaving is logged once. */
  readonly leavingLogged: ReadonlySet<string>
  /** When each target was last read in service (an own state): its deregistration began after that. */
  readonly inServiceAt: ReadonlyMap<string, number>
  /** Polls in a row in which at least one target group could not be read. */
  readonly consecutiveFailures: number
  /**
   * ECS's last word, the loop's one cache of its answer: it serves for a
   * minute while a drain looks like an earlier task's. (A drain of the task's
   * own never reads it: the sidecar asks ECS afresh for the stop reason.)
   */
  readonly ecsWord: EcsWord | undefined
}

export const initialWatchState = (groups: ReadonlyArray<WatchedGroup>): WatchState => ({
  groups,
  memory: new Map(),
  searchLogged: new Set(),
  leavingLogged: new Set(),
  inServiceAt: new Map(),
  consecutiveFailures: 0,
  ecsWord: undefined
})

/** One group as one poll read it: its readings, or why it could not be read. */
export type GroupRead =
  | { readonly group: WatchedGroup; readonly observations: ReadonlyArray<TargetObservation> }
  | { readonly group: WatchedGroup; readonly error: AwsCallFailed }

/** A line a step asks to be logged, in order. */
export interface LogLine {
  readonly level: "Debug" | "Info" | "Warning"
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
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

/** ECS's answer as the loop keeps it, and as the log says it. */
const wordOf = (at: number, stopping: boolean): EcsWord => ({
  at,
  stopping,
  said: stopping ? "ECS is stopping this task" : "ECS says this task is running"
})

/** ECS's word when it has not answered (a transient failure): nothing kept, asked again at the next poll. */
const noWord = (now: number): EcsWord => ({
  at: now,
  stopping: false,
  said: "ECS did not answer: asked again at the next poll"
})

/**
 * Whether this poll needs ECS asked: a reading that looks like an earlier
 * task's drain, and no word in hand from the last `askEcsAgainAfterMillis`.
 */
export const needsEcsWord = (state: WatchState, reads: ReadonlyArray<GroupRead>, now: number): boolean =>
  (state.ecsWord === undefined || now - state.ecsWord.at >= askEcsAgainAfterMillis) &&
  reads.some((r) =>
    "observations" in r &&
    r.observations.some((o) =>
      judge(state.memory.get(targetKey(o.target)) ?? initialMemory, o).verdict === "predecessor"
    )
  )

/**
 * One poll, advanced with no I/O: the readings judged against what the loop
 * remembers, ECS's word (`asked`: a fresh answer, `undefined` when none was
 * asked for, or `noAnswer` when the ask failed transiently) settling a drain
 * that looks like an earlier task's, and the lines to log.
 */
export const advance = (
  state: WatchState,
  reads: ReadonlyArray<GroupRead>,
  now: number,
  asked?: EcsWord | "noAnswer"
): { readonly state: WatchState; readonly result: WatchPollResult; readonly logs: ReadonlyArray<LogLine> } => {
  const memory = new Map(state.memory)
  const searchLogged = new Set(state.searchLogged)
  const leavingLogged = new Set(state.leavingLogged)
  const inServiceAt = new Map(state.inServiceAt)
  const ecsWord = asked === undefined ? state.ecsWord : asked === "noAnswer" ? undefined : asked
  const word = asked === "noAnswer" ? noWord(now) : ecsWord
  const logs: Array<LogLine> = []
  const judged: Array<Judged> = []
  const failed = reads.some((r) => "error" in r)
  const consecutiveFailures = failed ? state.consecutiveFailures + 1 : 0

  for (const read of reads) {
    if ("error" in read) {
      const { error } = read
      logs.push({
        level: "Warning",
        message: "poll failed",
        annotations: {
          targetGroupArn: read.group.targetGroupArn,
          error: error.code,
          detail: error.detail,
          requestId: error.requestId ?? null,
          consecutiveFailures
        }
      })
      continue
    }
    const { group, observations } = read
    if (group.targets.length === 0) {
      const first = !searchLogged.has(group.targetGroupArn)
      searchLogged.add(group.targetGroupArn)
      logs.push({
        level: first ? "Info" : "Debug",
        message: "waiting for this task to be registered",
        annotations: { targetGroupArn: group.targetGroupArn }
      })
    }
    for (const o of observations) {
      const key = targetKey(o.target)
      const before = memory.get(key) ?? initialMemory
      const judgedNow = judge(before, o)
      const evidence = judgedNow.verdict === "predecessor" ? word : undefined
      const verdict: Verdict = evidence?.stopping === true ? "leaving" : judgedNow.verdict
      memory.set(key, judgedNow.memory)
      if (verdict === "watching" && judgedNow.memory.ownStateSeen && !isUnregistered(o)) inServiceAt.set(key, now)
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
      logs.push({
        level: quiet ? "Debug" : "Info",
        message: quiet ? "target state unchanged" : message,
        annotations: { ...annotationsOf(o), ...(evidence === undefined ? {} : { evidence: evidence.said }) }
      })
      judged.push({ o, verdict })
    }
  }

  const leaving = judged.filter((j) => j.verdict === "leaving").map((j) => j.o)
  return {
    state: {
      groups: reads.map((r) => r.group),
      memory,
      searchLogged,
      leavingLogged,
      inServiceAt,
      consecutiveFailures,
      ecsWord
    },
    result: {
      leaving,
      judged,
      done: leaving.length > 0,
      confirming: [...memory.values()].some((m) => m.unregisteredOnce),
      consecutiveFailures
    },
    logs
  }
}

const logLine = (line: LogLine) =>
  (line.level === "Warning" ? Effect.logWarning : line.level === "Info" ? Effect.logInfo : Effect.logDebug)(
    line.message
  ).pipe(Effect.annotateLogs(line.annotations))

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
  /** A startup call was throttled: ELBv2 starts backed off. */
  readonly startedThrottled?: boolean
  /** Reads the watched groups' shortest deregistration delay, D (the detection budget's), when ELBv2 throttles. */
  readonly readDelay?: Effect.Effect<number | undefined, AwsCallFailed>
}

/**
 * The poll loop over the task's targets: `untilLeaving` polls until a target
 * is leaving and returns what that poll found leaving; `whileWaiting` goes on
 * from there at the usual interval (still one call per group per poll), each
 * change logged once, and hands each poll to `onPoll` until it is interrupted.
 * The loop's state is one value in a Ref, advanced by `advance`.
 */
export const watchTargets = Effect.fn("watchTargets")(function*(
  targets: ReadonlyArray<WatchedTarget>,
  options: WatchOptions = {}
) {
  const { isTaskStopping = Effect.succeed(false), onPollFailed = () => Effect.void, searches = [] } = options
  const settings = yield* Config
  const elb = yield* TargetHealth
  // Each channel's share, the detection budget, ECS in between once ELBv2 throttles (src/programs/pacing.ts); unpaced only to compare.
  const pacer = (yield* PollTiming).paced === false ? undefined : yield* makePacer({
    pollingFrequencySeconds: settings.pollingFrequencySeconds,
    deregistrationWaitSeconds: settings.deregistrationWaitSeconds,
    isTaskStopping: options.isTaskStopping,
    startedThrottled: options.startedThrottled ?? false,
    readDelay: options.readDelay
  })
  const state = yield* Ref.make(initialWatchState(watchedGroups(targets, searches)))

  /** ECS's answer: a refusal (not retryable) is waited out; a transient failure keeps nothing. */
  const askEcs = (now: number): Effect.Effect<EcsWord | "noAnswer"> =>
    isTaskStopping.pipe(
      Effect.map((stopping): EcsWord | "noAnswer" => wordOf(now, stopping)),
      Effect.catch((error) =>
        Effect.succeed<EcsWord | "noAnswer">(
          error.retryable
            ? "noAnswer"
            : { at: now, stopping: false, said: `cannot ask ECS (${error.code}): waited out` }
        )
      )
    )

  const poll: Effect.Effect<WatchPollResult> = Effect.gen(function*() {
    const before = yield* Ref.get(state)
    const turn = pacer?.turn() ?? "elb"
    if (pacer !== undefined && turn !== "elb") {
      // ECS's word instead, after an ELBv2 throttle (nothing leaves on it alone), or D for the budget.
      const { consecutiveFailures } = before
      if (turn === "delay") {
        const delayMillis = yield* pacer.delayTurn
        return { leaving: [], judged: [], done: false, confirming: false, consecutiveFailures, delayMillis }
      }
      const { delayMillis, stopping } = yield* pacer.readEcs
      // A stopping task never runs again: that word settles a drain that looks like an earlier task's
      // without asking ECS again. (A running one is not kept: the drain may begin right after it.)
      if (stopping === true) {
        const at = yield* Clock.currentTimeMillis
        yield* Ref.update(state, (s) => ({ ...s, ecsWord: wordOf(at, stopping) }))
      }
      return { leaving: [], judged: [], done: false, confirming: false, consecutiveFailures, delayMillis }
    }
    const reads = yield* Effect.forEach(
      before.groups,
      (group) =>
        readGroup(elb, group).pipe(
          Effect.catch((error) =>
            onPollFailed(group.targetGroupArn, error).pipe(Effect.as<GroupRead>({ group, error }))
          )
        ),
      { concurrency: pollConcurrency }
    )
    const now = yield* Clock.currentTimeMillis
    const asked = needsEcsWord(before, reads, now) ? yield* askEcs(now) : undefined
    const next = advance(before, reads, now, asked)
    yield* Ref.set(state, next.state)
    yield* Effect.forEach(next.logs, logLine, { discard: true })
    if (pacer === undefined) return next.result
    const delayMillis = yield* pacer.afterElb({
      outcome: reads.every((r) => !("error" in r))
        ? asked === "noAnswer" ? "unsettled" : "read"
        : reads.some((r) => "error" in r && r.error.throttled === true)
        ? "throttled"
        : "failed",
      channel: "elb"
    })
    return { ...next.result, delayMillis }
  })

  const schedule = yield* pollSchedule<WatchPollResult>(settings.pollingFrequencySeconds)
  const untilLeaving = Effect.scheduleFrom(
    poll,
    undefined,
    schedule.pipe(Schedule.map(({ output }) => output?.leaving ?? []))
  )
  const whileWaiting = (onPoll: (result: WatchPollResult) => Effect.Effect<void>): Effect.Effect<void> =>
    Ref.get(state).pipe(Effect.flatMap(({ consecutiveFailures }) => {
      // Never done: the wait ends this loop by interrupting it. The first poll comes an interval after the last.
      const going = { leaving: [], judged: [], done: false, confirming: false, consecutiveFailures }
      return Effect.asVoid(Effect.scheduleFrom(
        poll.pipe(Effect.tap(onPoll), Effect.map((r): WatchPollResult => ({ ...r, done: false }))),
        going,
        schedule
      ))
    }))
  return {
    untilLeaving,
    whileWaiting,
    /** Every target of the task known now (a searched group's, once it was found). */
    watched: Ref.get(state).pipe(Effect.map(({ groups }) => groups.flatMap((g) => g.targets))),
    /** The earliest of the last times `targets` were read in service: their deregistration began after it. */
    lastInServiceAt: (targets: ReadonlyArray<WatchedTarget>) =>
      Ref.get(state).pipe(Effect.map(({ inServiceAt }) => {
        const times = targets.flatMap((t) => inServiceAt.get(targetKey(t)) ?? [])
        return times.length === 0 ? undefined : Math.min(...times)
      }))
  }
})

/** Polls until a target is leaving; returns what the last poll found leaving. */
export const watchUntilDeregistering = (targets: ReadonlyArray<WatchedTarget>, options: WatchOptions = {}) =>
  watchTargets(targets, options).pipe(Effect.flatMap((watch) => watch.untilLeaving))
