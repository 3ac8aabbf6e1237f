// The sidecar's metric records, one per target group, when METRICS=emf: what
// a drain writes (DrainDetected, the exit record), and the poll-failure
// reporter (PollFailures, ThrottledPolls).
import { Clock, Effect } from "effect"
import type { AwsCallFailed } from "../errors.ts"
import { Metrics } from "../layers/Metrics.ts"
import { sidecarDimensions } from "../metrics/dimensions.ts"
import type { EmfRecord } from "../metrics/emf.ts"
import { countFailedPoll, noPollProblems, type PollProblems, pollProblemsDue } from "../metrics/pollProblems.ts"
import { pollProblemsRecord, type RecordContext } from "../metrics/records.ts"

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
