// The sidecar's settings: one Effect Config over the environment, validated by
// schemas, never silently defaulted when a value is present but wrong (an empty
// value is present: the provider keeps empty strings).
import { Config as EffectConfig, ConfigProvider, Context, Effect, Layer, Schema, SchemaTransformation } from "effect"
import { ConfigInvalid } from "../errors.ts"
import { defaultHeartbeatFile, heartbeatFileFrom } from "../heartbeat.ts"
import { namespaceProblem } from "../metrics/emf.ts"
import { defaultNamespace } from "../metrics/records.ts"
import { redact } from "../redact.ts"

export type LogLevelName = Settings["logLevel"]
export type LogFormat = Settings["logFormat"]

/** Each group is one DescribeTargetHealth per poll from the account's shared ELBv2 API budget. */
export const maxTargetGroupArns = 10

// Every value is trimmed, and an empty one is an error like any other.
const Text = Schema.Trim.check(Schema.isNonEmpty())

const WholeNumber = (minimum: number, maximum: number) =>
  Text.check(Schema.isPattern(/^\d{1,9}$/)).pipe(
    Schema.decodeTo(Schema.Int.check(Schema.isBetween({ minimum, maximum })), SchemaTransformation.numberFromString)
  )

const OneOf = <const L extends ReadonlyArray<string>>(values: L) =>
  Text.pipe(
    Schema.decodeTo(Schema.String, SchemaTransformation.toLowerCase()),
    Schema.decodeTo(Schema.Literals(values))
  )

const booleans: Record<string, boolean> = { true: true, false: false, "1": true, "0": false, yes: true, no: false }
const Flag = OneOf(["true", "false", "1", "0", "yes", "no"]).pipe(
  Schema.decodeTo(
    Schema.Boolean,
    SchemaTransformation.transform({ decode: (s) => booleans[s] ?? false, encode: (b) => (b ? "true" : "false") })
  )
)

const Region = Text.check(Schema.isPattern(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/))

const TargetGroupArns = Text.pipe(
  Schema.decodeTo(
    Schema.Array(
      Schema.String.check(
        Schema.isPattern(
          /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/
        )
      )
    )
      .check(Schema.isMaxLength(maxTargetGroupArns)),
    SchemaTransformation.transform<ReadonlyArray<string>, string>({
      decode: (raw) => [...new Set(raw.split(",").map((s) => s.trim()))],
      encode: (arns) => arns.join(",")
    })
  )
)

/** What node:http can fetch: an http:// or https:// URL with a host (a file:// or ftp:// one would crash the request). */
const HttpUrl = Text.check(Schema.makeFilter((raw) => {
  const url = URL.parse(raw)
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
}))

const HeartbeatFile = Schema.String.check(Schema.makeFilter((raw) => heartbeatFileFrom(raw) !== undefined))

const Namespace = Text.check(Schema.makeFilter((raw) => namespaceProblem(raw) === undefined))

/** One variable: its schema, and what an operator reads when the value does not fit. */
const variable = <A>(name: string, schema: Schema.Codec<A, string>, expected: string) => ({
  name,
  expected,
  config: EffectConfig.schema(schema, name)
})

const variables = {
  DEREGISTRATION_WAIT: variable("DEREGISTRATION_WAIT", WholeNumber(0, 86_400), "whole seconds from 0 to 86400"),
  DRAIN_STRATEGY: variable(
    "DRAIN_STRATEGY",
    OneOf(["auto", "fixed", "connections"]),
    "one of auto, fixed, connections"
  ),
  DRAIN_MIN_WAIT: variable("DRAIN_MIN_WAIT", WholeNumber(0, 86_400), "whole seconds from 0 to DEREGISTRATION_WAIT"),
  DRAIN_IDLE_SECONDS: variable("DRAIN_IDLE_SECONDS", WholeNumber(1, 3_600), "whole seconds from 1 to 3600"),
  POLLING_FREQUENCY: variable("POLLING_FREQUENCY", WholeNumber(1, 3_600), "whole seconds from 1 to 3600"),
  TARGET_CONTAINER_NAME: variable("TARGET_CONTAINER_NAME", Text, "a container name from the task definition"),
  DRAIN_EXIT_CODE: variable("DRAIN_EXIT_CODE", WholeNumber(0, 255), "an exit code from 0 to 255"),
  LOG_LEVEL: variable("LOG_LEVEL", OneOf(["debug", "info", "warn", "error"]), "one of debug, info, warn, error"),
  LOG_FORMAT: variable("LOG_FORMAT", OneOf(["json", "text"]), "one of json, text"),
  AWS_REGION: variable("AWS_REGION", Region, "an AWS region such as us-east-1"),
  AWS_DEFAULT_REGION: variable("AWS_DEFAULT_REGION", Region, "an AWS region such as us-east-1"),
  STARTUP_TIMEOUT: variable("STARTUP_TIMEOUT", WholeNumber(1, 3_600), "whole seconds from 1 to 3600"),
  TARGET_GROUP_ARNS: variable(
    "TARGET_GROUP_ARNS",
    TargetGroupArns,
    `at most ${maxTargetGroupArns} comma-separated target group ARNs (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)`
  ),
  DRY_RUN: variable("DRY_RUN", Flag, "true or false"),
  ECS_CONTAINER_METADATA_URI_V4: variable(
    "ECS_CONTAINER_METADATA_URI_V4",
    HttpUrl,
    "the agent's http:// (or https://) URI"
  ),
  HEARTBEAT_FILE: variable("HEARTBEAT_FILE", HeartbeatFile, "a file path (not a directory)"),
  METRICS: variable("METRICS", OneOf(["emf", "off"]), "one of emf, off"),
  METRICS_NAMESPACE: variable(
    "METRICS_NAMESPACE",
    Namespace,
    "a CloudWatch namespace: up to 255 letters, digits and . - _ / # : or space, not starting with AWS/ or :"
  )
} as const

