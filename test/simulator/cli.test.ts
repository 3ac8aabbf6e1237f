// The simulator as a process: one JSON line, serves until SIGTERM or
// --exit-after-ms, exit 2 naming a bad flag.
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const cli = fileURLToPath(new URL("../../simulator/cli.ts", import.meta.url))

interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const run = (args: ReadonlyArray<string>, onLine?: (line: string, child: ChildProcess) => void) =>
  new Promise<Exit>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    const killer = setTimeout(() => child.kill("SIGKILL"), 10_000)
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const first = stdout === ""
      stdout += chunk
      if (first && onLine !== undefined) onLine(stdout.split("\n")[0] ?? "", child)
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, stdout, stderr })
    })
  })

describe.concurrent("node simulator/cli.ts", () => {
  it("prints one JSON line, serves the scenario, exits 0 on SIGTERM", async () => {
    let served: Promise<unknown> | undefined
    const exit = await run(["--scenario", "bridge", "--drain-at-ms", "100"], (line, child) => {
      const info = JSON.parse(line) as { metadataUri: string }
      served = fetch(`${info.metadataUri}/task`).then((r) => r.json()).finally(() => child.kill("SIGTERM"))
    })
    expect(exit).toMatchObject({ code: 0, signal: null, stderr: "" })
    const lines = exit.stdout.trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] ?? "")).toEqual({
      endpoint: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      metadataUri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v4\/[0-9a-f-]{36}$/),
      credentialsUri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v2\/credentials\//),
      region: "us-east-1",
      scenario: "bridge"
    })
    expect(await served).toMatchObject({ Family: "web", ServiceName: "web" })
  })

  it("--exit-after-ms ends it by itself with 0", async () => {
    const exit = await run(["--scenario", "awsvpc", "--exit-after-ms", "100"])
    expect(exit.code).toBe(0)
    expect(JSON.parse(exit.stdout)).toMatchObject({ scenario: "awsvpc" })
  })

  it.each([
    [["--scenario", "awsvpc", "--port", "abc"], "--port=\"abc\": expected a whole number"],
    [["--scenario", "awsvpc", "--drain-at-ms", "-5"], "--drain-at-ms"],
    [["--scenario", "nope"], "--scenario: unknown scenario \"nope\""],
    [["--drain-at-ms", "100"], "--scenario: required"],
    [["--scenario", "awsvpc", "--bogus"], "'--bogus'"]
  ])("%j: exit 2 naming the flag", async (args, message) => {
    const exit = await run(args)
    expect(exit.code).toBe(2)
    expect(exit.stdout).toBe("")
    expect(exit.stderr).toContain(message)
  })
})
