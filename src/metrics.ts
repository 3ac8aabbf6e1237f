// Metrics in the log stream: CloudWatch embedded metric format (EMF) records,
// one JSON object per event, which CloudWatch Logs turns into metrics when the
// awslogs driver (or FireLens) ships the line. Pure: no clock, no output here.
//
// The format, as "Specification: Embedded metric format" (CloudWatch User
// Guide) defines it:
// - the root is one JSON object with an `_aws` member holding `Timestamp`
//   (milliseconds since the epoch) and `CloudWatchMetrics`, an array of
//   metric directives; `_aws` holds nothing else;
// - a directive has `Namespace` (1-255 characters), `Dimensions` (an array of
//   dimension sets, each an array of at most 30 dimension names) and `Metrics`
//   (at most 100 definitions, each a `Name` and an optional `Unit` from
//   CloudWatch's unit list);
// - every name a directive references is a member of the root itself, not
//   nested: a dimension's value a string, a metric's value a number (or an
//   array of at most 100 numbers);
// - the root may carry any other members (here `event`, `stopCode`, …): they
//   are kept in the log event and ignored by the metric extraction.
// A dimension value is 1-1024 printable ASCII characters with at least one
// that is not whitespace (the CloudWatch API's Dimension type).

/** CloudWatch's metric units (MetricDatum `Unit`), the only values `Unit` may take. */
export const metricUnits = [
  "Seconds",
  "Microseconds",
  "Milliseconds",
  "Bytes",
  "Kilobytes",
  "Megabytes",
  "Gigabytes",
  "Terabytes",
  "Bits",
  "Kilobits",
  "Megabits",
  "Gigabits",
  "Terabits",
  "Percent",
  "Count",
  "Bytes/Second",
  "Kilobytes/Second",
  "Megabytes/Second",
  "Gigabytes/Second",
  "Terabytes/Second",
  "Bits/Second",
  "Kilobits/Second",
  "Megabits/Second",
  "Gigabits/Second",
  "Terabits/Second",
  "Count/Second",
  "None"
] as const
export type MetricUnit = typeof metricUnits[number]

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
 * Dimension names. `ServiceName` is the ECS service's name; a task outside a
 * service (TARGET_GROUP_ARNS, RunTask) has none and is counted under its
 * `Cluster` instead.
 */
export const Dimension = { service: "ServiceName", cluster: "Cluster", targetGroup: "TargetGroup" } as const

/** A value JSON can carry as it is. */
export type JsonValue = string | number | boolean | null | ReadonlyArray<JsonValue> | {
  readonly [key: string]: JsonValue
}

export interface MetricDefinition {
  readonly Name: string
  readonly Unit: MetricUnit
}

export interface MetricDirective {
  readonly Namespace: string
  readonly Dimensions: ReadonlyArray<ReadonlyArray<string>>
  readonly Metrics: ReadonlyArray<MetricDefinition>
}

/** One EMF document: `_aws`, then the dimension values, the metric values and the other members at the root. */
export interface EmfRecord {
  readonly _aws: {
    readonly Timestamp: number
    readonly CloudWatchMetrics: ReadonlyArray<MetricDirective>
  }
  readonly [member: string]: JsonValue | EmfRecord["_aws"]
}

/** A directive holds at most this many metric definitions. */
export const maxMetricsPerDirective = 100
export const maxDimensionValueLength = 1024

/**
 * A dimension value CloudWatch accepts: characters outside printable ASCII
 * become `?`, and it is cut to 1024 characters. `undefined` for a value of
 * whitespace only (tabs and newlines included).
 */
export const dimensionValue = (raw: string): string | undefined => {
  const value = raw.replace(/[^\x20-\x7e]/g, "?").slice(0, maxDimensionValueLength)
  return raw.trim() === "" || value.trim() === "" ? undefined : value
}

/**
 * One EMF record. The metrics share one dimension set, made of every entry of
 * `dimensions` in order. A dimension whose value is blank is left out of the
 * set (the record stays valid); a metric whose value is not a finite number is
 * left out (JSON has no NaN or Infinity). `properties` are further root
 * members; one named `_aws` or like a dimension or metric is dropped, so that
 * it can never change what is published. Properties left `undefined` are
 * omitted.
 */
export const emfRecord = (options: {
  /** Milliseconds since the epoch. */
  readonly timestamp: number
  readonly namespace: string
  readonly dimensions: Readonly<Record<string, string>>
  readonly metrics: Readonly<Record<string, { readonly value: number; readonly unit: MetricUnit }>>
  readonly properties?: Readonly<Record<string, JsonValue | undefined>>
}): EmfRecord => {
  const dimensions = Object.entries(options.dimensions).flatMap(([name, raw]) => {
    const value = dimensionValue(raw)
    return value === undefined ? [] : [[name, value] as const]
  })
  const metrics = Object.entries(options.metrics).filter(([, m]) => Number.isFinite(m.value))
  const published = new Set(["_aws", ...dimensions.map(([name]) => name), ...metrics.map(([name]) => name)])
  const properties = Object.entries(options.properties ?? {}).filter(
    (entry): entry is [string, JsonValue] => entry[1] !== undefined && !published.has(entry[0])
  )
  const dimensionSet = dimensions.map(([name]) => name)
  const directives: Array<MetricDirective> = []
  for (let i = 0; i === 0 || i < metrics.length; i += maxMetricsPerDirective) {
    directives.push({
      Namespace: options.namespace,
      Dimensions: [dimensionSet],
      Metrics: metrics.slice(i, i + maxMetricsPerDirective).map(([name, m]) => ({ Name: name, Unit: m.unit }))
    })
  }
  return {
    _aws: { Timestamp: Math.trunc(options.timestamp), CloudWatchMetrics: directives },
    ...Object.fromEntries(dimensions),
    ...Object.fromEntries(metrics.map(([name, m]) => [name, m.value])),
    ...Object.fromEntries(properties)
  }
}

