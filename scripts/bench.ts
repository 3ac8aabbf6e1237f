// `npm run bench [-- --runs N --seconds N --node PATH --limit-mib N]`: the built sidecar as a whole
// process against the local simulator, on the Node that runs this script (or the
// one --node names, to compare releases). Prints one table of medians (min–max).
// Never fails on timing; a sidecar that ends before its run is over is a failed run.
import { build } from "esbuild"
import { execFileSync, spawn, spawnSync } from "node:child_process"
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync
} from "node:fs"
import { request as httpRequest } from "node:http"
import { createServer as createHttpsServer } from "node:https"
import type { AddressInfo } from "node:net"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { gzipSync } from "node:zlib"
import { loadScenario } from "../simulator/scenarios.ts"
import { sidecarEnvironment, startSimulator } from "../simulator/server.ts"
import { type GeneratedTables, writeSocketTables } from "../simulator/socketTables.ts"

// `npm run bench -- fleet [options]`: the account-scale fleet on virtual time instead (scripts/fleet.ts).
if (process.argv[2] === "fleet") {
  const fleet = spawnSync(process.execPath, [join(import.meta.dirname, "fleet.ts"), ...process.argv.slice(3)], {
    stdio: "inherit"
  })
  process.exit(fleet.status ?? 1)
}

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "5" },
    seconds: { type: "string", default: "60" },
    node: { type: "string", default: process.execPath },
    "limit-mib": { type: "string", default: "64" }
  }
})
const limitMiB = Math.max(32, Math.min(1024, Number(values["limit-mib"])))
const nodeBinary = values.node
const runs = Math.max(1, Math.min(20, Number(values.runs)))
const seconds = Math.max(5, Math.min(600, Number(values.seconds)))
const clockTicks = 100 // USER_HZ on Linux
// Measure what the image runs: the environment its runtime stage sets (NODE_OPTIONS, MALLOC_*…) and
// the node flags of its ENTRYPOINT (those NODE_OPTIONS refuses). Any of those variables set here
// overrides the image's, to compare settings.
const dockerfile = readFileSync("Dockerfile", "utf8")
const imageEnv: Record<string, string> = Object.fromEntries(
  [...(dockerfile.split(/^FROM /m).at(-1) ?? "").matchAll(/^ENV (\w+)=(.*)$/gm)].filter(([, k]) => k !== "PATH").map((
    [, k = "", v = ""]
  ) => [
    k,
    process.env[k] ?? v.replace(/^"(.*)"$/, "$1")
  ])
)
const entrypoint: Array<string> = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]")
const nodeFlags = entrypoint.slice(1, entrypoint.findIndex((a) => a.endsWith("dist/main.js")))
const nodeVersion = execFileSync(nodeBinary, ["--version"], { encoding: "utf8" }).trim()

const status = (pid: number) => {
  try {
    return Object.fromEntries(
      readFileSync(`/proc/${pid}/status`, "utf8").split("\n").map((l) => l.split(/:\s+/)).filter((p) => p.length === 2)
        .map(([k, v]) => [k, Number.parseInt(v ?? "", 10)])
    )
  } catch {
    return {}
  }
}
const cpuSeconds = (pid: number) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? []
    return (Number(fields[11]) + Number(fields[12])) / clockTicks // utime + stime
  } catch {
    return NaN
  }
}

/** A kernel memory cgroup with a hard limit, as ECS gives a container (v1 here; undefined when not writable). */
const memoryCgroup = (limitMiB: number) => {
  const dir = `/sys/fs/cgroup/memory/nlb-sidecar-bench-${process.pid}`
  try {
    mkdirSync(dir)
    writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitMiB * 1048576))
    try {
      writeFileSync(join(dir, "memory.memsw.limit_in_bytes"), String(limitMiB * 1048576))
    } catch {
      // no swap accounting: the memory limit alone binds
    }
    // Started through a shell that first joins the cgroup, so that every page the process touches is charged to it.
    const joinThenExec = `echo $$ > ${dir}/cgroup.procs && exec "$0" "$@"`
    return {
      command: (argv: ReadonlyArray<string>) => ["/bin/sh", "-c", joinThenExec, ...argv],
      peakMiB: () => Number(readFileSync(join(dir, "memory.max_usage_in_bytes"), "utf8")) / 1048576,
      oomKills: () => Number(/oom_kill (\d+)/.exec(readFileSync(join(dir, "memory.oom_control"), "utf8"))?.[1] ?? 0),
      remove: () => rmdirSync(dir)
    }
  } catch {
    return undefined
  }
}

