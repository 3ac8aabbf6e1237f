// Entry point. `healthcheck` runs often, next to the sidecar, inside the same
// container memory limit: it must not load Effect or the AWS SDK, so the
// commands are split and imported on demand.
// First of all: SIGTERM at any moment is a clean stop (see signals.ts).
import "./signals.ts"
import { parseCommand, usage, version } from "./commands.ts"

const command = parseCommand(process.argv.slice(2))

if ("error" in command) {
  process.stderr.write(`${command.error}\n`)
  process.stdout.write(`${usage}\n`)
  process.exit(2)
} else if (command.name === "help" || command.name === "version") {
  process.stdout.write(`${command.name === "help" ? usage : version}\n`)
  process.exit(0)
} else if (command.name === "healthcheck") {
  const { runHealthcheck } = await import("./heartbeat.ts")
  process.exit(runHealthcheck(process.env))
} else {
  const { runCommand } = await import("./cli.ts")
  runCommand(command)
}
