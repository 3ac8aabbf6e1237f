// Entry point. `healthcheck` runs often, next to the sidecar, inside the same
// container memory limit: it must not load Effect or the AWS SDK, so the
// commands are split and imported on demand.
// First of all: SIGTERM at any moment is a clean stop (see signals.ts).
import "./signals.ts"

const command = process.argv[2] ?? "run"

if (command === "healthcheck") {
  const { readFileSync } = await import("node:fs")
  const { defaultHeartbeatFile, heartbeatFileFrom, judgeHeartbeat, readClocks } = await import("./heartbeat.ts")
  // HEARTBEAT_FILE and TMPDIR as the sidecar reads them, so the health check needs no shell to expand them.
  const raw = process.env.HEARTBEAT_FILE
  const file = raw === undefined ? defaultHeartbeatFile() : heartbeatFileFrom(raw.trim())
  let content: string | undefined
  try {
    content = file === undefined ? undefined : readFileSync(file, "utf8")
  } catch {
    content = undefined
  }
  const verdict = file === undefined
    ? { healthy: false as const, why: `HEARTBEAT_FILE=${JSON.stringify(raw)} is not a file path` }
    : judgeHeartbeat(content, readClocks())
  console.log(verdict.healthy ? `healthy (heartbeat ${Math.round(verdict.ageMillis / 1000)}s ago)` : `unhealthy: ${verdict.why}`)
  process.exit(verdict.healthy ? 0 : 1)
} else {
  await import("./cli.ts")
}