interface Sample {
  readonly hwmMiB: number
  readonly anonMiB: number
  readonly firstRequestMs: number
  readonly firstPollMs: number
  readonly cpuPerPollMs: number
  readonly startupCpuS: number
  readonly apiCallsOk: boolean
  readonly cgroupPeakMiB: number | undefined
  /** The same cgroup's peak once the health check has also run in it. */
  readonly cgroupPeakWithHealthcheckMiB: number | undefined
  readonly healthchecksOk: boolean
  readonly oomKills: number | undefined
}

/** A sidecar that ended before its run was over, or did not stop cleanly on SIGTERM: the run failed. */
class FailedRun extends Error {
  readonly lastLines: ReadonlyArray<string>
  constructor(
    what: string,
    [code, signal]: readonly [number | null, NodeJS.Signals | null],
    lastLines: ReadonlyArray<string>
  ) {
    super(`the sidecar ${what} with exit code ${code ?? `none (signal ${signal})`}`)
    this.lastLines = lastLines
  }
}

/** The README's ECS health check, exec form: no shell and none of the ENTRYPOINT's node flags, the image's environment. */
const healthcheckArgs = ["dist/main.js", "healthcheck"]

/**
 * An HTTPS front for the simulator's AWS endpoint, as real AWS speaks TLS (the metadata and
 * credentials endpoints stay plain HTTP, as in a task). Self-signed: the sidecar trusts it
 * through NODE_EXTRA_CA_CERTS, on top of Node's bundled CAs.
 */
const tlsFront = async (target: string) => {
  const upstream = new URL(target)
  const server = createHttpsServer(
    { key: readFileSync("scripts/bench-tls/key.pem"), cert: readFileSync("scripts/bench-tls/cert.pem") },
    (req, res) => {
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(res)
        }
      )
      forward.on("error", () => res.destroy())
      req.pipe(forward)
    }
  )
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/**
 * Under the cgroup the sidecar runs a private copy of node: in a container nothing else maps
 * the binary, so every page of it the sidecar touches is read in and charged to the container,
 * while this script's own node, when it is the same file, keeps much of it resident uncharged.
 */
let privateNode: string | undefined
const coldNode = () => {
  if (privateNode === undefined) {
    mkdirSync(".bench", { recursive: true })
    privateNode = resolve(".bench", `node-${process.pid}`)
    copyFileSync(nodeBinary, privateNode)
    chmodSync(privateNode, 0o755)
    process.on("exit", () => rmSync(privateNode ?? "", { force: true }))
  }
  return privateNode
}

