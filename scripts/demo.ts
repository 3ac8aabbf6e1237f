// `npm run demo [-- --scenario NAME]`: the whole story on this machine. Starts
// the local AWS simulator, runs the built sidecar against it as a child
// process, streams its log, and sums up what happened. Ends by itself.
// `--scenario connections` also holds real TCP connections to a local listener
// on the target's port and closes them a few seconds into the drain.
import { spawn } from "node:child_process"
import { connect, createServer, type Socket } from "node:net"
import { parseArgs } from "node:util"
import { loadScenario, scenarioNames } from "../simulator/scenarios.ts"
import { sidecarEnvironment, startSimulator } from "../simulator/server.ts"

const { values } = parseArgs({ options: { scenario: { type: "string", default: "awsvpc" } } })
if (!scenarioNames.includes(values.scenario)) {
  console.error(`--scenario: unknown ${JSON.stringify(values.scenario)}; one of ${scenarioNames.join(", ")}`)
  process.exit(2)
}

const drainAtMs = 5000
const clock = () => performance.timeOrigin + performance.now()
const t = (at: number) => `${(at / 1000).toFixed(1).padStart(5)}s`

// The connections demo: the application is a listener on a free port, its clients three sockets.
const withConnections = values.scenario === "connections"
const connectionsBound = 30
// The sidecar's settings beyond the simulator's environment (which has POLLING_FREQUENCY=1).
const settings: Record<string, string> = withConnections
  ? { DRAIN_STRATEGY: "connections", DEREGISTRATION_WAIT: String(connectionsBound), DRAIN_IDLE_SECONDS: "1" }
  : { DEREGISTRATION_WAIT: "3" }
const closeAfterDrainMs = 4000
const app = withConnections ? createServer((s) => s.on("error", () => {})) : undefined
const targetPort = app === undefined
  ? undefined
  : await new Promise<number>((resolve) => app.listen(0, "::", () => resolve((app.address() as { port: number }).port)))

const scenario = loadScenario(values.scenario, { drainAtMs, ...(targetPort === undefined ? {} : { targetPort }) })
const sim = await startSimulator({ scenario })
const sinceStart = () => clock() - sim.startedAt
console.log(`simulator: ${scenario.description} (${sim.endpoint})`)
const shown = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(" ")
console.log(`sidecar:   node dist/main.js with POLLING_FREQUENCY=1 ${shown}; the target drains at ${t(drainAtMs)}`)
if (withConnections) {
  console.log(
    `app:       a listener on [::]:${targetPort} with 3 client connections, closed at ${
      t(drainAtMs + closeAfterDrainMs)
    }`
  )
}
console.log("")

let closedAt: number | undefined
const clients: Array<Socket> = []
if (targetPort !== undefined) {
  for (const host of ["127.0.0.1", "::1", "127.0.0.1"]) clients.push(connect(targetPort, host).on("error", () => {}))
  setTimeout(() => {
    for (const c of clients) c.destroy()
    closedAt = sinceStart()
    console.log(`${t(closedAt)} app   closed its 3 connections`)
  }, drainAtMs + closeAfterDrainMs - sinceStart())
}

const child = spawn(process.execPath, ["dist/main.js"], {
  env: {
    PATH: process.env.PATH,
    ...sidecarEnvironment(sim, "demo"),
    ...settings,
    ...(values.scenario === "standalone"
      ? { TARGET_GROUP_ARNS: scenario.targetGroups.map((g) => g.arn).join(",") }
      : {})
  },
  stdio: ["ignore", "pipe", "inherit"]
})
// The demo must end by itself, whatever happens.
const guard = setTimeout(() => child.kill("SIGTERM"), 45_000)
let discovered = ""
let strategy = ""
child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
  for (const line of chunk.split("\n").filter((l) => l.trim() !== "")) {
    try {
      const { time: _, level, message, ...fields } = JSON.parse(line) as Record<string, unknown>
      if (message === "watching targets") discovered = JSON.stringify(fields.targets)
      if (typeof message === "string" && message.startsWith("drain strategy: ")) {
        strategy = `${message.slice("drain strategy: ".length)} (${String(fields.why)})`
      }
      if (message === "waiting before exit" && strategy === "") strategy = String(fields.strategy)
      console.log(`${t(sinceStart())} ${String(level).padEnd(5)} ${message} ${JSON.stringify(fields)}`)
    } catch {
      console.log(line)
    }
  }
})

const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
  child.on("close", (c, s) => resolve([c, s]))
)
clearTimeout(guard)
const exitedAt = sinceStart()
const requests = sim.requests()
await sim.close()
for (const c of clients) c.destroy()
app?.close()

const polls = requests.filter((r) => r.action === "DescribeTargetHealth")
const firstDraining = polls.find((r) => r.t >= drainAtMs)
// Blue/green: one request per watched group per poll, whether the task is registered there or not.
const groups = new Set(polls.map((r) => String(r.params.TargetGroupArn)))
const perGroup = groups.size > 1
  ? `: ${
    [...groups].map((g) => `${polls.filter((r) => r.params.TargetGroupArn === g).length} for ${g.split(":").at(-1)}`)
      .join(", ")
  }`
  : ""
console.log("\nsummary")
console.log(`  scenario:        ${scenario.name}`)
console.log(`  discovered:      ${discovered || "(nothing)"}`)
console.log(`  drain strategy:  ${strategy || "(not reached)"}`)
console.log(
  `  AWS requests:    ${
    requests.filter((r) => r.api === "ecs" || r.api === "elbv2").map((r) => r.action).filter((a, i, all) =>
      all.indexOf(a) === i
    ).join(", ")
  } (${polls.length} DescribeTargetHealth${perGroup})`
)
console.log(
  `  draining seen:   ${
    firstDraining === undefined ? "never" : `at ${t(firstDraining.t)} (drain started at ${t(drainAtMs)})`
  }`
)
console.log(`  sidecar exited:  at ${t(exitedAt)} with ${signal === null ? `exit code ${code}` : `signal ${signal}`}`)
if (withConnections && closedAt !== undefined && firstDraining !== undefined) {
  console.log(
    `  connections:     closed at ${t(closedAt)}; the sidecar exited ${
      ((exitedAt - closedAt) / 1000).toFixed(1)
    } s later`
  )
  console.log(
    `  fixed strategy:  would have waited DEREGISTRATION_WAIT=${connectionsBound}s after draining was seen: exit at ${
      t(firstDraining.t + connectionsBound * 1000)
    }, ${((firstDraining.t + connectionsBound * 1000 - exitedAt) / 1000).toFixed(1)} s later`
  )
}
process.exit(code ?? 1)
