// The sidecar's metrics and the records that carry them: DrainDetected at the
// drain, DrainWaitSeconds, SecondsSaved and ConnectionsAtExit at exit,
// PollFailures and ThrottledPolls while polls fail.
import { type EmfRecord, emfRecord, type MetricUnit } from "./emf.ts"

export const defaultNamespace = "NlbSidecarForEcs"

/** The sidecar's metrics and their units. */
export const SidecarMetric = {
  /** 1 when this task's target is seen leaving its group. */
  DrainDetected: { name: "DrainDetected", unit: "Count" },
  /** From draining seen to the sidecar's exit. */
  DrainWaitSeconds: { name: "DrainWaitSeconds", unit: "Seconds" },
  /**
   * The group's deregistration delay less the time the task stayed after its deregistration began
   * (ECS's stoppingAt, or the last poll that still found the target in service).
   */
  SecondsSaved: { name: "SecondsSaved", unit: "Seconds" },
  /** Polls of the group that failed (throttled ones included), since the last record. */
  PollFailures: { name: "PollFailures", unit: "Count" },
  /** Of those, the polls AWS throttled. */
  ThrottledPolls: { name: "ThrottledPolls", unit: "Count" },
  /** Connections still open on the leaving target's port when the sidecar exits (DRAIN_STRATEGY=connections). */
  ConnectionsAtExit: { name: "ConnectionsAtExit", unit: "Count" }
} as const satisfies Record<string, { readonly name: string; readonly unit: MetricUnit }>

/**
 * SecondsSaved: the group's deregistration delay less the time the task stayed
 * after draining was seen, never below 0 (a task that outstays the delay saved
 * nothing). Milliseconds kept, as a fraction of a second.
 */
export const secondsSaved = (deregistrationDelaySeconds: number, stayedMs: number): number =>
  Math.max(0, Math.round(deregistrationDelaySeconds * 1000 - stayedMs)) / 1000

/** What every record of one target group shares: when, the namespace, the dimensions (`sidecarDimensions`). */
export interface RecordContext {
  /** Milliseconds since the epoch. */
  readonly timestamp: number
  readonly namespace: string
  readonly dimensions: Readonly<Record<string, string>>
}

/** Why ECS stops the task (ecs:DescribeTasks), when it said. */
export interface StopReason {
  readonly stopCode?: string | undefined
  readonly stoppedReason?: string | undefined
}

const metric = (m: { readonly name: string; readonly unit: MetricUnit }, value: number | undefined) =>
  value === undefined ? {} : { [m.name]: { value, unit: m.unit } }

/** `event: "drain-detected"`: DrainDetected 1, with the stop code and reason. */
export const drainDetectedRecord = (at: RecordContext, why: StopReason = {}): EmfRecord =>
  emfRecord({
    ...at,
    metrics: metric(SidecarMetric.DrainDetected, 1),
    properties: { event: "drain-detected", stopCode: why.stopCode, stoppedReason: why.stoppedReason }
  })

/**
 * `event: "exit"`: DrainWaitSeconds; SecondsSaved when the group's
 * deregistration delay is known; ConnectionsAtExit when counted.
 */
export const exitRecord = (
  at: RecordContext,
  values: StopReason & {
    /** From draining seen to exit. */
    readonly drainWaitMs: number
    /** From the start of the deregistration (as near as it is known) to exit: what SecondsSaved counts against. */
    readonly stayedMs?: number | undefined
    readonly deregistrationDelaySeconds?: number | undefined
    readonly connectionsAtExit?: number | undefined
  }
): EmfRecord =>
  emfRecord({
    ...at,
    metrics: {
      ...metric(SidecarMetric.DrainWaitSeconds, values.drainWaitMs / 1000),
      ...metric(
        SidecarMetric.SecondsSaved,
        values.deregistrationDelaySeconds === undefined
          ? undefined
          : secondsSaved(values.deregistrationDelaySeconds, values.stayedMs ?? values.drainWaitMs)
      ),
      ...metric(SidecarMetric.ConnectionsAtExit, values.connectionsAtExit)
    },
    properties: {
      event: "exit",
      deregistrationDelaySeconds: values.deregistrationDelaySeconds,
      stopCode: values.stopCode,
      stoppedReason: values.stoppedReason
    }
  })

/** `event: "poll-problems"`: PollFailures and ThrottledPolls, as `pollProblemsDue` hands them out. */
export const pollProblemsRecord = (
  at: RecordContext,
  counts: { readonly failures: number; readonly throttled: number }
): EmfRecord =>
  emfRecord({
    ...at,
    metrics: {
      ...metric(SidecarMetric.PollFailures, counts.failures),
      ...metric(SidecarMetric.ThrottledPolls, counts.throttled)
    },
    properties: { event: "poll-problems" }
  })