const runOnce = async (cgroupLimitMiB: number | undefined, tls = false): Promise<Sample> => {
  const sim = await startSimulator({ scenario: loadScenario("awsvpc", { drainAtMs: 3_600_000 }) })
  const front = tls ? await tlsFront(sim.endpoint) : undefined
  const cgroup = cgroupLimitMiB === undefined ? undefined : memoryCgroup(cgroupLimitMiB)
  const env = {
    PATH: process.env.PATH,
    ...imageEnv,
    ...sidecarEnvironment(sim, "bench"),
    ...(front === undefined
      ? {}
      : { AWS_ENDPOINT_URL: front.endpoint, NODE_EXTRA_CA_CERTS: "scripts/bench-tls/cert.pem" }),
    LOG_LEVEL: "debug"
  }
  const command = cgroup === undefined
    ? [nodeBinary, ...nodeFlags, "dist/main.js"]
    : cgroup.command([coldNode(), ...nodeFlags, "dist/main.js"])
  if (cgroup !== undefined) {
    // A fresh container pages node's own code in and is charged for it: start from a cold page cache.
    try {
      execFileSync("sync")
      writeFileSync("/proc/sys/vm/drop_caches", "3")
    } catch {
      // not root: the figure then leaves out pages already cached by other processes
    }
  }
  const spawnedAt = Date.now()
  const child = spawn(command[0] ?? "", command.slice(1), { env, stdio: ["ignore", "pipe", "pipe"] })
  // Listened for from the start: the process may end at any time.
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("close", (code, signal) => resolve([code, signal]))
  )
  let endedAt: number | undefined
  void closed.then(() => (endedAt = Date.now()))
  let firstPollDelay = 0
  let anonPeak = 0
  const lastLines: Array<string> = []
  const keep = (chunk: string) =>
    lastLines.push(...chunk.split("\n").filter((l) => l !== "")) > 20 && lastLines.splice(0, lastLines.length - 20)
  child.stderr.setEncoding("utf8").on("data", keep)
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    keep(chunk)
    const m = /"first poll scheduled","inMs":(\d+)/.exec(chunk)
    if (m !== null) firstPollDelay = Number(m[1])
  })
  const sampler = setInterval(() => (anonPeak = Math.max(anonPeak, status(child.pid ?? 0).RssAnon ?? 0)), 100)
  let cpuAtFirstPoll = NaN
  const firstPollWatch = setInterval(() => {
    if (Number.isNaN(cpuAtFirstPoll) && sim.requests().some((r) => r.action === "DescribeTargetHealth")) {
      cpuAtFirstPoll = cpuSeconds(child.pid ?? 0)
    }
  }, 50)
  // Under a cgroup, the health check also runs in it, as ECS runs it in the container, from two thirds of the run on.
  const healthchecksAt = cgroup === undefined ? [] : [(seconds * 2) / 3, (seconds * 5) / 6]
  let cgroupPeakAlone: number | undefined
  const healthchecks: Array<number | null> = []
  let elapsed = 0
  for (const at of [...healthchecksAt, seconds]) {
    let timeout: NodeJS.Timeout | undefined
    const timer = new Promise<"timer">((r) => (timeout = setTimeout(() => r("timer"), (at - elapsed) * 1000)))
    const first = await Promise.race([timer, closed])
    clearTimeout(timeout)
    if (first !== "timer") break
    elapsed = at
    if (at === seconds || cgroup === undefined) break
    cgroupPeakAlone ??= cgroup.peakMiB()
    const [shell = "", ...argv] = cgroup.command([coldNode(), ...healthcheckArgs])
    const check = spawn(shell, argv, { env, stdio: "ignore" })
    healthchecks.push(await new Promise<number | null>((r) => check.on("close", r)))
  }
  clearInterval(sampler)
  clearInterval(firstPollWatch)
  const finish = async () => {
    await front?.close()
    await sim.close()
    cgroup?.remove()
  }
  if (endedAt !== undefined) {
    await finish()
    throw new FailedRun(
      `ended ${((endedAt - spawnedAt) / 1000).toFixed(1)} s into a ${seconds} s run`,
      await closed,
      lastLines
    )
  }
  const hwm = status(child.pid ?? 0).VmHWM ?? NaN
  const cpuTotal = cpuSeconds(child.pid ?? 0)
  child.kill("SIGTERM")
  const exit = await closed
  if (exit[0] !== 0) {
    await finish()
    throw new FailedRun("stopped on SIGTERM", exit, lastLines)
  }
  const requests = sim.requests()
  const cgroupPeak = cgroup?.peakMiB()
  const oomKills = cgroup?.oomKills()
  await finish()
  const t0 = spawnedAt - sim.startedAt
  const aws = requests.filter((r) => r.api === "ecs" || r.api === "elbv2")
  const polls = aws.filter((r) => r.action === "DescribeTargetHealth")
  const firstPollAt = polls[0]?.t ?? NaN
  const afterStartup = aws.filter((r) => r.t >= firstPollAt)
  const sample: Sample = {
    hwmMiB: hwm / 1024,
    anonMiB: anonPeak / 1024,
    firstRequestMs: (aws[0]?.t ?? NaN) - t0,
    firstPollMs: firstPollAt - t0 - firstPollDelay,
    cpuPerPollMs: ((cpuTotal - cpuAtFirstPoll) / Math.max(1, polls.length - 1)) * 1000,
    startupCpuS: cpuAtFirstPoll,
    // One target group in this scenario: one DescribeTargetHealth per poll, nothing else after startup.
    apiCallsOk: afterStartup.every((r) => r.action === "DescribeTargetHealth") && polls.length >= seconds * 0.8 &&
      polls.length <= seconds * 1.1 + 1,
    cgroupPeakMiB: cgroupPeakAlone ?? cgroupPeak,
    cgroupPeakWithHealthcheckMiB: cgroupPeakAlone === undefined ? undefined : cgroupPeak,
    healthchecksOk: healthchecks.length === healthchecksAt.length && healthchecks.every((c) => c === 0),
    oomKills
  }
  return sample
}

