// Spawn to first ECS/ELBv2 request and to the first DescribeTargetHealth (minus the logged jitter), N runs, medians.
import { spawn } from "node:child_process"
import { loadScenario } from "./simulator/scenarios.ts"
import { sidecarEnvironment, startSimulator } from "./simulator/server.ts"
const runs = Number(process.argv[2] ?? 8)
const env = { NODE_ENV: "production", NODE_OPTIONS: "--max-semi-space-size=1 --jitless --expose-gc", MALLOC_ARENA_MAX: "1", MALLOC_MMAP_THRESHOLD_: "32768", LOG_LEVEL: "debug" }
const first: number[] = [], poll: number[] = []
for (let i = 0; i < runs; i++) {
  const sim = await startSimulator({ scenario: loadScenario("awsvpc", { drainAtMs: 3_600_000 }) })
  const t0 = performance.timeOrigin + performance.now()
  const child = spawn(process.execPath, ["--optimize-for-size", "--initial-old-space-size=4", "dist/main.js"], { env: { PATH: process.env.PATH, ...env, ...sidecarEnvironment(sim, "st") }, stdio: ["ignore", "pipe", "inherit"] })
  let jitter = 0
  child.stdout.on("data", (c: Buffer) => { const m = /"first poll scheduled","inMs":(\d+)/.exec(String(c)); if (m) jitter = Number(m[1]) })
  await new Promise((r) => setTimeout(r, 3500))
  const reqs = sim.requests().filter((r) => r.api === "ecs" || r.api === "elbv2")
  first.push(sim.startedAt + (reqs[0]?.t ?? NaN) - t0)
  poll.push(sim.startedAt + (reqs.find((r) => r.action === "DescribeTargetHealth")?.t ?? NaN) - t0 - jitter)
  child.kill("SIGTERM"); await new Promise((r) => child.on("close", r)); await sim.close()
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(0)
console.log(`first AWS request ${med(first)} ms, first poll ${med(poll)} ms`)
