// Runs the built sidecar (dist/main.js) as a real process against the local
// simulator, with short timings, and collects what it did.
import { spawn } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Fault, Scenario } from "../../simulator/scenario.ts"
import { loadScenario, type ScenarioOptions } from "../../simulator/scenarios.ts"
import {
  type RecordedRequest,
  type RunningSimulator,
  sidecarEnvironment,
  startSimulator
} from "../../simulator/server.ts"

/**
 * Epoch milliseconds on the monotonic clock, as the simulator counts its time:
 * Date.now() can be a second or more off it in a long-lived test worker.
 */
export const clock = (): number => performance.timeOrigin + performance.now()

export const mainJs = fileURLToPath(new URL("../../dist/main.js", import.meta.url))

export interface SidecarRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** When the process was spawned and when it exited, on `clock`. */
  readonly spawnedAt: number
  readonly exitedAt: number
  readonly logs: ReadonlyArray<Record<string, unknown>>
  readonly stdout: string
  readonly stderr: string
  /** The process's peak resident memory (VmHWM), sampled while it ran; 0 where /proc is missing. */
  readonly peakRssMiB: number
}

export interface RunOptions {
  readonly env: Record<string, string | undefined>
  readonly args?: ReadonlyArray<string>
  /** Hard stop for a test that went wrong; every run ends by itself well before. */
  readonly timeoutMs?: number
  /** Called with each parsed log line; may signal the process. */
  readonly onLog?: (line: Record<string, unknown>, child: { kill: (signal: NodeJS.Signals) => void }) => void
  /** Called with each chunk of stderr; may signal the process. */
  readonly onStderr?: (chunk: string, child: { kill: (signal: NodeJS.Signals) => void }) => void
  /** Where stdout goes: a pipe the harness reads (the default), one it closes at once, or a file descriptor. */
  readonly stdout?: "pipe" | "closed" | number
  /** Sends SIGTERM this long after the start, for runs that log nothing to react to. */
  readonly sigtermAfterMs?: number
}

/** VmHWM of a running process, in MiB; 0 once it is gone. */
const peakRss = (pid: number | undefined): number => {
  try {
    return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? 0) / 1024
  } catch {
    return 0
  }
}