const optional = <A>(v: { readonly config: EffectConfig.Config<A> }) =>
  v.config.pipe(EffectConfig.withDefault(undefined))

/** Every setting, with the defaults the README documents. */
const settingsConfig = EffectConfig.all({
  deregistrationWaitSeconds: variables.DEREGISTRATION_WAIT.config.pipe(EffectConfig.withDefault(120)),
  drainStrategy: variables.DRAIN_STRATEGY.config.pipe(EffectConfig.withDefault("auto" as const)),
  drainMinWaitSeconds: optional(variables.DRAIN_MIN_WAIT),
  drainIdleSeconds: variables.DRAIN_IDLE_SECONDS.config.pipe(EffectConfig.withDefault(5)),
  pollingFrequencySeconds: variables.POLLING_FREQUENCY.config.pipe(EffectConfig.withDefault(30)),
  targetContainerName: optional(variables.TARGET_CONTAINER_NAME),
  drainExitCode: variables.DRAIN_EXIT_CODE.config.pipe(EffectConfig.withDefault(0)),
  logLevel: variables.LOG_LEVEL.config.pipe(EffectConfig.withDefault("info" as const)),
  logFormat: variables.LOG_FORMAT.config.pipe(EffectConfig.withDefault("json" as const)),
  // AWS_REGION first, as in every AWS SDK; otherwise the task ARN decides.
  region: EffectConfig.all([optional(variables.AWS_REGION), optional(variables.AWS_DEFAULT_REGION)]).pipe(
    EffectConfig.map(([region, defaultRegion]) => region ?? defaultRegion)
  ),
  startupTimeoutSeconds: variables.STARTUP_TIMEOUT.config.pipe(EffectConfig.withDefault(120)),
  targetGroupArns: variables.TARGET_GROUP_ARNS.config.pipe(EffectConfig.withDefault<ReadonlyArray<string>>([])),
  dryRun: variables.DRY_RUN.config.pipe(EffectConfig.withDefault(false)),
  metadataUri: optional(variables.ECS_CONTAINER_METADATA_URI_V4),
  heartbeatFile: variables.HEARTBEAT_FILE.config.pipe(EffectConfig.withDefault(defaultHeartbeatFile())),
  metrics: variables.METRICS.config.pipe(EffectConfig.withDefault("emf" as const)),
  metricsNamespace: variables.METRICS_NAMESPACE.config.pipe(EffectConfig.withDefault(defaultNamespace))
})

export type Settings = typeof settingsConfig extends EffectConfig.Config<infer A> ? A : never

export type Environment = Readonly<Record<string, string | undefined>>

/** The variable a config error is about: the first segment of the path its schema issue points at. */
const variableOf = (error: EffectConfig.ConfigError): string | undefined => {
  if (error.cause._tag !== "SchemaError") return undefined
  const issue = error.cause.issue
  return issue._tag === "Pointer" ? String(issue.path[0]) : undefined
}

/** Reads and validates the settings from `env`; a value that does not fit fails naming the variable. */
export const readSettings = (env: Environment): Effect.Effect<Settings, ConfigInvalid> =>
  settingsConfig.parse(
    ConfigProvider.fromEnv({
      env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)),
      preserveEmptyStrings: true
    })
  ).pipe(
    Effect.mapError((error) => {
      const name = variableOf(error) ?? "environment"
      const known = Object.values(variables).find((v) => v.name === name)
      // The message quotes the value: never a password in it.
      return new ConfigInvalid({
        variable: name,
        value: redact(env[name] ?? ""),
        expected: known?.expected ?? error.message
      })
    }),
    // The floor is never above the bound: DEREGISTRATION_WAIT is the longest the sidecar waits.
    Effect.filterOrFail(
      (s) => s.drainMinWaitSeconds === undefined || s.drainMinWaitSeconds <= s.deregistrationWaitSeconds,
      (s) =>
        new ConfigInvalid({
          variable: "DRAIN_MIN_WAIT",
          value: String(s.drainMinWaitSeconds),
          expected: `whole seconds from 0 to DEREGISTRATION_WAIT (${s.deregistrationWaitSeconds})`
        })
    )
  )

export class Config extends Context.Service<Config, Settings>()("nlb-sidecar/Config") {
  /** The process environment, read once when the layer is built. */
  static readonly layer = Layer.effect(Config, Effect.suspend(() => readSettings(process.env)))

  static readonly layerFrom = (env: Environment) => Layer.effect(Config, readSettings(env))

  /** The defaults (an empty environment), with `overrides`. */
  static readonly layerTest = (overrides: Partial<Settings> = {}) =>
    Layer.effect(Config, readSettings({}).pipe(Effect.orDie, Effect.map((defaults) => ({ ...defaults, ...overrides }))))
}
