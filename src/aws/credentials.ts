// What the AWS clients sign with, and the one way fetching it fails: the
// shapes callAws and the AwsCredentials layer share.

/** The SDK's AwsCredentialIdentity, as much of it as the sidecar touches. */
export interface AwsCredentialIdentity {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken?: string
  readonly expiration?: Date
}
export type AwsCredentialIdentityProvider = () => Promise<AwsCredentialIdentity>

/** Which provider serves this environment; the SDK's full default chain unless it is plainly a task role. */
export type CredentialSource = "container" | "default-chain"

/**
 * The credentials could not be fetched: a failure of the credentials source,
 * not of the AWS call it was for (and never an IAM permission of that call).
 */
export class CredentialsUnavailable extends Error {
  override readonly name = "CredentialsUnavailable"
  constructor(source: CredentialSource, cause: unknown) {
    const e = cause as { message?: unknown; Code?: unknown; Message?: unknown }
    const said = typeof e?.Code === "string"
      ? ` (${e.Code}${typeof e.Message === "string" ? `: ${e.Message}` : ""})`
      : ""
    super(
      `${
        source === "container"
          ? "the task role's credentials from the container credentials endpoint"
          : "no credentials from the SDK's default chain"
      }: ${typeof e?.message === "string" ? e.message : String(cause)}${said}`,
      { cause }
    )
  }
}