const healthcheckPeak = async () => {
  const child = spawn(nodeBinary, healthcheckArgs, {
    env: { PATH: process.env.PATH, ...imageEnv, HEARTBEAT_FILE: "/nonexistent" },
    stdio: "ignore"
  })
  let peak = 0
  const sampler = setInterval(() => (peak = Math.max(peak, status(child.pid ?? 0).VmHWM ?? 0)), 5)
  await new Promise((r) => child.on("close", r))
  clearInterval(sampler)
  return peak / 1024
}

/**
 * DRAIN_STRATEGY=connections through a drain, reading generated socket tables (NLB_SIDECAR_TEST_SOCKET_TABLES):
 * the wait samples them once a second until DEREGISTRATION_WAIT (one in ten sockets is open on the target
 * port), then, in DRY_RUN, stays. Its peak RSS once the wait is over, and the CPU it spent waiting.
 */
const tableWaitSeconds = 15
const runWithTables = async (tables: GeneratedTables) => {
  const sim = await startSimulator({ scenario: loadScenario("awsvpc", { drainAtMs: 2_000, protocol: "HTTP" }) })
  const env = {
    PATH: process.env.PATH,
    ...imageEnv,
    ...sidecarEnvironment(sim, "bench"),
    DRAIN_STRATEGY: "connections",
    DEREGISTRATION_WAIT: String(tableWaitSeconds),
    DRY_RUN: "true",
    NLB_SIDECAR_TEST_SOCKET_TABLES: tables.paths
  }
  const child = spawn(nodeBinary, [...nodeFlags, "dist/main.js"], { env, stdio: ["ignore", "pipe", "pipe"] })
  const closed = new Promise<number | null>((resolve) => child.on("close", resolve))
  let cpuAtWait = NaN
  const done = new Promise<boolean>((resolve) => {
    const timeout = setTimeout(() => resolve(false), (tableWaitSeconds + 30) * 1000)
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      if (chunk.includes("waiting for connections to close")) cpuAtWait = cpuSeconds(child.pid ?? 0)
      if (chunk.includes("dry run: would exit")) {
        clearTimeout(timeout)
        resolve(true)
      }
    })
  })
  const ok = await done
  const hwm = (status(child.pid ?? 0).VmHWM ?? NaN) / 1024
  const waitCpuS = cpuSeconds(child.pid ?? 0) - cpuAtWait
  child.kill("SIGTERM")
  await closed
  await sim.close()
  return ok ? { hwmMiB: hwm, cpuPerSampleMs: (waitCpuS * 1000) / tableWaitSeconds } : undefined
}

const median = (xs: ReadonlyArray<number>) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return s.length === 0
    ? NaN
    : s.length % 2 === 1
    ? s[(s.length - 1) / 2] ?? NaN
    : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2
}
const row = (name: string, xs: ReadonlyArray<number>, unit: string, digits = 1) => {
  const ok = xs.filter((x) => Number.isFinite(x))
  return ok.length === 0
    ? `${name.padEnd(58)} n/a`
    : `${name.padEnd(58)} ${median(ok).toFixed(digits).padStart(8)} ${unit.padEnd(6)} (${
      Math.min(...ok).toFixed(digits)
    }–${Math.max(...ok).toFixed(digits)})`
}