export const runSidecar = (options: RunOptions): Promise<SidecarRun> => {
  if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`)
  return new Promise((resolve, reject) => {
    const spawnedAt = clock()
    const stdoutTo = options.stdout ?? "pipe"
    const child = spawn(process.execPath, [mainJs, ...(options.args ?? [])], {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ["ignore", typeof stdoutTo === "number" ? stdoutTo : "pipe", "pipe"]
    })
    const logs: Array<Record<string, unknown>> = []
    let stdout = ""
    let stderr = ""
    let pending = ""
    let peakRssMiB = 0
    const sampler = setInterval(() => (peakRssMiB = Math.max(peakRssMiB, peakRss(child.pid))), 20)
    const killer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
    const terminator = options.sigtermAfterMs === undefined
      ? undefined
      : setTimeout(() => child.kill("SIGTERM"), options.sigtermAfterMs)
    const handle = { kill: (signal: NodeJS.Signals) => child.kill(signal) }
    if (stdoutTo === "closed") child.stdout?.destroy()
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      pending += chunk
      const lines = pending.split("\n")
      pending = lines.pop() ?? ""
      for (const line of lines) {
        if (line.trim() === "") continue
        try {
          const parsed = JSON.parse(line) as Record<string, unknown>
          logs.push(parsed)
          options.onLog?.(parsed, handle)
        } catch {
          // not a JSON log line (text format or a report)
        }
      }
    })
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      options.onStderr?.(chunk, handle)
    })
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(killer)
      clearTimeout(terminator)
      clearInterval(sampler)
      resolve({ code, signal, spawnedAt, exitedAt: clock(), logs, stdout, stderr, peakRssMiB })
    })
  })
}

/** An `onLog` that sends SIGTERM at the first line `predicate` accepts; `signalledAt` says when (on `clock`), 0 before. */
export const stopWhen = (predicate: (line: Record<string, unknown>) => boolean) => {
  let signalledAt = 0
  const onLog: NonNullable<RunOptions["onLog"]> = (line, child) => {
    if (signalledAt === 0 && predicate(line)) {
      signalledAt = clock()
      child.kill("SIGTERM")
    }
  }
  return { onLog, signalledAt: () => signalledAt }
}

/** Short timings; everything on 127.0.0.1. */
export const sidecarEnv = (sim: RunningSimulator, extra: Record<string, string> = {}) => ({
  ...sidecarEnvironment(sim, "e2e"),
  DEREGISTRATION_WAIT: "1",
  LOG_LEVEL: "debug",
  ...extra
})

/**
 * A simulator clock that stands still at 0 until `release()`, then runs: the scenario's timeline
 * (its drain, its fault windows) counts from then, however long a loaded machine took to get there.
 */
const heldClock = () => {
  let heldSince: number | undefined = clock()
  let offset = 0
  return {
    now: () => (heldSince ?? clock()) - offset,
    release: () => {
      if (heldSince === undefined) return
      offset = clock() - heldSince
      heldSince = undefined
    },
    /** A time on `clock`, after the release, on this clock. */
    at: (t: number) => (heldSince ?? t) - offset
  }
}

/** The lines after which the sidecar polls, or says that it cannot start yet. */
const startedLines = new Set(["watching targets", "still not watching: startup keeps failing; retrying"])

export interface ScenarioRun extends SidecarRun {
  readonly requests: ReadonlyArray<RecordedRequest>
  /** When the process exited, and when it was spawned, on the simulator's clock (ms; 0 while it stood still). */
  readonly exitT: number
  readonly spawnT: number
}

/** Starts the simulator with a built-in scenario, runs the sidecar against it, stops both. */
export const runScenario = async (
  name: string,
  options: ScenarioOptions & Omit<RunOptions, "env"> & {
    readonly env?: Record<string, string | undefined> | ((sim: RunningSimulator) => Record<string, string | undefined>)
    /** Added to the scenario's own. */
    readonly faults?: ReadonlyArray<Fault>
    /**
     * When the scenario's time starts: with the simulator (the default), or once the sidecar logs
     * that it is watching (or that startup keeps failing), so that a drain at `drainAtMs` comes
     * after its first polls whatever its start took. Until then the simulator answers as at 0.
     * Needs those info lines on a stdout the harness reads. Wall times the simulator serves (ECS's
     * stoppingAt, the metadata's timestamps) still count from its start.
     */
    readonly clockStarts?: "with-simulator" | "when-watching"
    /** Changes the built-in scenario before the simulator serves it. */
    readonly scenario?: (scenario: Scenario) => Scenario
  } = {}
): Promise<ScenarioRun> => {
  const { drainAtMs, deregistrationDelayMs, targetPort, protocol } = options
  const scenario = loadScenario(name, {
    ...(drainAtMs === undefined ? {} : { drainAtMs }),
    ...(deregistrationDelayMs === undefined ? {} : { deregistrationDelayMs }),
    ...(targetPort === undefined ? {} : { targetPort }),
    ...(protocol === undefined ? {} : { protocol })
  })
  const changed = options.scenario?.(scenario) ?? scenario
  const held = options.clockStarts === "when-watching" ? heldClock() : undefined
  const sim = await startSimulator({
    scenario: { ...changed, faults: [...changed.faults, ...(options.faults ?? [])] },
    ...(held === undefined ? {} : { now: held.now })
  })
  try {
    const {
      env,
      faults: _,
      drainAtMs: __,
      clockStarts: ___,
      scenario: ____,
      deregistrationDelayMs: _____,
      ...runOptions
    } = options
    const run = await runSidecar({
      ...runOptions,
      env: { ...sidecarEnv(sim), ...(typeof env === "function" ? env(sim) : env) },
      onLog: (line, child) => {
        if (startedLines.has(String(line.message))) held?.release()
        options.onLog?.(line, child)
      }
    })
    const onSimulatorClock = (t: number) => (held === undefined ? t : held.at(t)) - sim.startedAt
    return {
      ...run,
      requests: sim.requests(),
      exitT: onSimulatorClock(run.exitedAt),
      spawnT: held === undefined ? run.spawnedAt - sim.startedAt : 0
    }
  } finally {
    await sim.close()
  }
}

export const healthPolls = (requests: ReadonlyArray<RecordedRequest>, targetGroupArn?: string) =>
  requests.filter((r) =>
    r.api === "elbv2" && r.action === "DescribeTargetHealth" &&
    (targetGroupArn === undefined || r.params.TargetGroupArn === targetGroupArn)
  )

/** What the sidecar logs once per group per poll: the reading of its target, no target yet, or a failure. */
const pollMessages = new Set([
  "target state changed",
  "target state unchanged",
  "target is deregistering",
  "target reads as not registered: confirming with one more poll",
  "target still draining from an earlier task",
  "waiting for this task to be registered",
  "poll failed"
])

/** The polls of one target group as the sidecar logged them, in order. */
export const pollsLogged = (logs: ReadonlyArray<Record<string, unknown>>, targetGroupArn: string) =>
  logs.filter((l) => l.targetGroupArn === targetGroupArn && pollMessages.has(String(l.message)))
