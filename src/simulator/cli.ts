// `node src/simulator/cli.ts --scenario NAME [--port N] [--drain-at-ms N] [--exit-after-ms N]`
// prints one JSON line (endpoint, metadataUri, region, scenario) and serves
// until SIGTERM/SIGINT or --exit-after-ms.
import { parseArgs } from "node:util"
import { loadScenario, scenarioNames } from "./scenarios.ts"
import { startSimulator } from "./server.ts"

const fail = (message: string): never => {
  console.error(message)
  process.exit(2)
}

const number = (flag: string, value: string | undefined) => {
  if (value === undefined) return undefined
  return /^\d+$/.test(value) ? Number(value) : fail(`--${flag}=${JSON.stringify(value)}: expected a whole number`)
}

let parsed
try {
  parsed = parseArgs({
    options: {
      scenario: { type: "string", default: "awsvpc" },
      port: { type: "string" },
      "drain-at-ms": { type: "string" },
      "exit-after-ms": { type: "string" }
    }
  }).values
} catch (error) {
  fail(`${error instanceof Error ? error.message : String(error)}\nscenarios: ${scenarioNames.join(", ")}`)
}
const values = parsed ?? fail("no arguments")

let scenario
try {
  const drainAtMs = number("drain-at-ms", values["drain-at-ms"])
  scenario = loadScenario(values.scenario, drainAtMs === undefined ? {} : { drainAtMs })
} catch (error) {
  fail(`--scenario: ${error instanceof Error ? error.message : String(error)}`)
}
const port = number("port", values.port)
const sim = await startSimulator({ scenario, ...(port === undefined ? {} : { port }) })
console.log(JSON.stringify({ endpoint: sim.endpoint, metadataUri: sim.metadataUri, credentialsUri: sim.credentialsUri, region: sim.region, scenario: sim.scenario.name }))

const stop = () => void sim.close().then(() => process.exit(0))
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
const exitAfter = number("exit-after-ms", values["exit-after-ms"])
if (exitAfter !== undefined) setTimeout(stop, exitAfter)
