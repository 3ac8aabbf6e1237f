// The command line, read without loading Effect: `healthcheck`, `--help` and
// `--version` run next to the sidecar, inside its memory limit.
import packageJson from "../package.json" with { type: "json" }

export type Command =
  | { readonly name: "run" }
  | { readonly name: "check"; readonly json: boolean }
  | { readonly name: "healthcheck" }
  | { readonly name: "help" }
  | { readonly name: "version" }

export const version = packageJson.version

export const usage =
  `nlb-sidecar-for-ecs ${version}: stops an ECS task early and gracefully when its load balancer target drains

usage: nlb-sidecar-for-ecs [command]

commands:
  run             watch this task's targets and exit when they drain (the default)
  check [--json]  try everything the sidecar needs once, and report
  healthcheck     exit 0 while the running sidecar's heartbeat is fresh, 1 otherwise
  --help          this text
  --version       the version

Settings come from the environment (DEREGISTRATION_WAIT, DRAIN_STRATEGY, POLLING_FREQUENCY, …): see the README.`

/** The command, or why the arguments are not one. */
export const parseCommand = (args: ReadonlyArray<string>): Command | { readonly error: string } => {
  const [name = "run", ...rest] = args
  const extra = (allowed: ReadonlyArray<string>) => rest.find((a) => !allowed.includes(a))
  const refuse = (arg: string) => ({ error: `${name}: unexpected argument ${JSON.stringify(arg)}` })
  switch (name) {
    case "run":
    case "healthcheck": {
      const bad = extra([])
      return bad === undefined ? { name } : refuse(bad)
    }
    case "check": {
      const bad = extra(["--json"])
      return bad === undefined ? { name, json: rest.includes("--json") } : refuse(bad)
    }
    case "--help":
    case "-h":
    case "help":
      return { name: "help" }
    case "--version":
      return { name: "version" }
    default:
      return { error: `unknown command ${JSON.stringify(name)}` }
  }
}
