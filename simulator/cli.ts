// node simulator/cli.ts --scenario NAME|FILE.json [--port N] [--drain-at-ms N]
//   [--deregistration-delay-ms N] [--exit-after-ms N]
// Prints one JSON line (endpoint, metadataUri, credentialsUri, region,
// scenario), then serves until SIGTERM/SIGINT (exit 0) or --exit-after-ms.
// A bad flag exits 2 with a message naming it.
import { parseArgs } from "node:util"
import { loadScenario, scenarioNames, type ScenarioOptions } from "./scenarios.ts"
import { startSimulator } from "./server.ts"

const usage =
  `usage: node simulator/cli.ts --scenario NAME|FILE.json [--port N] [--drain-at-ms N] [--deregistration-delay-ms N] [--exit-after-ms N]
scenarios: ${scenarioNames.join(", ")}`

const fail = (message: string): never => {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

const parsed = (() => {
  try {
    return parseArgs({
      options: {
        scenario: { type: "string" },
        port: { type: "string" },
        "drain-at-ms": { type: "string" },
        "deregistration-delay-ms": { type: "string" },
        "exit-after-ms": { type: "string" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
})()

const wholeNumber = (flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined => {
  const value = (parsed as Record<string, string | undefined>)[flag]
  if (value === undefined) return undefined
  const n = Number(value)
  return /^\d+$/.test(value) && n <= max
    ? n
    : fail(
      `--${flag}=${JSON.stringify(value)}: expected a whole number${
        max < Number.MAX_SAFE_INTEGER ? ` up to ${max}` : ""
      }`
    )
}

const name = parsed.scenario ?? fail("--scenario: required")
const port = wholeNumber("port", 65535)
const drainAtMs = wholeNumber("drain-at-ms")
const deregistrationDelayMs = wholeNumber("deregistration-delay-ms")
const exitAfterMs = wholeNumber("exit-after-ms")

const options: ScenarioOptions = {
  ...(drainAtMs === undefined ? {} : { drainAtMs }),
  ...(deregistrationDelayMs === undefined ? {} : { deregistrationDelayMs })
}
const scenario = (() => {
  try {
    return loadScenario(name, options)
  } catch (error) {
    return fail(`--scenario: ${error instanceof Error ? error.message : String(error)}`)
  }
})()

const sim = await startSimulator({ scenario, ...(port === undefined ? {} : { port }) }).catch((error: unknown) =>
  fail(`--port: ${error instanceof Error ? error.message : String(error)}`)
)
console.log(
  JSON.stringify({
    endpoint: sim.endpoint,
    metadataUri: sim.metadataUri,
    credentialsUri: sim.credentialsUri,
    region: sim.region,
    scenario: sim.scenario.name
  })
)

const stop = () => void sim.close().then(() => process.exit(0))
process.once("SIGTERM", stop)
process.once("SIGINT", stop)
if (exitAfterMs !== undefined) setTimeout(stop, exitAfterMs)
