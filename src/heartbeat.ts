// The running sidecar stamps a file; `healthcheck` reads the stamp. Only a
// stalled or dead process looks unhealthy: AWS API errors never do, because an
// essential container failing its health check takes the whole task down.
// Loaded by `healthcheck` too, which must stay small: Node built-ins only.
import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const defaultHeartbeatFile = (): string => join(tmpdir(), "nlb-sidecar-for-ecs.heartbeat")

/** A HEARTBEAT_FILE value that names a file, or undefined: empty, or a directory (a trailing `/`). */
export const heartbeatFileFrom = (raw: string): string | undefined =>
  raw.trim() === "" || raw.endsWith("/") ? undefined : raw

export const heartbeatEveryMillis = 10_000
/** Six missed beats: far beyond any pause of a healthy event loop. */
export const heartbeatMaxAgeMillis = 60_000

/**
 * The two clocks a stamp carries. The wall clock (Date.now()) can be stepped
 * by NTP or by hand: a step forward would make a fresh stamp look stale, and
 * an essential container failing its health check takes the task down.
 * `healthcheck` is a separate process, so the monotonic clock must be one
 * both processes read alike: CLOCK_BOOTTIME, which /proc/uptime shows, is
 * the same for every process on the host and only moves forward (Node's
 * process.hrtime and performance.now promise nothing about their origin
 * across processes). Where /proc/uptime cannot be read, the wall clock decides.
 */
export interface Clocks {
  readonly wallMillis: number
  readonly bootMillis: number | undefined
}

const bootMillis = (): number | undefined => {
  try {
    const seconds = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0])
    return Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined
  } catch {
    return undefined
  }
}

export const readClocks = (): Clocks => ({ wallMillis: Date.now(), bootMillis: bootMillis() })

/** `WALL BOOT` in milliseconds, or `WALL` alone without a boot clock. */
export const formatStamp = (clocks: Clocks): string =>
  clocks.bootMillis === undefined ? String(clocks.wallMillis) : `${clocks.wallMillis} ${clocks.bootMillis}`

/**
 * Replaces the file whole, by renaming a finished temporary file over it: a
 * reader sees the previous stamp or this one, never an empty or half-written
 * file. The temporary file sits next to it, on the same file system.
 */
export const writeHeartbeat = (file: string, clocks: Clocks = readClocks()): void => {
  const temporary = `${file}.${process.pid}.tmp`
  try {
    writeFileSync(temporary, formatStamp(clocks))
    renameSync(temporary, file)
  } catch (error) {
    rmSync(temporary, { force: true })
    throw error
  }
}

export type HealthVerdict = { readonly healthy: true; readonly ageMillis: number } | {
  readonly healthy: false
  readonly why: string
}

export const judgeHeartbeat = (content: string | undefined, now: Clocks): HealthVerdict => {
  if (content === undefined) {
    return { healthy: false, why: "no heartbeat file: the sidecar is not running (or cannot write it)" }
  }
  const stamp = content.trim().match(/^(\d{1,16})(?: (\d{1,16}))?$/)
  if (stamp === null) {
    return { healthy: false, why: `heartbeat file holds ${JSON.stringify(content.slice(0, 40))}, not a time` }
  }
  const wall = Number(stamp[1])
  const boot = stamp[2] === undefined ? undefined : Number(stamp[2])
  // A negative age on the boot clock means another boot (the file outlived the host's restart): the wall clock decides.
  const byBoot = boot === undefined || now.bootMillis === undefined ? undefined : now.bootMillis - boot
  const ageMillis = byBoot !== undefined && byBoot >= 0 ? byBoot : now.wallMillis - wall
  return ageMillis <= heartbeatMaxAgeMillis
    ? { healthy: true, ageMillis }
    : { healthy: false, why: `last heartbeat ${Math.round(ageMillis / 1000)}s ago: the sidecar is stalled` }
}

/**
 * The `healthcheck` command: reads HEARTBEAT_FILE (and TMPDIR) as the sidecar
 * does, so that the check needs no shell to expand them; prints the verdict
 * and returns the exit code.
 */
export const runHealthcheck = (env: NodeJS.ProcessEnv): number => {
  const raw = env.HEARTBEAT_FILE
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
  console.log(
    verdict.healthy ? `healthy (heartbeat ${Math.round(verdict.ageMillis / 1000)}s ago)` : `unhealthy: ${verdict.why}`
  )
  return verdict.healthy ? 0 : 1
}
