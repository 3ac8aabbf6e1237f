// Every way the sidecar can end, each with the process exit code an operator
// sees in the ECS console (documented in the README's exit-code table).
import { Cause, Exit, Runtime, Schema } from "effect"

export const ExitCode = {
  drained: 0,
  interrupted: 0,
  defect: 1,
  config: 2,
  metadata: 3,
  unsupportedTask: 4,
  awsRefused: 5,
  /** `check` only: `run` never ends on a transient AWS failure, it keeps retrying. */
  awsUnavailable: 6
} as const

/** A variable that does not parse; nothing falls back to a default. */
export class ConfigInvalid extends Schema.TaggedError<ConfigInvalid>()("ConfigInvalid", {
  variable: Schema.String,
  value: Schema.String,
  expected: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = ExitCode.config
  override get message() {
    return `${this.variable}=${JSON.stringify(this.value)} is invalid: expected ${this.expected}`
  }
}

/** The task metadata endpoint could not be reached, or answered something we cannot use. */
export class MetadataUnavailable extends Schema.TaggedError<MetadataUnavailable>()("MetadataUnavailable", {
  url: Schema.String,
  detail: Schema.String,
  retryable: Schema.Boolean
}) {
  override readonly [Runtime.errorExitCode] = ExitCode.metadata
  override get message() {
    return `task metadata endpoint ${this.url}: ${this.detail}`
  }
}

/** The task is not one the sidecar can watch; `fix` tells the operator what to change. */
export class UnsupportedTask extends Schema.TaggedError<UnsupportedTask>()("UnsupportedTask", {
  problem: Schema.String,
  fix: Schema.String
}) {
  override readonly [Runtime.errorExitCode] = ExitCode.unsupportedTask
  override get message() {
    return `${this.problem}. ${this.fix}`
  }
}

/**
 * An AWS API call that failed. `retryable` failures (throttling, 5xx, network,
 * timeouts, credentials) are retried, for as long as they last; the others
 * need the operator (IAM, wrong ARN).
 */
export class AwsCallFailed extends Schema.TaggedError<AwsCallFailed>()("AwsCallFailed", {
  /** The IAM action, e.g. `elasticloadbalancing:DescribeTargetHealth`. */
  action: Schema.String,
  code: Schema.String,
  detail: Schema.String,
  retryable: Schema.Boolean,
  /** AWS refused the call for the request rate (the SDK's own classification). */
  throttled: Schema.optional(Schema.Boolean),
  httpStatus: Schema.optional(Schema.Finite),
  requestId: Schema.optional(Schema.String)
}) {
  override get [Runtime.errorExitCode]() {
    return this.retryable ? ExitCode.awsUnavailable : ExitCode.awsRefused
  }
  override get message() {
    const hint = this.code === "CredentialsUnavailable"
      ? " (a credentials problem, not a permission of this call: check the task definition's taskRoleArn and that the role trusts ecs-tasks.amazonaws.com)"
      : isAccessDenied(this.code)
      ? ` (grant the IAM permission ${this.action} to the task role)`
      : ""
    const id = this.requestId === undefined ? "" : ` [request id ${this.requestId}]`
    return `${this.action} failed with ${this.code}: ${this.detail}${hint}${id}`
  }
}

export const isAccessDenied = (code: string): boolean =>
  code === "AccessDenied" || code === "AccessDeniedException" || code === "UnauthorizedOperation" ||
  code === "UnauthorizedException"

/** The watched target is deregistering and the wait is over: the sidecar's normal end. */
export class Drained extends Schema.TaggedError<Drained>()("Drained", {
  exitCode: Schema.Finite,
  targetGroupArn: Schema.String,
  targetId: Schema.String,
  port: Schema.Finite,
  waitedSeconds: Schema.Finite,
  /** What ended the wait, when it was not a fixed wait: "connections drained after 37 s". */
  why: Schema.optional(Schema.String),
  /** Why ECS stops the task (DescribeTasks), when it could be asked. */
  stopCode: Schema.optional(Schema.String),
  stoppedReason: Schema.optional(Schema.String),
  /** The target group's deregistration delay less the time the task stayed after draining was seen. */
  secondsSaved: Schema.optional(Schema.Finite)
}) {
  override get [Runtime.errorExitCode]() {
    return this.exitCode
  }
  override get message() {
    return `target ${this.targetId}:${this.port} of ${this.targetGroupArn} is deregistering; ${
      this.why ?? `waited ${this.waitedSeconds}s`
    }, exiting with code ${this.exitCode}`
  }
}

/** `check` found a problem; it has already printed the report. */
export class CheckFailed extends Schema.TaggedError<CheckFailed>()("CheckFailed", { exitCode: Schema.Finite }) {
  override get [Runtime.errorExitCode]() {
    return this.exitCode
  }
}

/** Interrupted by SIGTERM/SIGINT is a clean stop (0); otherwise the error's own code. */
export const exitCodeOf = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)
    ? ExitCode.interrupted
    : Runtime.getErrorExitCode(Cause.squash(exit.cause))
