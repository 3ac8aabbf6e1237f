// What operators want to know about a stop, from calls the sidecar can do
// without: each target group's deregistration delay (DescribeTargetGroupAttributes,
// at the drain unless the poll loop needed it before) and why ECS stops the task
// (DescribeTasks, once at the drain).
// A failed or denied call is logged once and leaves the answer unknown; nothing else changes.
import { Effect } from "effect"
import type { TargetGroup } from "../domain.ts"
import { type AwsCallFailed, isAccessDenied } from "../errors.ts"
import type { TaskDescription } from "../layers/Ecs.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import type { StopReason } from "../metrics/records.ts"

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