/**
 * Why a namespace cannot be used, or `undefined` when it can: 1-255
 * characters among letters, digits, `.`, `-`, `_`, `/`, `#`, `:` and space, at
 * least one of them not a space, and not under `AWS/` (CloudWatch keeps that
 * prefix for AWS services).
 */
export const namespaceProblem = (namespace: string): string | undefined =>
  namespace.length < 1 || namespace.length > 255
    ? "1 to 255 characters"
    : !/^[0-9A-Za-z._\-/#: ]+$/.test(namespace)
    ? "only letters, digits, spaces and . - _ / # :"
    : namespace.trim() === ""
    ? "at least one character that is not a space"
    : namespace.startsWith("AWS/")
    ? "a namespace not starting with AWS/ (reserved for AWS services)"
    : namespace.startsWith(":")
    ? "a namespace not starting with : (CloudWatch's rule: it rejects the namespace and every record with it)"
    : undefined

/** `arn:aws:ecs:eu-west-1:123456789012:cluster/prod` → `prod`; a name stays as it is. */
const clusterName = (cluster: string): string =>
  cluster.startsWith("arn:") ? cluster.slice(cluster.indexOf(":cluster/") + ":cluster/".length) : cluster

/**
 * `arn:aws:elasticloadbalancing:…:targetgroup/web/73e2d6bc24d8a067` →
 * `targetgroup/web/73e2d6bc24d8a067`: the value the load balancers' own
 * metrics (AWS/NetworkELB, AWS/ApplicationELB) carry in their `TargetGroup`
 * dimension, "the final portion of the target group ARN". The sidecar's
 * metrics then line up with the group's HealthyHostCount and the like in one
 * graph, alarm or metric math expression, and the id keeps two groups of the
 * same name (another region or load balancer) apart, which the name alone
 * would not. The whole ARN would repeat the region and account the metric
 * already belongs to.
 */
export const targetGroupDimension = (targetGroupArn: string): string => {
  const at = targetGroupArn.indexOf(":targetgroup/")
  return at === -1 ? targetGroupArn : targetGroupArn.slice(at + 1)
}

/** The dimensions of every record about one target group: the service (else the cluster), then the group. */
export const sidecarDimensions = (task: {
  readonly serviceName: string | undefined
  /** The cluster's name or ARN. */
  readonly cluster: string
}, targetGroupArn: string): Record<string, string> => ({
  ...(task.serviceName === undefined || dimensionValue(task.serviceName) === undefined
    ? { [Dimension.cluster]: clusterName(task.cluster) }
    : { [Dimension.service]: task.serviceName }),
  [Dimension.targetGroup]: targetGroupDimension(targetGroupArn)
})

/**
 * SecondsSaved: the group's deregistration delay less the time the task stayed
 * after draining was seen, never below 0 (a task that outstays the delay saved
 * nothing). Milliseconds kept, as a fraction of a second.
 */
export const secondsSaved = (deregistrationDelaySeconds: number, stayedMs: number): number =>
  Math.max(0, Math.round(deregistrationDelaySeconds * 1000 - stayedMs)) / 1000

/** PollFailures and ThrottledPolls are written at most this often, and only while one is not zero. */
export const pollProblemsIntervalMs = 60_000

/** Failed and throttled polls of one target group since the last record. */
export interface PollProblems {
  readonly failures: number
  readonly throttled: number
  /** When counts were last written, on the caller's clock (ms); `undefined`: never. */
  readonly writtenAt: number | undefined
}

export const noPollProblems: PollProblems = { failures: 0, throttled: 0, writtenAt: undefined }

/** Counts one failed poll; a throttled poll is a failure too. */
export const countFailedPoll = (state: PollProblems, throttled: boolean): PollProblems => ({
  ...state,
  failures: state.failures + 1,
  throttled: state.throttled + (throttled ? 1 : 0)
})

/**
 * Whether the counts are due at `now`: not zero, and the first ever or a
 * minute (`pollProblemsIntervalMs`) or more after the last. When due, `write`
 * holds them and `next` starts again from zero; otherwise `next` is `state`.
 * `final: true` (the sidecar is ending) writes what is left whatever the time.
 */
export const pollProblemsDue = (
  state: PollProblems,
  now: number,
  options: { readonly final?: boolean } = {}
): {
  readonly write: { readonly failures: number; readonly throttled: number } | undefined
  readonly next: PollProblems
} => {
  const due = state.failures + state.throttled > 0 &&
    (options.final === true || state.writtenAt === undefined || now - state.writtenAt >= pollProblemsIntervalMs)
  return due
    ? {
      write: { failures: state.failures, throttled: state.throttled },
      next: { failures: 0, throttled: 0, writtenAt: now }
    }
    : { write: undefined, next: state }
}

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
