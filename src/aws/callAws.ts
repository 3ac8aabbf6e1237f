// The one place where AWS SDK promises become Effects: timeouts, abort on
// interruption, and SDK errors mapped to AwsCallFailed.
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry"
import { Effect } from "effect"
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

/** Runs one SDK call; interrupting the fiber aborts the HTTP request. */
export const callAws = <A>(
  action: string,
  send: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, AwsCallFailed> =>
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
    })
  )

/** `arn:aws:ecs:eu-west-1:123456789012:task/...` → `eu-west-1`. */
export const regionFromArn = (arn: string): string | undefined => arn.split(":")[3] || undefined
