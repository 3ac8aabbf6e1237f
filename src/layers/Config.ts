// The sidecar's settings: read from the environment once, validated, never
// silently defaulted when a value is present but wrong.
import { Context, Effect, Layer } from "effect"
import { ConfigInvalid } from "../errors.ts"
import { defaultHeartbeatFile, heartbeatFileFrom } from "../heartbeat.ts"
import { redact } from "../redact.ts"

export type LogLevelName = "debug" | "info" | "warn" | "error"
export type LogFormat = "json" | "text"
export type DrainStrategy = "fixed" | "connections"

export interface Settings {
  /** `fixed`: the wait after draining is seen; `connections`: the upper bound of it. */
  readonly deregistrationWaitSeconds: number
  readonly drainStrategy: DrainStrategy
  /** The floor of a `connections` wait; unset: by load balancer (NLB 120 s, ALB 0). */
  readonly drainMinWaitSeconds: number | undefined
  /** How long a target's port must have had no connection. */
  readonly drainIdleSeconds: number
  readonly pollingFrequencySeconds: number
  readonly targetContainerName: string | undefined
  readonly drainExitCode: number
  readonly logLevel: LogLevelName
  readonly logFormat: LogFormat
  /** From AWS_REGION / AWS_DEFAULT_REGION; otherwise the task ARN decides. */
  readonly region: string | undefined
  readonly startupTimeoutSeconds: number
  /** Explicit target groups: skips ECS service discovery. */
  readonly targetGroupArns: ReadonlyArray<string>
  readonly dryRun: boolean
  /** Set by the ECS agent: the task metadata endpoint v4 for this container. */
  readonly metadataUri: string | undefined
  /** Stamped every 10 s for the `healthcheck` command. */
  readonly heartbeatFile: string
}

export const defaults: Settings = {
  deregistrationWaitSeconds: 120,
  drainStrategy: "fixed",
  drainMinWaitSeconds: undefined,
  drainIdleSeconds: 5,
  pollingFrequencySeconds: 30,
  targetContainerName: undefined,
  drainExitCode: 0,
  logLevel: "info",
  logFormat: "json",
  region: undefined,
  startupTimeoutSeconds: 120,
  targetGroupArns: [],
  dryRun: false,
  metadataUri: undefined,
  heartbeatFile: defaultHeartbeatFile()
}

type Parser<A> = (raw: string) => A | undefined

const wholeNumber = (min: number, max: number): Parser<number> => (raw) => {
  if (!/^\d{1,9}$/.test(raw)) return undefined
  const n = Number(raw)
  return n >= min && n <= max ? n : undefined
}

const oneOf = <const A extends string>(values: ReadonlyArray<A>): Parser<A> => (raw) =>
  values.find((v) => v === raw.toLowerCase())

const regionPattern = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/
const targetGroupArnPattern = /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/

/** Each group is one DescribeTargetHealth per poll from the account's shared ELBv2 API budget. */
export const maxTargetGroupArns = 10

const parseTargetGroupArns: Parser<ReadonlyArray<string>> = (raw) => {
  const arns = [...new Set(raw.split(",").map((s) => s.trim()))]
  return arns.length <= maxTargetGroupArns && arns.every((arn) => targetGroupArnPattern.test(arn)) ? arns : undefined
}

