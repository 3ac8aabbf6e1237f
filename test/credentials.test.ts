// Which credentials provider serves an environment, and the cache that lets
// every AWS client share one task-role fetch.
import { describe, expect, it } from "@effect/vitest"
import { type AwsCredentialIdentity, credentialSource, shareCredentials } from "../src/layers/AwsCredentials.ts"

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

describe("shareCredentials", () => {
  const issued = (n: number, expiresAt?: number): AwsCredentialIdentity => ({
    accessKeyId: `AKID${n}`,
    secretAccessKey: "secret",
    ...(expiresAt === undefined ? {} : { expiration: new Date(expiresAt) })
  })

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