const dist = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((f) => statSync(join(dir, f)).isDirectory() ? dist(join(dir, f)) : [join(dir, f)])
const js = dist("dist").filter((f) => f.endsWith(".js"))
const raw = js.reduce((n, f) => n + statSync(f).size, 0)
const gz = js.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0)

console.log(
  `nlb-sidecar-for-ecs benchmark: Node ${nodeVersion}, the image's environment ${
    JSON.stringify(imageEnv)
  } and node flags ${
    JSON.stringify(nodeFlags)
  }, ${runs} runs of ${seconds} s, POLLING_FREQUENCY=1, one target group, simulator on 127.0.0.1\n`
)
const failed: Array<string> = []
const measure = async (name: string, cgroupLimitMiB: number | undefined, tls = false) => {
  const done: Array<Sample> = []
  for (let i = 0; i < runs; i++) {
    try {
      done.push(await runOnce(cgroupLimitMiB, tls))
    } catch (error) {
      if (!(error instanceof FailedRun)) throw error
      console.error(`${name} run ${i + 1} FAILED: ${error.message}`)
      failed.push(
        `${name} run ${i + 1} FAILED: ${error.message}; its last log lines:\n    ${error.lastLines.join("\n    ")}`
      )
    }
  }
  return done
}
const samples = await measure("plain", undefined)
const overTls = await measure("HTTPS", undefined, true)
const canLimit = memoryCgroup(limitMiB)
canLimit?.remove()
const limited = canLimit === undefined ? [] : await measure(`${limitMiB} MiB cgroup`, limitMiB)
const hc: Array<number> = []
for (let i = 0; i < runs; i++) hc.push(await healthcheckPeak())
// DRAIN_STRATEGY=connections reads the socket table about once a second, only while it waits: one
// sample's CPU, bundled as the sidecar is (with --jitless node cannot strip TypeScript's types).
await build({
  entryPoints: ["scripts/socket-sample.ts"],
  outfile: ".bench/socket-sample.mjs",
  bundle: true,
  platform: "node",
  format: "esm",
  mainFields: ["module", "main"],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: "warning"
})
const socketSample = (tables?: GeneratedTables) =>
  Array.from({ length: runs }, () => {
    const nodeOptions = (imageEnv.NODE_OPTIONS ?? "").split(" ").filter((f) => f !== "")
    const out = spawnSync(nodeBinary, [...nodeFlags, ...nodeOptions, ".bench/socket-sample.mjs", "50"], {
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, ...(tables === undefined ? {} : { NLB_SIDECAR_TEST_SOCKET_TABLES: tables.paths }) }
    })
    return JSON.parse(out.stdout.trim() || "{}") as { readonly cpuMsPerSample?: number; readonly sockets?: number }
  })
const socketSamples = socketSample()
// Generated tables as a host-mode instance (or an NLB service with many long-lived connections) shows them.
const tableSizes = [20, 10_000, 100_000] as const
const generated = tableSizes.map((sockets) =>
  writeSocketTables(join(".bench", `tables-${sockets}`), { sockets, port: 8080, onPortEvery: 10 })
)
const tableRuns: Array<Array<{ readonly hwmMiB: number; readonly cpuPerSampleMs: number } | undefined>> = []
for (const tables of generated) {
  const done = []
  for (let i = 0; i < runs; i++) done.push(await runWithTables(tables))
  tableRuns.push(done)
}
const generatedSamples = generated.map((tables) => socketSample(tables))
for (const sockets of tableSizes) rmSync(join(".bench", `tables-${sockets}`), { recursive: true, force: true })

