// The sidecar's main job: discover, watch, wait out the deregistration, exit.
import { Clock, Effect, Fiber, Ref } from "effect"
import { targetKey, type WatchedTarget } from "../domain.ts"
import { Drained } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import type { EvidenceTarget } from "../layers/drain/strategy.ts"
import { DrainStrategy } from "../layers/DrainStrategy.ts"
import { Ecs, type TaskDescription } from "../layers/Ecs.ts"
import { reportSlowStart, Startup } from "../layers/Startup.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { drainDetectedRecord, exitRecord, secondsSaved } from "../metrics/records.ts"
import { redact } from "../redact.ts"
import { discoverStandaloneTargets } from "./discoverStandaloneTargets.ts"
import { discoverTargets } from "./discoverTargets.ts"
import { emitPerGroup, pollProblemsReporter } from "./emitMetrics.ts"
import { deregistrationDelays, whyStopping } from "./stopReport.ts"
import { type WatchPollResult, watchTargets } from "./watchTargets.ts"

/** The shortest known deregistration delay of the task's groups: the one a drain must be seen in time for. */
const shortestDelay = (delays: ReadonlyMap<string, number | undefined>): number | undefined => {
  const known = [...delays.values()].filter((d) => d !== undefined)
  return known.length === 0 ? undefined : Math.min(...known)
}

