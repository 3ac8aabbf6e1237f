// The one place where AWS SDK promises become Effects: timeouts, abort on
// interruption, SDK errors mapped to AwsCallFailed, and each call noted for
// whoever keeps a log of them (`check`).
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry"
import { Cause, Context, Effect, Exit } from "effect"
import { AwsCallFailed } from "../errors.ts"
import { redact } from "../redact.ts"
import { type AwsCredentialIdentityProvider, CredentialsUnavailable } from "./credentials.ts"

/**
 * Retrying happens in the program (see src/layers/Startup.ts), not in the SDK: one
 * place decides, logs and bounds every retry, and SDK attempts never
 * multiply with ours. Hence `maxAttempts: 1` on every client.
 */
export const sdkClientConfig = (region: string, credentials: AwsCredentialIdentityProvider) =>
  ({ region, credentials, maxAttempts: 1 }) as const

/** No call may stall the poll loop; the SDK request is aborted when this fires. */
export const requestTimeout = "10 seconds"

interface SdkErrorLike {
  readonly name?: unknown
  /** awsQuery services (ELBv2) put the wire code here; `name` is the SDK's exception class. */
  readonly Code?: unknown
  readonly code?: unknown
  readonly message?: unknown
  readonly $fault?: unknown
  readonly $metadata?: {
    readonly httpStatusCode?: number
    readonly requestId?: string
    readonly clockSkewCorrected?: boolean
  }
}

type SdkError = Parameters<typeof isTransientError>[0]

/**
 * Transient: the SDK's own classification (throttling, timeouts, 5xx, socket
 * errors, and a clock skew it has just corrected, so that the next attempt is
 * signed right), plus what the SDK does not see: a failed credentials fetch
 * (the agent's endpoint restarting), an expired token (refetched on retry), and
 * a 2xx whose body did not parse.
 */
const isTransient = (e: SdkErrorLike & Error, credentials: boolean): boolean => {
  const sdk = e as SdkError
  return credentials || isThrottlingError(sdk) || isTransientError(sdk) || isServerError(sdk) ||
    e.$fault === "server" ||
    e.name === "ExpiredToken" || e.name === "ExpiredTokenException" ||
    unparseable(e)
}

/** A 2xx whose body the SDK could not read: an answer that says nothing, not a refusal. */
const unparseable = (e: SdkErrorLike): boolean => {
  const status = e.$metadata?.httpStatusCode
  return status !== undefined && status >= 200 && status < 300
}

export const fromSdkError = (action: string, error: unknown): AwsCallFailed => {
  const e: SdkErrorLike & Error = typeof error === "object" && error !== null
    ? error as SdkErrorLike & Error
    : new Error(String(error))
  const status = e.$metadata?.httpStatusCode
  const requestId = e.$metadata?.requestId
  const credentials = error instanceof CredentialsUnavailable
  // Node socket errors carry `code` (ECONNRESET, ECONNREFUSED…) and no HTTP status.
  const networkCode = typeof e.code === "string" && /^E[A-Z]+$/.test(e.code) ? e.code : undefined
  const wireCode = typeof e.Code === "string" && e.Code !== "" ? e.Code : undefined
  const code = credentials
    ? "CredentialsUnavailable"
    : unparseable(e)
    ? "UnparseableAnswer"
    : networkCode ?? wireCode ?? (typeof e.name === "string" && e.name !== "Error" ? e.name : "UnknownError")
  return new AwsCallFailed({
    action,
    code,
    // A signature mismatch quotes the canonical request, session token included.
    detail: redact(typeof e.message === "string" && e.message !== "" ? e.message : String(error)),
    retryable: networkCode !== undefined || isTransient(e, credentials),
    ...(isThrottlingError(e as SdkError) ? { throttled: true } : {}),
    ...(status === undefined ? {} : { httpStatus: status }),
    ...(requestId === undefined ? {} : { requestId })
  })
}

/** One AWS call as `check` reports it: the IAM action, and the code AWS refused or failed it with. */
export interface AwsCallRecord {
  readonly action: string
  readonly error?: string
}

/**
 * Where each AWS call is noted: nowhere, unless a program (`check`) provides
 * a log to report the IAM actions used and how each went.
 */
export const AwsCallLog = Context.Reference<Array<AwsCallRecord> | undefined>("nlb-sidecar/AwsCallLog", {
  defaultValue: () => undefined
})

/**
 * Notes `self`, one call of `action`, in the AwsCallLog. Only AwsCallFailed
 * counts against the call: an answer (InvalidTarget, say) is a call that
 * went through, and a call cut off by interruption says nothing.
 */
export const noteCall = (action: string) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.service(AwsCallLog),
    (log) =>
      log === undefined ? self : self.pipe(Effect.onExit((exit) =>
        Effect.sync(() => {
          if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return
          const failure = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
          const error = failure?._tag === "Fail" && failure.error instanceof AwsCallFailed ? failure.error : undefined
          log.push(error === undefined ? { action } : { action, error: error.code })
        })
      ))
  )

/**
 * Runs one SDK call; interrupting the fiber aborts the HTTP request.
 * `answers` names the wire codes that answer the request rather than fail it
 * (ELBv2's InvalidTarget: the targets are not registered), each turned into
 * its own tagged error for the caller to catch by tag.
 */
export const callAws = <A, E = never>(
  action: string,
  send: (signal: AbortSignal) => Promise<A>,
  answers: { readonly [code: string]: (failed: AwsCallFailed) => E } = {}
): Effect.Effect<A, AwsCallFailed | E> =>
  Effect.tryPromise({ try: (signal) => send(signal), catch: (error) => fromSdkError(action, error) }).pipe(
    Effect.timeoutOrElse({
      duration: requestTimeout,
      orElse: () =>
        Effect.fail(
          new AwsCallFailed({
            action,
            code: "RequestTimeout",
            detail: `no answer within ${requestTimeout}`,
            retryable: true
          })
        )
    }),
    Effect.catchIf(
      (failed): failed is AwsCallFailed => Object.hasOwn(answers, failed.code),
      (failed) => Effect.fail(answers[failed.code]!(failed))
    ),
    noteCall(action)
  )

/** `arn:aws:ecs:eu-west-1:123456789012:task/...` → `eu-west-1`. */
export const regionFromArn = (arn: string): string | undefined => arn.split(":")[3] || undefined
