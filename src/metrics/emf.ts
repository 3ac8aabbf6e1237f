// CloudWatch embedded metric format (EMF): one JSON object per event, which
// CloudWatch Logs turns into metrics when the awslogs driver (or FireLens)
// ships the line; the record builder and the checks on what it carries.
// Pure: no clock, no output here.
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
