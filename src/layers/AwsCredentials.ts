// Where the AWS clients get credentials: one provider shared by every client,
// so a task fetches its task-role credentials once, not once per client.
import { memoize } from "@smithy/core/config"
import { Context, Effect, Layer } from "effect"
import {
  type AwsCredentialIdentity,
  type AwsCredentialIdentityProvider,
  type CredentialSource,
  CredentialsUnavailable
} from "../aws/credentials.ts"
import { ConfigInvalid } from "../errors.ts"

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
 * A refresh that fails while the credentials in hand are still valid keeps
 * them: a slow endpoint must not fail polls that would have been signed.
 */
export const shareCredentials = (
  fetch: () => Promise<AwsCredentialIdentity>,
  now: () => number = Date.now
): AwsCredentialIdentityProvider => {
  let inHand: AwsCredentialIdentity | undefined
  const stillValid = (c: AwsCredentialIdentity | undefined): c is AwsCredentialIdentity =>
    c !== undefined && (c.expiration === undefined || c.expiration.getTime() > now())
  return memoize(
    () =>
      fetch().then(
        (fresh) => (inHand = fresh),
        (error: unknown) => {
          if (stillValid(inHand)) return inHand
          throw error
        }
      ),
    (c) => c.expiration !== undefined && c.expiration.getTime() - now() < refreshBeforeExpiry,
    (c) => c.expiration !== undefined
  )
}

/**
 * The SDK serves AWS_CONTAINER_CREDENTIALS_FULL_URI only over HTTPS, from a
 * loopback address or from the ECS/EKS agent's: anything else it refuses at
 * every fetch. Refused once here, it is a configuration error naming the variable.
 */
const checkContainerUri = Effect.gen(function*() {
  const full = process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? ""
  if (full === "" || (process.env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ?? "") !== "") return
  const { fromHttp } = yield* Effect.promise(() => import("@aws-sdk/credential-provider-http"))
  yield* Effect.try({
    try: () => fromHttp({ awsContainerCredentialsFullUri: full }),
    catch: () =>
      new ConfigInvalid({
        variable: "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        value: full,
        expected:
          "an https:// URL, or http:// on a loopback address or the ECS/EKS agent's (169.254.170.2, 169.254.170.23)"
      })
  })
})

export class AwsCredentials extends Context.Service<AwsCredentials, {
  readonly source: CredentialSource
  readonly provider: AwsCredentialIdentityProvider
}>()("nlb-sidecar/AwsCredentials") {
  static readonly layer = Layer.effect(
    AwsCredentials,
    Effect.gen(function*() {
      const source = credentialSource(process.env)
      yield* Effect.logInfo("AWS credentials").pipe(Effect.annotateLogs({ source }))
      if (source === "container") yield* checkContainerUri
      // Imported on first use: building the layer costs nothing until a client signs a request.
      let chain: Promise<AwsCredentialIdentityProvider> | undefined
      const fetch = source === "container"
        // One attempt: the sidecar's own retries (src/layers/Startup.ts) decide, log and bound every retry.
        ? () => import("@aws-sdk/credential-provider-http").then(({ fromHttp }) => fromHttp({ maxRetries: 0 })())
        : async () =>
          (await (chain ??= import("@aws-sdk/credential-provider-node").then(({ defaultProvider }) =>
            defaultProvider()
          )))()
      const fetchOrExplain = () =>
        fetch().catch((error: unknown) => Promise.reject(new CredentialsUnavailable(source, error)))
      return { source, provider: shareCredentials(fetchOrExplain) }
    })
  )

  /** Fixed credentials, for tests against the simulator. */
  static readonly layerStatic = (credentials: AwsCredentialIdentity) =>
    Layer.succeed(AwsCredentials, { source: "default-chain", provider: () => Promise.resolve(credentials) })
}