/** What node:http can fetch: an http:// or https:// URL with a host (a file:// or ftp:// one would crash the request). */
const httpUrl: Parser<string> = (raw) => {
  const url = URL.parse(raw)
  return url !== null && (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "" ? raw : undefined
}

const booleans: Record<string, boolean> = { true: true, false: false, "1": true, "0": false, yes: true, no: false }

export type Environment = Readonly<Record<string, string | undefined>>

/**
 * Reads one variable: absent gives the default, present must parse. The raw
 * environment is read rather than Effect's Config, which treats an empty value
 * as unset and would quietly default `POLLING_FREQUENCY=`.
 */
const setting = <A>(env: Environment, variable: string, parse: Parser<A>, expected: string, fallback: A) => {
  const raw = env[variable]
  if (raw === undefined) return Effect.succeed(fallback)
  const value = raw.trim() === "" ? undefined : parse(raw.trim())
  // The message quotes the value: never a password in it.
  return value === undefined ? Effect.fail(new ConfigInvalid({ variable, value: redact(raw), expected })) : Effect.succeed(value)
}

export const loadSettings = (env: Environment): Effect.Effect<Settings, ConfigInvalid> => Effect.gen(function*() {
  const region = yield* setting(env, "AWS_REGION", (r) => regionPattern.test(r) ? r : undefined, "an AWS region such as us-east-1", undefined)
  const defaultRegion = yield* setting(env, "AWS_DEFAULT_REGION", (r) => regionPattern.test(r) ? r : undefined, "an AWS region such as us-east-1", undefined)
  const deregistrationWaitSeconds = yield* setting(env, "DEREGISTRATION_WAIT", wholeNumber(0, 86_400), "whole seconds from 0 to 86400", defaults.deregistrationWaitSeconds)
  return {
    deregistrationWaitSeconds,
    drainStrategy: yield* setting(env, "DRAIN_STRATEGY", oneOf(["fixed", "connections"] as const), "one of fixed, connections", defaults.drainStrategy),
    // The floor is never above the bound: DEREGISTRATION_WAIT is the longest the sidecar waits.
    drainMinWaitSeconds: yield* setting(
      env,
      "DRAIN_MIN_WAIT",
      wholeNumber(0, deregistrationWaitSeconds),
      `whole seconds from 0 to DEREGISTRATION_WAIT (${deregistrationWaitSeconds})`,
      defaults.drainMinWaitSeconds
    ),
    drainIdleSeconds: yield* setting(env, "DRAIN_IDLE_SECONDS", wholeNumber(1, 3_600), "whole seconds from 1 to 3600", defaults.drainIdleSeconds),
    pollingFrequencySeconds: yield* setting(env, "POLLING_FREQUENCY", wholeNumber(1, 3_600), "whole seconds from 1 to 3600", defaults.pollingFrequencySeconds),
    targetContainerName: yield* setting(env, "TARGET_CONTAINER_NAME", (s) => s, "a container name from the task definition", defaults.targetContainerName),
    drainExitCode: yield* setting(env, "DRAIN_EXIT_CODE", wholeNumber(0, 255), "an exit code from 0 to 255", defaults.drainExitCode),
    logLevel: yield* setting(env, "LOG_LEVEL", oneOf(["debug", "info", "warn", "error"] as const), "one of debug, info, warn, error", defaults.logLevel),
    logFormat: yield* setting(env, "LOG_FORMAT", oneOf(["json", "text"] as const), "one of json, text", defaults.logFormat),
    region: region ?? defaultRegion,
    startupTimeoutSeconds: yield* setting(env, "STARTUP_TIMEOUT", wholeNumber(1, 3_600), "whole seconds from 1 to 3600", defaults.startupTimeoutSeconds),
    targetGroupArns: yield* setting(env, "TARGET_GROUP_ARNS", parseTargetGroupArns, `at most ${maxTargetGroupArns} comma-separated target group ARNs (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)`, defaults.targetGroupArns),
    dryRun: yield* setting(env, "DRY_RUN", (s) => booleans[s.toLowerCase()], "true or false", defaults.dryRun),
    metadataUri: yield* setting(env, "ECS_CONTAINER_METADATA_URI_V4", httpUrl, "the agent's http:// (or https://) URI", undefined),
    heartbeatFile: yield* setting(env, "HEARTBEAT_FILE", heartbeatFileFrom, "a file path (not a directory)", defaults.heartbeatFile)
  }
})

export class Config extends Context.Service<Config, Settings>()("nlb-sidecar/Config") {
  static readonly layer = Layer.effect(Config, Effect.suspend(() => loadSettings(process.env)))

  static readonly layerTest = (overrides: Partial<Settings> = {}) =>
    Layer.succeed(Config, { ...defaults, ...overrides })
}
