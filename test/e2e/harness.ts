// Runs the built sidecar (dist/main.js) as a real process against the local
// simulator, with short timings, and collects what it did.
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { decodeScenario, type Fault } from "../../src/simulator/scenario.ts"
import { loadScenario, type ScenarioOptions } from "../../src/simulator/scenarios.ts"
import { type RecordedRequest, type RunningSimulator, sidecarEnvironment, startSimulator } from "../../src/simulator/server.ts"

export const mainJs = fileURLToPath(new URL("../../dist/main.js", import.meta.url))

export interface SidecarRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Date.now() when the process was spawned and when it exited. */
  readonly spawnedAt: number
  readonly exitedAt: number
  readonly logs: ReadonlyArray<Record<string, unknown>>
  readonly stdout: string
  readonly stderr: string
}

export interface RunOptions {
  readonly env: Record<string, string | undefined>
  readonly args?: ReadonlyArray<string>
  /** Hard stop for a test that went wrong; every run ends by itself well before. */
  readonly timeoutMs?: number
  /** Called with each parsed log line; may signal the process. */
  readonly onLog?: (line: Record<string, unknown>, child: { kill: (signal: NodeJS.Signals) => void; elapsedMs: () => number }) => void
}

export const runSidecar = (options: RunOptions): Promise<SidecarRun> => {
  if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`)
  return new Promise((resolve, reject) => {
    const spawnedAt = Date.now()
    const child = spawn(process.execPath, [mainJs, ...(options.args ?? [])], {
      env: { PATH: process.env.PATH, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const logs: Array<Record<string, unknown>> = []
    let stdout = ""
    let stderr = ""
    let pending = ""
    const killer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000)
    const handle = { kill: (signal: NodeJS.Signals) => child.kill(signal), elapsedMs: () => Date.now() - spawnedAt }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
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
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, spawnedAt, exitedAt: Date.now(), logs, stdout, stderr })
    })
  })
}

/** Short timings; everything on 127.0.0.1. */
export const sidecarEnv = (sim: RunningSimulator, extra: Record<string, string> = {}) => ({
  ...sidecarEnvironment(sim, "e2e"),
  DEREGISTRATION_WAIT: "1",
  LOG_LEVEL: "debug",
  ...extra
})


export interface ScenarioRun extends SidecarRun {
  readonly requests: ReadonlyArray<RecordedRequest>
  /** When the process exited, on the simulator's clock (ms). */
  readonly exitT: number
  readonly spawnT: number
}

/** Starts the simulator with a built-in scenario, runs the sidecar against it, stops both. */
export const runScenario = async (
  name: string,
  options: ScenarioOptions & {
    readonly env?: Record<string, string | undefined>
    readonly args?: ReadonlyArray<string>
    readonly onLog?: RunOptions["onLog"]
    readonly timeoutMs?: number
    /** Added to the scenario's own faults. */
    readonly faults?: ReadonlyArray<Fault>
  } = {}
): Promise<ScenarioRun> => {
  const scenario = loadScenario(name, options.drainAtMs === undefined ? {} : { drainAtMs: options.drainAtMs })
  const sim = await startSimulator({ scenario: decodeScenario({ ...scenario, faults: [...scenario.faults, ...(options.faults ?? [])] }) })
  try {
    const run = await runSidecar({
      env: { ...sidecarEnv(sim), ...options.env },
      ...(options.args === undefined ? {} : { args: options.args }),
      ...(options.onLog === undefined ? {} : { onLog: options.onLog }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs })
    })
    return { ...run, requests: sim.requests(), exitT: run.exitedAt - sim.startedAt, spawnT: run.spawnedAt - sim.startedAt }
  } finally {
    await sim.close()
  }
}

export const healthPolls = (requests: ReadonlyArray<RecordedRequest>, targetGroupArn?: string) =>
  requests.filter((r) => r.api === "elbv2" && r.action === "DescribeTargetHealth" && (targetGroupArn === undefined || r.params.TargetGroupArn === targetGroupArn))
