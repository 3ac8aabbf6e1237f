// Where the AWS clients get credentials: one provider shared by every client,
// so a task fetches its task-role credentials once, not once per client.
import { memoize } from "@smithy/core/config"
import { Context, Effect, Layer } from "effect"

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
 * In an ECS task, the agent sets AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (or
 * _FULL_URI) for the task role. The SDK's default chain would get there too,
 * but only after loading its profile-file, process and SSO providers (a child
 * process module among them: ~1 MiB of the 64 MiB budget) to rule them out.
 * Anything that could outrank the task role in that chain keeps the chain.
 */
export const credentialSource = (env: Readonly<Record<string, string | undefined>>): CredentialSource => {
  const set = (name: string) => (env[name] ?? "") !== ""
  const taskRole = set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
  const outranksTaskRole = set("AWS_ACCESS_KEY_ID") || set("AWS_PROFILE") || set("AWS_WEB_IDENTITY_TOKEN_FILE")
  return taskRole && !outranksTaskRole ? "container" : "default-chain"
}

/** The SDK refreshes credentials this long before they expire; so does the shared cache. */
const refreshBeforeExpiry = 5 * 60_000

/**
 * One fetch serves every caller until the credentials come within five
 * minutes of expiring; a failed fetch is not remembered, so the next call
 * retries. The SDK's own memoizer, given one instance for all clients.
 */
export const shareCredentials = (
  fetch: () => Promise<AwsCredentialIdentity>,
  now: () => number = Date.now
): AwsCredentialIdentityProvider =>
  memoize(
    fetch,
    (c) => c.expiration !== undefined && c.expiration.getTime() - now() < refreshBeforeExpiry,
    (c) => c.expiration !== undefined
  )

export class AwsCredentials extends Context.Service<AwsCredentials, {
  readonly source: CredentialSource
  readonly provider: AwsCredentialIdentityProvider
}>()("nlb-sidecar/AwsCredentials") {
  static readonly layer = Layer.effect(
    AwsCredentials,
    Effect.gen(function*() {
      const source = credentialSource(process.env)
      yield* Effect.logInfo("AWS credentials").pipe(Effect.annotateLogs({ source }))
      // Imported on first use: building the layer costs nothing until a client signs a request.
      let chain: Promise<AwsCredentialIdentityProvider> | undefined
      const fetch = source === "container"
        ? () => import("@aws-sdk/credential-provider-http").then(({ fromHttp }) => fromHttp()())
        : async () => (await (chain ??= import("@aws-sdk/credential-provider-node").then(({ defaultProvider }) => defaultProvider())))()
      return { source, provider: shareCredentials(fetch) }
    })
  )

  /** Fixed credentials, for tests against the simulator. */
  static readonly layerStatic = (credentials: AwsCredentialIdentity) =>
    Layer.succeed(AwsCredentials, { source: "default-chain", provider: () => Promise.resolve(credentials) })
}