const polls = 3600 / 30
const apiCallsOk = samples.length + overTls.length > 0 && [...samples, ...overTls].every((s) => s.apiCallsOk)
console.log([
  row("peak RSS, whole process (VmHWM)", samples.map((s) => s.hwmMiB), "MiB"),
  row("peak anonymous RSS (RssAnon: heap, stacks, malloc)", samples.map((s) => s.anonMiB), "MiB"),
  row("peak RSS with the AWS endpoint over HTTPS (as real AWS)", overTls.map((s) => s.hwmMiB), "MiB"),
  canLimit === undefined
    ? `${`memory cgroup with a ${limitMiB} MiB hard limit`.padEnd(58)} n/a (no writable memory cgroup)`
    : row(
      `peak charged to a ${limitMiB} MiB hard-limit memory cgroup (cold cache)`,
      limited.map((s) => s.cgroupPeakMiB ?? NaN),
      "MiB"
    ),
  ...(canLimit === undefined ? [] : [
    row(
      "  the same, with the health check exec'd in it twice",
      limited.map((s) => s.cgroupPeakWithHealthcheckMiB ?? NaN),
      "MiB"
    ),
    `${"  health checks in the cgroup: healthy (exit 0)".padEnd(58)} ${
      limited.every((s) => s.healthchecksOk) ? "PASS" : "FAIL"
    }`,
    `${`OOM kills under the ${limitMiB} MiB limit`.padEnd(58)} ${
      String(limited.reduce((n, s) => n + (s.oomKills ?? 0), 0)).padStart(8)
    }`
  ]),
  row("startup: spawn to first AWS request", samples.map((s) => s.firstRequestMs), "ms", 0),
  row("startup: spawn to first DescribeTargetHealth (minus jitter)", samples.map((s) => s.firstPollMs), "ms", 0),
  row("CPU per poll (after startup)", samples.map((s) => s.cpuPerPollMs), "ms", 2),
  row("CPU at startup (to the first poll)", samples.map((s) => s.startupCpuS), "s", 3),
  row(
    `CPU per hour at POLLING_FREQUENCY=30 (${polls} polls × CPU per poll)`,
    samples.map((s) => (s.cpuPerPollMs * polls) / 1000),
    "s",
    2
  ),
  row("CPU per poll with the AWS endpoint over HTTPS", overTls.map((s) => s.cpuPerPollMs), "ms", 2),
  row(`CPU per poll under the ${limitMiB} MiB limit`, limited.map((s) => s.cpuPerPollMs), "ms", 2),
  `${"API calls: one DescribeTargetHealth per poll, nothing else".padEnd(58)} ${apiCallsOk ? "PASS" : "FAIL"}`,
  `${"bundle dist/*.js (raw / gzip)".padEnd(58)} ${(raw / 1024).toFixed(0).padStart(8)} KiB / ${
    (gz / 1024).toFixed(0)
  } KiB`,
  row("healthcheck command (exec form, no ENTRYPOINT flags): peak RSS", hc, "MiB"),
  row(
    `connections strategy: CPU per socket-table sample (${socketSamples[0]?.sockets ?? "?"} sockets here)`,
    socketSamples.map((s) => s.cpuMsPerSample ?? NaN),
    "ms",
    3
  ),
  ...tableSizes.flatMap((sockets, i) => [
    row(
      `connections wait: peak RSS, ${sockets.toLocaleString("en-US")} sockets in the tables`,
      (tableRuns[i] ?? []).map((r) => r?.hwmMiB ?? NaN),
      "MiB"
    ),
    row(
      `  CPU per second of that wait (a sample and a poll each)`,
      (tableRuns[i] ?? []).map((r) => r?.cpuPerSampleMs ?? NaN),
      "ms",
      2
    ),
    row(
      `  CPU per socket-table sample, ${sockets.toLocaleString("en-US")} sockets (alone)`,
      (generatedSamples[i] ?? []).map((s) => s.cpuMsPerSample ?? NaN),
      "ms",
      3
    )
  ]),
  `${"runs that ended early (failed)".padEnd(58)} ${String(failed.length).padStart(8)}`
].join("\n"))
for (const f of failed) console.log(f)
const tablesOk = tableRuns.every((r) => r.every((x) => x !== undefined))
if (!tablesOk) console.log("a connections wait with generated tables did not reach its end")
process.exit(failed.length === 0 && apiCallsOk && tablesOk && limited.every((s) => s.healthchecksOk) ? 0 : 1)
