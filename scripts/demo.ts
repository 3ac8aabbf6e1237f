// `npm run demo [-- --scenario NAME]`: the whole story on this machine. Starts
// the local AWS simulator, runs the built sidecar against it as a child
// process, streams its log, and sums up what happened. Ends by itself.
import { spawn } from "node:child_process"
import { parseArgs } from "node:util"
import { loadScenario, scenarioNames } from "../src/simulator/scenarios.ts"
import { sidecarEnvironment, startSimulator } from "../src/simulator/server.ts"

const { values } = parseArgs({ options: { scenario: { type: "string", default: "awsvpc" } } })
if (!scenarioNames.includes(values.scenario)) {
  console.error(`--scenario: unknown ${JSON.stringify(values.scenario)}; one of ${scenarioNames.join(", ")}`)
  process.exit(2)
}

const drainAtMs = 5000
const wait = 3
const scenario = loadScenario(values.scenario, { drainAtMs })
const sim = await startSimulator({ scenario })
const t = (at: number) => `${(at / 1000).toFixed(1).padStart(5)}s`
console.log(`simulator: ${scenario.description} (${sim.endpoint})`)
console.log(`sidecar:   node dist/main.js with POLLING_FREQUENCY=1 DEREGISTRATION_WAIT=${wait}; the target drains at ${t(drainAtMs)}\n`)

const child = spawn(process.execPath, ["dist/main.js"], {
  env: {
    PATH: process.env.PATH,
    ...sidecarEnvironment(sim, "demo"),
    DEREGISTRATION_WAIT: String(wait),
    ...(values.scenario === "standalone" ? { TARGET_GROUP_ARNS: scenario.targetGroups.map((g) => g.arn).join(",") } : {})
  },
  stdio: ["ignore", "pipe", "inherit"]
})
// The demo must end by itself, whatever happens.
const guard = setTimeout(() => child.kill("SIGTERM"), 25_000)
let discovered = ""
child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
  for (const line of chunk.split("\n").filter((l) => l.trim() !== "")) {
    try {
      const { time: _, level, message, ...fields } = JSON.parse(line) as Record<string, unknown>
      if (message === "watching targets") discovered = JSON.stringify(fields.targets)
      console.log(`${t(Date.now() - sim.startedAt)} ${String(level).padEnd(5)} ${message} ${JSON.stringify(fields)}`)
    } catch {
      console.log(line)
    }
  }
})

const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on("close", (c, s) => resolve([c, s])))
clearTimeout(guard)
const exitedAt = Date.now() - sim.startedAt
const requests = sim.requests()
await sim.close()

const polls = requests.filter((r) => r.action === "DescribeTargetHealth")
const firstDraining = polls.find((r) => r.t >= drainAtMs)
console.log("\nsummary")
console.log(`  scenario:        ${scenario.name}`)
console.log(`  discovered:      ${discovered || "(nothing)"}`)
console.log(`  AWS requests:    ${requests.filter((r) => r.api === "ecs" || r.api === "elbv2").map((r) => r.action).filter((a, i, all) => all.indexOf(a) === i).join(", ")} (${polls.length} DescribeTargetHealth)`)
console.log(`  draining seen:   ${firstDraining === undefined ? "never" : `at ${t(firstDraining.t)} (drain started at ${t(drainAtMs)})`}`)
console.log(`  sidecar exited:  at ${t(exitedAt)} with ${signal === null ? `exit code ${code}` : `signal ${signal}`}`)
process.exit(code ?? 1)
