// `npm run bench:fleet [-- --tasks 10,300,1000,3000 --seed N --json]`: the sidecar fleet of one
// account on virtual time (simulator/fleet.ts), each size in a process of its own so that its
// wall-clock time and peak memory are its own. Prints one table; never fails on the numbers.
import { Effect } from "effect"
import { spawnSync } from "node:child_process"
import { parseArgs } from "node:util"
import { type FleetReport, simulateFleet } from "../simulator/fleet.ts"
import { firstPollDelayMillis, pollScale } from "../src/pollSchedule.ts"

const { values } = parseArgs({
  options: {
    tasks: { type: "string", default: "10,300,1000,3000" },
    seed: { type: "string", default: "1" },
    one: { type: "string" },
    json: { type: "boolean", default: false },
    /** The poll loop without pacing (no AIMD, detection budget or ECS reading), to compare. */
    unpaced: { type: "boolean", default: false }
  }
})
const seed = Number(values.seed)

interface Measured extends FleetReport {
  readonly wallSeconds: number
  readonly peakRssMiB: number
}

if (values.one !== undefined) {
  // One size, in this process: the report and what the run cost, as one JSON line.
  const started = performance.now()
  const report = await Effect.runPromise(simulateFleet({
    tasks: Number(values.one),
    seed,
    ...(values.unpaced ? { timing: { firstDelayMillis: firstPollDelayMillis, scale: pollScale, paced: false } } : {})
  }))
  const measured: Measured = {
    ...report,
    wallSeconds: (performance.now() - started) / 1000,
    peakRssMiB: process.resourceUsage().maxRSS / 1024
  }
  console.log(JSON.stringify(measured))
  process.exit(0)
}

const sizes = values.tasks.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0 && n <= 20_000)
const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`
const share = (b: FleetReport["buckets"][keyof FleetReport["buckets"]]) => `${pct(b.meanShare)} / ${pct(b.p95Share)}`
const rows: Array<Measured> = []
for (const n of sizes) {
  const run = spawnSync(process.execPath, [
    import.meta.filename,
    "--one",
    String(n),
    "--seed",
    String(seed),
    ...(values.unpaced ? ["--unpaced"] : [])
  ], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024
  })
  const line = run.stdout.trim().split("\n").at(-1) ?? ""
  if (run.status !== 0 || !line.startsWith("{")) {
    console.error(`fleet of ${n}: exit ${run.status}\n${run.stderr.slice(-2000)}`)
    process.exit(1)
  }
  rows.push(JSON.parse(line))
}

if (values.json) {
  console.log(JSON.stringify(rows, null, 2))
} else {
  const header = [
    "tasks",
    "ELBv2 non-mutating mean / p95",
    "ELB account mean / p95",
    "ECS cluster reads mean / p95",
    "ECS service reads mean / p95",
    "sidecars' requests throttled: all / ELBv2 / polls",
    "background throttled",
    "detection p50 / p95 / max",
    "drains acted on before D",
    "missed (exited at D)",
    "early exits",
    "ELBv2 / ECS calls per task-hour",
    "wall",
    "peak RSS"
  ]
  const cells = (r: Measured) => [
    r.tasks.toLocaleString("en-US"),
    share(r.buckets.elbNonMutating),
    share(r.buckets.elbAccount),
    share(r.buckets.ecsClusterReads),
    share(r.buckets.ecsServiceReads),
    `${pct(r.requestsThrottledShare)} / ${pct(r.throttledShare)} / ${pct(r.pollsThrottledShare)}`,
    pct(r.backgroundThrottledShare),
    `${r.detection.p50.toFixed(1)} / ${r.detection.p95.toFixed(1)} / ${r.detection.max.toFixed(1)} s`,
    `${r.actedBeforeD} of ${r.drains}`,
    String(r.missed),
    String(r.earlyExits),
    `${r.callsPerTaskHour.elb.toFixed(0)} / ${r.callsPerTaskHour.ecs.toFixed(1)}`,
    `${r.wallSeconds.toFixed(0)} s`,
    `${r.peakRssMiB.toFixed(0)} MiB`
  ]
  console.log(
    `fleet: services of 100 tasks (one target group each) deployed a minute apart, drains over 30 min, D=300 s, DEREGISTRATION_WAIT=120 s, POLLING_FREQUENCY=30, background ELBv2 caller 2/s, seed ${seed}${
      values.unpaced ? ", unpaced" : ""
    }; bucket shares are the sidecars' requests over the bucket's refill, per 60 s window`
  )
  console.log(`| ${header.join(" | ")} |`)
  console.log(`|${header.map(() => "---").join("|")}|`)
  for (const r of rows) console.log(`| ${cells(r).join(" | ")} |`)
  // The drains missed, with when each sidecar was first shown its drain: too late to save anything.
  for (const r of rows.filter((r) => r.missedDrains.length > 0)) {
    const after = (x: number | null) => (x === null ? "never" : `${x} s`)
    const never = r.missedDrains.filter((m) => m.ecsStoppedAfter === null && m.elbDrainingAfter === null).length
    const listed = r.missedDrains.slice(0, 12).map((m) => `${after(m.ecsStoppedAfter)} / ${after(m.elbDrainingAfter)}`)
    console.log(
      `\nmissed at ${
        r.tasks.toLocaleString("en-US")
      } tasks: ${r.missedDrains.length}, of which ${never} never read before D; from the drain's start to the first answer that showed it (ECS / ELBv2): ${
        listed.join(", ")
      }${r.missedDrains.length > listed.length ? ", …" : ""}`
    )
  }
}
