// Hostile or broken input as the real process meets it: a metadata endpoint
// that drips or floods its body, and settings that would crash or leak.
import { describe, expect, it } from "vitest"
import { runScenario, stopWhen } from "./harness.ts"

/**
 * Past the metadata request's own 5 s limit, so that one request is cut by it before STARTUP_TIMEOUT
 * ends the whole; with room for a slow start (the deadline counts from process start, and loading
 * the code takes seconds on a busy machine).
 */
const startupTimeoutSeconds = 9
/**
 * STARTUP_TIMEOUT counts from process start and cuts a request under way: exit 3 then is the
 * behaviour, so it stays a time bound; 3 s past the deadline is room for a loaded machine to end
 * the process, and still short of another 5 s request.
 */
const exitWithinMs = startupTimeoutSeconds * 1000 + 3000

const errorText = (run: { logs: ReadonlyArray<Record<string, unknown>> }) =>
  run.logs.filter((l) => l.level === "error").map((l) => String(l.message)).join("\n")

describe.concurrent("e2e: a hostile metadata endpoint", () => {
  it("a body that drips a byte at a time: each request cut after 5 s, exit 3 at STARTUP_TIMEOUT, not a hang", async () => {
    const run = await runScenario("awsvpc", {
      faults: [{ api: "metadata", action: "task", from: 0, until: 600_000, kind: "drip", delayMs: 100 }],
      env: { STARTUP_TIMEOUT: String(startupTimeoutSeconds) },
      timeoutMs: exitWithinMs + 10_000
    })
    expect(run.code, run.stdout + run.stderr).toBe(3)
    expect(run.exitedAt - run.spawnedAt).toBeLessThan(exitWithinMs)
    expect(errorText(run)).toContain(`no usable answer within STARTUP_TIMEOUT=${startupTimeoutSeconds}s; last: `)
    expect(errorText(run)).toContain("no complete answer within 5 seconds")
    expect(run.logs.some((l) => l.message === "reading task metadata failed, retrying")).toBe(true)
  })

  it("a 20 MiB body: not read past 1 MiB, exit 3, and the process stays small", async () => {
    const run = await runScenario("awsvpc", {
      faults: [{
        api: "metadata",
        action: "task",
        from: 0,
        until: 600_000,
        kind: "oversized",
        bytes: 20 * 1024 * 1024
      }],
      // Room for a second answer after the first is cut at 1 MiB, also on a loaded machine.
      env: { STARTUP_TIMEOUT: String(startupTimeoutSeconds) },
      timeoutMs: exitWithinMs + 10_000
    })
    expect(run.code, run.stdout + run.stderr).toBe(3)
    expect(errorText(run)).toContain("larger than 1 MiB")
    expect(run.requests.filter((r) => r.api === "metadata").length).toBeGreaterThan(1)
    // Reading and parsing the whole body peaked near 170 MiB; a normal run of the test build peaks near 80.
    expect(run.peakRssMiB).toBeGreaterThan(0)
    expect(run.peakRssMiB).toBeLessThan(120)
  })
})

describe.concurrent("e2e: hostile settings", () => {
  it.each(["file:///etc/passwd", "ftp://169.254.170.2/v4/x"])(
    "ECS_CONTAINER_METADATA_URI_V4=%s: exit 2 naming the variable, no stack",
    async (value) => {
      const run = await runScenario("awsvpc", { env: { ECS_CONTAINER_METADATA_URI_V4: value } })
      expect(run.code, run.stdout + run.stderr).toBe(2)
      expect(errorText(run)).toContain(`ECS_CONTAINER_METADATA_URI_V4=${JSON.stringify(value)} is invalid`)
      expect(run.stdout).not.toContain("TypeError")
      expect(run.requests).toEqual([])
    }
  )

  it("a user:password in ECS_CONTAINER_METADATA_URI_V4 is never logged", async () => {
    // The right endpoint with a password, then one where nothing listens: both log the URI.
    const password = "pa55-w0rd-in-uri"
    const [works, refused] = await Promise.all([
      runScenario("awsvpc", {
        drainAtMs: 1500,
        env: (sim) => ({
          ECS_CONTAINER_METADATA_URI_V4: sim.metadataUri.replace("http://", `http://operator:${password}@`)
        })
      }),
      runScenario("awsvpc", {
        env: { ECS_CONTAINER_METADATA_URI_V4: `http://operator:${password}@127.0.0.1:9/v4/x`, STARTUP_TIMEOUT: "1" }
      })
    ])
    expect(works.code, works.stdout + works.stderr).toBe(0)
    expect(works.logs.find((l) => l.message === "configuration")?.metadataUri).toMatch(
      /^http:\/\/\[redacted\]@127\.0\.0\.1:\d+\/v4\//
    )
    expect(refused.code, refused.stdout + refused.stderr).toBe(3)
    expect(errorText(refused)).toContain("http://[redacted]@127.0.0.1:9/v4/x/task")
    for (const run of [works, refused]) expect(run.stdout + run.stderr).not.toContain(password)
  })

  it("HEARTBEAT_FILE= (empty): exit 2 naming the variable, before any request", async () => {
    const run = await runScenario("awsvpc", { env: { HEARTBEAT_FILE: "" } })
    expect(run.code, run.stdout + run.stderr).toBe(2)
    expect(errorText(run)).toContain(`HEARTBEAT_FILE="" is invalid`)
    expect(run.requests).toEqual([])
  })
})

describe.concurrent("e2e: request material in AWS answers", () => {
  it("a signature mismatch while polling quotes the canonical request: logged without the session token, and ridden out", async () => {
    // The simulator's container credentials endpoint serves this session token.
    const sessionToken = "simulated-session-token"
    const run = await runScenario("awsvpc", {
      drainAtMs: 60_000,
      faults: [{ api: "elbv2", action: "DescribeTargetHealth", from: 0, until: 600_000, kind: "signature-mismatch" }],
      onLog: stopWhen((l) => l.message === "poll failed").onLog
    })
    expect(run.code, run.stdout + run.stderr).toBe(0)
    const failed = run.logs.find((l) => l.message === "poll failed")
    expect(failed, run.stdout).toMatchObject({ level: "warn", error: "SignatureDoesNotMatch" })
    expect(String(failed?.detail)).toContain("x-amz-security-token:[redacted]")
    expect(run.stdout + run.stderr).not.toContain(sessionToken)
  })
})
