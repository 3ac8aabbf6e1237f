// What operators want to know about a stop, from calls the sidecar can do
// without: each target group's deregistration delay (DescribeTargetGroupAttributes,
// at startup) and why ECS stops the task (DescribeTasks, once at the drain).
// A failed or denied call is logged once and leaves the answer unknown; nothing else changes.
import { Clock, Effect } from "effect"
import type { TargetGroup } from "../domain.ts"
import { type AwsCallFailed, isAccessDenied } from "../errors.ts"
import type { TaskDescription } from "../layers/Ecs.ts"
import { Metrics } from "../layers/Metrics.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { sidecarDimensions } from "../metrics/dimensions.ts"
import { type EmfRecord } from "../metrics/emf.ts"
import { countFailedPoll, noPollProblems, type PollProblems, pollProblemsDue } from "../metrics/pollProblems.ts"
import { pollProblemsRecord, type RecordContext, type StopReason } from "../metrics/records.ts"

/** One warning for an optional call that failed: what stays unknown, and the permission to grant if it was denied. */
export const unknownBecause = (error: AwsCallFailed, purpose: string) =>
  Effect.logWarning(`${error.action} failed: ${purpose} unknown; the sidecar works on without it`).pipe(
    Effect.annotateLogs({
      error: error.code,
      detail: error.detail,
      ...(isAccessDenied(error.code) ? { optionalPermission: error.action } : {})
    })
  )

/** Each group's deregistration_delay.timeout_seconds, where it can be read (one attempt each). */
export const deregistrationDelays = Effect.fn("deregistrationDelays")(function*(groups: ReadonlyArray<TargetGroup>) {
  const elb = yield* TargetHealth
  const read = yield* Effect.forEach(groups, (g) =>
    elb.describeDeregistrationDelay(g.arn).pipe(
      Effect.map((seconds) => ({ arn: g.arn, seconds, error: undefined })),
      Effect.catch((error) => Effect.succeed({ arn: g.arn, seconds: undefined, error }))
    ))
  const failed = read.find((r) => r.error !== undefined)?.error
  if (failed !== undefined) yield* unknownBecause(failed, "the target groups' deregistration delay (and SecondsSaved)")
  return new Map(read.map((r) => [r.arn, r.seconds]))
})

/** ECS's stopCode and stoppedReason for this task, from `describeTask` (one attempt). */
export const whyStopping = Effect.fn("whyStopping")(
  function*(describeTask: Effect.Effect<TaskDescription | undefined, AwsCallFailed>) {
    return yield* describeTask.pipe(
      Effect.map((task): StopReason => ({
        ...(task?.stopCode === undefined ? {} : { stopCode: task.stopCode }),
        ...(task?.stoppedReason === undefined ? {} : { stoppedReason: task.stoppedReason })
      })),
      Effect.catch((error) => unknownBecause(error, "why ECS stops the task").pipe(Effect.as({})))
    )
  }
)

/** Where a record goes: this task's service (or cluster) and one target group, now. */
export const recordContext = (
  namespace: string,
  task: { readonly serviceName: string | undefined; readonly cluster: string },
  targetGroupArn: string
) =>
  Clock.currentTimeMillis.pipe(
    Effect.map((timestamp): RecordContext => ({
      timestamp,
      namespace,
      dimensions: sidecarDimensions(task, targetGroupArn)
    }))
  )

/** One record for each of `groups`, when metrics are on. */
export const emitPerGroup = (
  task: { readonly serviceName: string | undefined; readonly cluster: string },
  groups: ReadonlyArray<string>,
  record: (at: RecordContext, targetGroupArn: string) => EmfRecord
) =>
  Effect.gen(function*() {
    const { emit, namespace } = yield* Metrics
    if (namespace === undefined) return
    yield* Effect.forEach(
      groups,
      (arn) => recordContext(namespace, task, arn).pipe(Effect.flatMap((at) => emit(record(at, arn)))),
      { discard: true }
    )
  })

/**
 * PollFailures and ThrottledPolls per target group: counted as polls fail,
 * written at most once a minute while non-zero, and once more at the end.
 */
export const pollProblemsReporter = (task: { readonly serviceName: string | undefined; readonly cluster: string }) =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const counts = new Map<string, PollProblems>()
    const write = (targetGroupArn: string, options: { readonly final?: boolean } = {}) =>
      Effect.gen(function*() {
        if (metrics.namespace === undefined) return
        const due = pollProblemsDue(
          counts.get(targetGroupArn) ?? noPollProblems,
          yield* Clock.currentTimeMillis,
          options
        )
        counts.set(targetGroupArn, due.next)
        if (due.write !== undefined) {
          yield* metrics.emit(
            pollProblemsRecord(yield* recordContext(metrics.namespace, task, targetGroupArn), due.write)
          )
        }
      })
    return {
      onPollFailed: (targetGroupArn: string, error: AwsCallFailed) =>
        Effect.sync(() =>
          counts.set(
            targetGroupArn,
            countFailedPoll(counts.get(targetGroupArn) ?? noPollProblems, error.throttled === true)
          )
        ).pipe(
          Effect.andThen(write(targetGroupArn))
        ),
      flush: Effect.suspend(() =>
        Effect.forEach([...counts.keys()], (arn) => write(arn, { final: true }), { discard: true })
      )
    }
  })
