// Process entry point: wires the live layers, reports how the run ended, and
// turns that into the documented exit code.
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer } from "effect"
import { ConfigInvalid, Drained, ExitCode, exitCodeOf } from "./errors.ts"
import { AwsRegion } from "./layers/AwsRegion.ts"
import { Config, loadSettings, type Settings } from "./layers/Config.ts"
import { Ecs } from "./layers/Ecs.ts"
import * as Logging from "./layers/Logging.ts"
import { Metadata } from "./layers/Metadata.ts"
import { TargetHealth } from "./layers/TargetHealth.ts"
import { sidecar } from "./programs/sidecar.ts"

const liveLayer = (settings: Settings) => {
  const config = Layer.succeed(Config, settings)
  const metadata = Metadata.layer.pipe(Layer.provide(config))
  const region = AwsRegion.layer.pipe(Layer.provide([config, metadata]))
  return Layer.mergeAll(TargetHealth.layer, Ecs.layer).pipe(
    Layer.provide(region),
    Layer.provideMerge(Layer.mergeAll(config, metadata))
  )
}

/** The last line of every run says why it ended and with which exit code. */
const reportEnd = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.onExit(self, (exit) => {
    const exitCode = exitCodeOf(exit)
    if (Exit.isSuccess(exit)) return Effect.void
    if (Cause.hasInterruptsOnly(exit.cause)) return Effect.logInfo("stopped by signal").pipe(Effect.annotateLogs({ exitCode }))
    const error = Cause.findErrorOption(exit.cause)
    if (error._tag === "Some") {
      const e = error.value
      const fields = { exitCode, error: (e as { _tag?: string })._tag ?? "Error" }
      return e instanceof Drained
        ? Effect.logInfo(e.message).pipe(Effect.annotateLogs(fields))
        : Effect.logError(e instanceof Error ? e.message : String(e)).pipe(Effect.annotateLogs(fields))
    }
    return Effect.logError("unexpected error", exit.cause).pipe(Effect.annotateLogs({ exitCode }))
  })

const run = Effect.gen(function*() {
  const settings = yield* loadSettings(process.env)
  return yield* sidecar.pipe(
    Effect.provide(liveLayer(settings)),
    reportEnd,
    Effect.provide(Logging.layer(settings.logFormat, settings.logLevel))
  )
})

const commands: Record<string, Effect.Effect<unknown, unknown>> = {
  run: run.pipe(Effect.tapError((e) => e instanceof ConfigInvalid ? Effect.logError(e.message).pipe(Effect.annotateLogs({ exitCode: ExitCode.config, error: e._tag })) : Effect.void))
}

const command = process.argv[2] ?? "run"
const program = commands[command] ?? Effect.fail(
  new ConfigInvalid({ variable: "command", value: command, expected: `one of ${Object.keys(commands).join(", ")}` })
).pipe(Effect.tapError((e) => Effect.logError(e.message)))

NodeRuntime.runMain(program.pipe(Effect.provide(Logging.layer("json", "info"))), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    const code = exitCodeOf(exit)
    onExit(code)
    // Exit now rather than when idle sockets time out; logs are written synchronously.
    process.exit(code)
  }
})