export const sidecar = Effect.gen(function*() {
  const settings = yield* Config
  const metadataUri = settings.metadataUri === undefined ? undefined : redact(settings.metadataUri)
  yield* Effect.logInfo("configuration").pipe(Effect.annotateLogs({ ...settings, metadataUri }))

  const slowStart = yield* Effect.forkChild(reportSlowStart)
  const discovery = yield* (settings.targetGroupArns.length > 0 ? discoverStandaloneTargets : discoverTargets).pipe(
    Effect.ensuring(Fiber.interrupt(slowStart))
  )
  const drainStrategy = yield* (yield* DrainStrategy).decide(discovery.networkMode)
  yield* Effect.logInfo("watching targets").pipe(Effect.annotateLogs({
    cluster: discovery.cluster,
    taskArn: discovery.taskArn,
    service: discovery.serviceName ?? null,
    ...(discovery.deploymentController === undefined || discovery.deploymentController === "ECS"
      ? {}
      : { deploymentController: discovery.deploymentController, taskSet: discovery.taskSet ?? null }),
    networkMode: discovery.networkMode,
    targets: discovery.targets.map((t) => ({
      targetGroupArn: t.targetGroupArn,
      targetId: t.id,
      port: t.port,
      container: t.containerName,
      ...(t.role === undefined ? {} : { role: t.role })
    })),
    ...(discovery.searches.length === 0 ? {} : { searching: discovery.searches.map((s) => s.targetGroupArn) })
  }))

  // Each group's deregistration delay, D: read when it matters, not at startup with every other new task
  // of a deployment. The poll loop reads it once ELBv2 throttles (the detection budget needs it); the
  // drain reads it otherwise (SecondsSaved, and the plan in the log).
  const delays = new Map<string, number | undefined>()
  const unknownDelays = () => discovery.targetGroups.filter((g) => delays.get(g.arn) === undefined)
  // A start that was throttled met a busy account: the poll loop starts backed off on ELBv2.
  const startedThrottled = yield* Ref.get((yield* Startup).metThrottle)
  const elb = yield* TargetHealth
  const task = { serviceName: discovery.serviceName, cluster: discovery.cluster }
  const pollProblems = yield* pollProblemsReporter(task)
  // This task as ECS describes it: evidence for a drain with no own state before it, and the
  // stop reason once draining is seen. A drain of its own always asks afresh, unless ECS's last
  // answer already said it is stopping the task (then that answer carries the reason).
  const lastEcsAnswer = yield* Ref.make<TaskDescription | undefined>(undefined)
  const describeTask = (yield* Ecs).describeTask(discovery.cluster, discovery.taskArn).pipe(
    Effect.tap((described) => Ref.set(lastEcsAnswer, described))
  )
  const stopAnswer = Ref.get(lastEcsAnswer).pipe(
    Effect.filterOrElse((last) => last?.desiredStatus === "STOPPED", () => describeTask)
  )
  const isTaskStopping = describeTask.pipe(Effect.map((described) => described?.desiredStatus === "STOPPED"))
  const watch = yield* watchTargets(discovery.targets, {
    searches: discovery.searches,
    isTaskStopping,
    onPollFailed: pollProblems.onPollFailed,
    startedThrottled,
    readDelay: Effect.forEach(
      unknownDelays(),
      (g) =>
        elb.describeDeregistrationDelay(g.arn).pipe(
          Effect.tap((seconds) => Effect.sync(() => delays.set(g.arn, seconds)))
        )
    ).pipe(Effect.map(() => shortestDelay(delays)))
  })
  const leavingTargets = yield* watch.untilLeaving
  const [leaving] = leavingTargets
  if (leaving === undefined) return yield* Effect.die("the poll loop ended without a leaving target")
  const seenAt = yield* Clock.currentTimeMillis
  // A target the task was seen registered at (an own state read in service): one where it is not
  // (a blue/green group of the other colour) has no floor or port to wait for.
  const registered = (targets: ReadonlyArray<WatchedTarget>) =>
    Effect.filter(targets, (t) => watch.lastInServiceAt([t]).pipe(Effect.map((at) => at !== undefined)))
  // Every target of the task from here on, each with when it was seen leaving: the wait covers them all.
  const evidence = yield* Ref.make(
    new Map<string, EvidenceTarget>([
      ...(yield* registered(yield* watch.watched)).map((target) =>
        [targetKey(target), { target, leavingSince: undefined }] as const
      ),
      ...leavingTargets.map((o) => [targetKey(o.target), { target: o.target, leavingSince: seenAt }] as const)
    ])
  )
  const noteLeaving = (result: WatchPollResult) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const inService = new Set((yield* registered(result.judged.map((j) => j.o.target))).map(targetKey))
      yield* Ref.update(evidence, (known) => {
        const next = new Map(known)
        for (const { o, verdict } of result.judged) {
          const key = targetKey(o.target)
          if (!known.has(key) && verdict !== "leaving" && !inService.has(key)) continue
          const since = known.get(key)?.leavingSince
          next.set(key, { target: o.target, leavingSince: since ?? (verdict === "leaving" ? now : undefined) })
        }
        return next
      })
    })
  const target = {
    targetGroupArn: leaving.target.targetGroupArn,
    targetId: leaving.target.id,
    port: leaving.target.port
  }

  // D, if the poll loop had no need of it: for SecondsSaved and the plan (one attempt per group).
  for (const [arn, seconds] of yield* deregistrationDelays(unknownDelays())) delays.set(arn, seconds)
  // Why ECS stops the task (one DescribeTasks), on every line from here to the last.
  const stop = yield* whyStopping(stopAnswer)
  // Where the deregistration began, as near as it is known: what SecondsSaved counts from.
  const stoppingAt = (yield* Ref.get(lastEcsAnswer))?.stoppingAt
  const deregisteredFrom = stoppingAt !== undefined && stoppingAt <= seenAt
    ? stoppingAt
    : (yield* watch.lastInServiceAt(leavingTargets.map((o) => o.target))) ?? seenAt
  const leavingGroups = [...new Set(leavingTargets.map((o) => o.target.targetGroupArn))]
  yield* emitPerGroup(task, leavingGroups, (at) => drainDetectedRecord(at, stop))

  const delay = delays.get(leaving.target.targetGroupArn)
  const { strategy, plan } = drainStrategy
  yield* Effect.logInfo("waiting before exit").pipe(Effect.annotateLogs({
    ...target,
    ...stop,
    strategy,
    deregistrationWaitSeconds: settings.deregistrationWaitSeconds,
    targetGroupDelaySeconds: delay ?? null,
    plan: delay === undefined ? plan : `target group delay ${delay} s; ${plan}`
  }))
  // Polling goes on while waiting, for a drain seen later (or a deregistration cancelled), where that
  // can change when the wait ends; elsewhere no call is spent on it.
  const polling = drainStrategy.watchesWhileWaiting(discovery.targetGroups)
    ? yield* Effect.forkChild(watch.whileWaiting(noteLeaving))
    : undefined
  const waited = yield* drainStrategy.wait(
    Ref.get(evidence).pipe(Effect.map((m) => [...m.values()])),
    discovery.targetGroups,
    // From when draining was seen: asking ECS why (up to its timeout) moves no exit.
    seenAt
  )
  if (polling !== undefined) yield* Fiber.interrupt(polling)
  const exitAt = yield* Clock.currentTimeMillis
  const drainWaitMs = exitAt - seenAt
  const stayedMs = exitAt - deregisteredFrom
  yield* emitPerGroup(task, leavingGroups, (at, arn) =>
    exitRecord(at, {
      ...stop,
      drainWaitMs,
      stayedMs,
      deregistrationDelaySeconds: delays.get(arn),
      connectionsAtExit: waited.connectionsAtExit
    }))
  yield* pollProblems.flush
  const why = strategy === "fixed" ? {} : { why: waited.why }
  const saved = delay === undefined ? {} : { secondsSaved: secondsSaved(delay, stayedMs) }

  if (settings.dryRun) {
    // Rolling the sidecar out: show when it would have stopped the task, and do not.
    yield* Effect.logInfo(`dry run: would exit with code ${settings.drainExitCode}`).pipe(
      Effect.annotateLogs({ ...target, ...why, ...stop, ...saved })
    )
    return yield* Effect.never
  }
  return yield* new Drained({
    exitCode: settings.drainExitCode,
    waitedSeconds: waited.waitedSeconds,
    ...target,
    ...why,
    ...stop,
    ...saved
  })
})
