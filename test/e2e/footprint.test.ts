// What the built sidecar must never load, because each costs megabytes under a
// 64 MiB limit and the sidecar needs none of it (docs/performance.md).
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { runScenario } from "./harness.ts"

const preload = fileURLToPath(new URL("../support/record-builtins.cjs", import.meta.url))

describe("e2e: footprint", () => {
  it("a full run (ECS discovery, task-role credentials, polls, drain) loads no undici, http2, child_process or fs/promises", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "nlb-sidecar-builtins-")), "loaded.txt")
    const run = await runScenario("awsvpc", {
      drainAtMs: 1_500,
      env: { NODE_OPTIONS: `--require ${preload}`, RECORD_BUILTINS_FILE: file, DEREGISTRATION_WAIT: "1" }
    })
    expect(run.code, run.stderr).toBe(0)
    const loaded = readFileSync(file, "utf8").split("\n")
    // The preload saw the whole run: HTTP, TLS and crypto are there.
    expect(loaded).toEqual(expect.arrayContaining(["NativeModule https", "NativeModule crypto"]))
    // An ESM import of node:http reads its WebSocket export, which loads all of these (+8 MiB).
    expect(loaded).not.toContain("NativeModule internal/deps/undici/undici")
    expect(loaded).not.toContain("NativeModule http2")
    // The SDK's default credentials chain loads its credential_process provider (node:child_process).
    expect(loaded).not.toContain("NativeModule child_process")
    // An ESM import of node:fs reads fs.promises (readline and the REPL history come with it), and one of
    // node:process reads process.report; the SDK's config-file reads go through the callback API.
    expect(loaded).not.toContain("NativeModule fs/promises")
    expect(loaded).not.toContain("NativeModule internal/readline/interface")
    expect(loaded).not.toContain("NativeModule internal/process/report")
  })

  it("a dynamic import() of a built-in in the bundle still has its named exports (the SDK's IMDS client uses http.request)", async () => {
    const chunks = fileURLToPath(new URL("../../dist/chunks/", import.meta.url))
    const expected: Record<string, string> = { http: "request", fs: "readFileSync" }
    const shims = readdirSync(chunks).filter((f) => /^(http|fs)-\w+\.js$/.test(f))
    expect(shims.map((f) => f.split("-")[0])).toContain("http")
    for (const file of shims) {
      const mod = (await import(join(chunks, file))) as Record<string, unknown>
      expect(typeof mod[expected[file.split("-")[0] ?? ""] ?? ""], file).toBe("function")
      expect(mod.WebSocket, file).toBeUndefined()
    }
  })
})
