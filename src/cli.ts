// The Effect commands (run, check): the live layers, the last line of a run,
// and the documented exit code.
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer } from "effect"
import type { Command } from "./commands.ts"
import { CheckFailed, type ConfigInvalid, Drained, ExitCode, exitCodeOf } from "./errors.ts"
import { Config, readSettings } from "./layers/Config.ts"
import { DrainStrategy } from "./layers/DrainStrategy.ts"
import { Ecs } from "./layers/Ecs.ts"
import * as HeapCollection from "./layers/HeapCollection.ts"
import * as Heartbeat from "./layers/Heartbeat.ts"
import * as Logging from "./layers/Logging.ts"
import { Metadata } from "./layers/Metadata.ts"
import * as Metrics from "./layers/Metrics.ts"
import { Startup } from "./layers/Startup.ts"
import { TargetHealth } from "./layers/TargetHealth.ts"
import { check, failedCheck } from "./programs/check.ts"
import { formatCheckReport } from "./programs/checkReport.ts"
import { sidecar } from "./programs/sidecar.ts"
import { takeOverSignals } from "./signals.ts"

/** The services the programs use, wired from the settings; each layer brings what it needs. */
const live = Layer.mergeAll(TargetHealth.layer, Ecs.layer, DrainStrategy.layer).pipe(
  Layer.provideMerge(Metadata.layer),
  Layer.provideMerge(Startup.layer)
)

/** The last line of every run says why it ended and with which exit code, whatever LOG_LEVEL says. */
const reportEnd = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.onExit(self, (exit) =>
    Logging.whateverTheLevel(Effect.suspend(() => {
      const exitCode = exitCodeOf(exit)
      if (Exit.isSuccess(exit)) return Effect.void
      if (Cause.hasInterruptsOnly(exit.cause)) {
        return Effect.logInfo("stopped by signal").pipe(Effect.annotateLogs({ exitCode }))
      }
      const error = Cause.findErrorOption(exit.cause)
      if (error._tag === "Some") {
        const e = error.value
        // Drained ends the program as an error only to carry DRAIN_EXIT_CODE: its line is the normal end, not an error.
        if (e instanceof Drained) {
          const { stopCode, stoppedReason, secondsSaved } = e
          const known = Object.entries({ stopCode, stoppedReason, secondsSaved }).filter(([, v]) => v !== undefined)
          return Effect.logInfo(e.message).pipe(Effect.annotateLogs({ exitCode, ...Object.fromEntries(known) }))
        }
        return Effect.logError(e instanceof Error ? e.message : String(e)).pipe(
          Effect.annotateLogs({ exitCode, error: (e as { _tag?: string })._tag ?? "Error" })
        )
      }
      return Effect.logError("unexpected error", exit.cause).pipe(Effect.annotateLogs({ exitCode }))
    })))

/** Settings that do not parse: logged before any logging layer could be built from them. */
const reportConfigError = (e: ConfigInvalid) =>
  Effect.logError(e.message).pipe(Effect.annotateLogs({ exitCode: ExitCode.config, error: e._tag }))

// The last line is logged inside the logging layer and outside the others, whose building can fail too.
const run = sidecar.pipe(
  Effect.provide(Layer.mergeAll(live, Heartbeat.layer, HeapCollection.layer, Metrics.layer)),
  reportEnd,
  Effect.provide(Logging.layer.pipe(Layer.provideMerge(Config.layer))),
  Effect.tapErrorTag("ConfigInvalid", reportConfigError)
)

/** A check answers quickly: a few retries, not STARTUP_TIMEOUT's worth; only errors are logged, to keep the report whole. */
const checkSettings = Layer.effect(
  Config,
  Effect.gen(function*() {
    const settings = yield* Config
    return { ...settings, startupTimeoutSeconds: Math.min(settings.startupTimeoutSeconds, 10) }
  })
).pipe(Layer.provide(Config.layer))

const checkLogging = Layer.unwrap(Effect.gen(function*() {
  return Logging.layerWith((yield* Config).logFormat, "error")
}))

/** `check [--json]`: prints a report; the exit code is the one `run` would end with at startup. */
const checkCommand = (json: boolean) =>
  Effect.gen(function*() {
    // Building the layers reads the metadata too: that can fail before the check starts.
    const ran = yield* check.pipe(Effect.provide(live), Effect.exit)
    const report = Exit.isSuccess(ran) ? ran.value : failedCheck(ran)
    yield* Console.log(json ? JSON.stringify(report) : formatCheckReport(report))
    if (!report.ok) return yield* new CheckFailed({ exitCode: report.exitCode })
  }).pipe(
    Effect.provide(checkLogging.pipe(Layer.provideMerge(checkSettings))),
    Effect.tapErrorTag("ConfigInvalid", reportConfigError)
  )

/** A signal that came while this code was loading: the same clean stop as one that comes later. */
const stoppedWhileLoading = readSettings(process.env).pipe(
  Effect.map((settings) => settings.logFormat),
  Effect.orElseSucceed(() => "json" as const),
  Effect.flatMap((format) =>
    Logging.whateverTheLevel(Effect.logInfo("stopped by signal")).pipe(
      Effect.annotateLogs({ exitCode: ExitCode.interrupted }),
      Effect.provide(Logging.layerWith(format, "info"))
    )
  ),
  Effect.andThen(Effect.interrupt)
)

export const runCommand = (command: Extract<Command, { readonly name: "run" | "check" }>): void => {
  const program: Effect.Effect<unknown, unknown> = command.name === "run" ? run : checkCommand(command.json)
  // runMain has installed its signal handlers when this runs.
  const main = Effect.suspend(() => (takeOverSignals() === undefined ? program : stoppedWhileLoading))
  NodeRuntime.runMain(main.pipe(Effect.provide(Logging.layerWith("json", "info"))), {
    disableErrorReporting: true,
    teardown: (exit, onExit) => {
      const code = exitCodeOf(exit)
      onExit(code)
      // Exit now rather than when idle sockets time out; logs are written synchronously.
      process.exit(code)
    }
  })
}
