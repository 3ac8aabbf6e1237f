// Which credentials provider serves an environment, and the cache that lets
// every AWS client share one task-role fetch.
import { afterEach, describe, expect, it, vi } from "@effect/vitest"
import { Cause, Effect, Exit, Layer } from "effect"
import { fromSdkError } from "../src/aws/callAws.ts"
import { type AwsCredentialIdentity, CredentialsUnavailable } from "../src/aws/credentials.ts"
import { exitCodeOf } from "../src/errors.ts"
import { AwsCredentials, credentialSource, shareCredentials } from "../src/layers/AwsCredentials.ts"
import { captureLogs } from "./support/logs.ts"

const taskRole = { AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc" }

describe("credentialSource", () => {
  it("a task role (relative or full URI) goes straight to the container endpoint", () => {
    expect(credentialSource(taskRole)).toBe("container")
    expect(credentialSource({ AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:51679/creds" })).toBe("container")
  })

  it("anything that outranks the task role in the SDK's chain keeps the whole chain", () => {
    expect(credentialSource({ ...taskRole, AWS_ACCESS_KEY_ID: "AKIA" })).toBe("default-chain")
    expect(credentialSource({ ...taskRole, AWS_PROFILE: "ops" })).toBe("default-chain")
    expect(credentialSource({ ...taskRole, AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/token" })).toBe("default-chain")
  })

  it("no task role, or an empty variable, is the default chain", () => {
    expect(credentialSource({})).toBe("default-chain")
    expect(credentialSource({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "" })).toBe("default-chain")
  })
})

const issued = (n: number, expiresAt?: number): AwsCredentialIdentity => ({
  accessKeyId: `AKID${n}`,
  secretAccessKey: "secret",
  ...(expiresAt === undefined ? {} : { expiration: new Date(expiresAt) })
})

describe("shareCredentials", () => {
  it("concurrent callers (one per client) share one fetch", async () => {
    let fetches = 0
    const provider = shareCredentials(async () => issued(++fetches))
    const all = await Promise.all([provider(), provider(), provider()])
    expect(fetches).toBe(1)
    expect(all.map((c) => c.accessKeyId)).toEqual(["AKID1", "AKID1", "AKID1"])
  })

  it("fetches again only within five minutes of expiry", async () => {
    let now = 0
    let fetches = 0
    const provider = shareCredentials(async () => issued(++fetches, now + 60 * 60_000), () => now)
    expect((await provider()).accessKeyId).toBe("AKID1")
    now = 54 * 60_000 // 6 minutes left
    expect((await provider()).accessKeyId).toBe("AKID1")
    now = 56 * 60_000 // 4 minutes left
    const [a, b] = await Promise.all([provider(), provider()])
    expect([a.accessKeyId, b.accessKeyId]).toEqual(["AKID2", "AKID2"])
    expect(fetches).toBe(2)
  })

  it("a failed fetch is not remembered: the next call tries again", async () => {
    let fetches = 0
    const provider = shareCredentials(async () => {
      fetches++
      if (fetches === 1) throw new Error("endpoint not ready")
      return issued(fetches)
    })
    await expect(provider()).rejects.toThrow("endpoint not ready")
    expect((await provider()).accessKeyId).toBe("AKID2")
  })
})

describe("shareCredentials when a refresh fails", () => {
  it("keeps the credentials in hand while they are valid, and tries the endpoint again at each use", async () => {
    let now = 0
    let fetches = 0
    let endpointDown = false
    const provider = shareCredentials(async () => {
      fetches++
      if (endpointDown) throw new Error("connect ECONNREFUSED 169.254.170.2:80")
      return issued(fetches, now + 60 * 60_000)
    }, () => now)
    expect((await provider()).accessKeyId).toBe("AKID1")
    endpointDown = true
    now = 57 * 60_000 // within the refresh window, 3 minutes left
    expect((await provider()).accessKeyId).toBe("AKID1")
    expect((await provider()).accessKeyId).toBe("AKID1")
    expect(fetches).toBe(3)
    now = 61 * 60_000 // expired: nothing valid in hand any more
    await expect(provider()).rejects.toThrow("ECONNREFUSED")
    endpointDown = false
    expect((await provider()).accessKeyId).toBe("AKID5")
  })
})

describe("AwsCredentials layer", () => {
  afterEach(() => void vi.unstubAllEnvs())

  /** Variables that would take precedence over AWS_CONTAINER_CREDENTIALS_FULL_URI. */
  const outranking = [
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE"
  ]

  /** A task role given by AWS_CONTAINER_CREDENTIALS_FULL_URI alone: nothing in the environment outranks it. */
  const withFullUriOnly = (uri: string) =>
    Effect.sync(() => {
      vi.stubEnv("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)
      for (const name of outranking) vi.stubEnv(name, undefined)
    })

  it.effect("an AWS_CONTAINER_CREDENTIALS_FULL_URI the SDK would refuse is exit 2 naming the variable", () =>
    Effect.gen(function*() {
      yield* withFullUriOnly("http://10.0.0.5:51679/creds")
      const exit = yield* Effect.exit(
        AwsCredentials.use(Effect.succeed).pipe(Effect.provide(Layer.merge(AwsCredentials.layer, captureLogs().layer)))
      )
      expect(exitCodeOf(exit)).toBe(2)
      if (Exit.isFailure(exit)) expect(String(Cause.squash(exit.cause))).toContain("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    }))

  it.effect("a loopback or agent address is accepted", () =>
    Effect.gen(function*() {
      yield* withFullUriOnly("http://127.0.0.1:51679/creds")
      const credentials = yield* AwsCredentials.use(Effect.succeed).pipe(
        Effect.provide(Layer.merge(AwsCredentials.layer, captureLogs().layer))
      )
      expect(credentials.source).toBe("container")
    }))

  it("a failed fetch is reported as a credentials problem, not as a permission of the call", async () => {
    const provider = shareCredentials(() =>
      Promise.reject(
        new CredentialsUnavailable(
          "container",
          Object.assign(new Error("Server responded with status: 403"), {
            Code: "AccessDenied",
            Message: "Not authorized"
          })
        )
      )
    )
    const failed = fromSdkError("ecs:DescribeServices", await provider().catch((e: unknown) => e))
    expect(failed).toMatchObject({ code: "CredentialsUnavailable", retryable: true })
    expect(failed.message).toContain("Server responded with status: 403 (AccessDenied: Not authorized)")
    expect(failed.message).toContain("taskRoleArn")
    expect(failed.message).not.toContain("grant the IAM permission")
  })
})
