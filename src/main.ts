// Entry point. `healthcheck` runs often, next to the sidecar, inside the same
// container memory limit: it must not load Effect or the AWS SDK, so the
// commands are split and imported on demand.
const command = process.argv[2] ?? "run"

if (command === "healthcheck") {
  const { readFileSync } = await import("node:fs")
  const { heartbeatFile, judgeHeartbeat } = await import("./heartbeat.ts")
  let content: string | undefined
  try {
    content = readFileSync(heartbeatFile(), "utf8")
  } catch {
    content = undefined
  }
  const verdict = judgeHeartbeat(content, Date.now())
  console.log(verdict.healthy ? `healthy (heartbeat ${Math.round(verdict.ageMillis / 1000)}s ago)` : `unhealthy: ${verdict.why}`)
  process.exit(verdict.healthy ? 0 : 1)
} else {
  await import("./cli.ts")
}
