// The running sidecar stamps a file; `healthcheck` reads the stamp. Only a
// stalled or dead process looks unhealthy: AWS API errors never do, because an
// essential container failing its health check takes the whole task down.
import { tmpdir } from "node:os"
import { join } from "node:path"

export const heartbeatFile = (env: NodeJS.ProcessEnv = process.env): string =>
  env.HEARTBEAT_FILE ?? join(tmpdir(), "nlb-sidecar-for-ecs.heartbeat")

export const heartbeatEveryMillis = 10_000
/** Six missed beats: far beyond any pause of a healthy event loop. */
export const heartbeatMaxAgeMillis = 60_000

export type HealthVerdict = { readonly healthy: true; readonly ageMillis: number } | { readonly healthy: false; readonly why: string }

export const judgeHeartbeat = (content: string | undefined, now: number): HealthVerdict => {
  if (content === undefined) return { healthy: false, why: "no heartbeat file: the sidecar is not running (or cannot write it)" }
  const stamp = Number(content.trim())
  if (!Number.isFinite(stamp)) return { healthy: false, why: `heartbeat file holds ${JSON.stringify(content.slice(0, 40))}, not a time` }
  const ageMillis = now - stamp
  return ageMillis <= heartbeatMaxAgeMillis
    ? { healthy: true, ageMillis }
    : { healthy: false, why: `last heartbeat ${Math.round(ageMillis / 1000)}s ago: the sidecar is stalled` }
}
