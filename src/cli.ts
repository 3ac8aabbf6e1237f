// The Effect commands (run, check): wires the live layers, reports how a run
// ended, and turns that into the documented exit code.
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Duration, Effect, Exit, Layer, Schedule } from "effect"
import { CheckFailed, ConfigInvalid, Drained, ExitCode, exitCodeOf } from "./errors.ts"
import { AwsCredentials } from "./layers/AwsCredentials.ts"
import { AwsRegion } from "./layers/AwsRegion.ts"
import { Config, loadSettings, type Settings } from "./layers/Config.ts"
import { Ecs } from "./layers/Ecs.ts"
import * as Logging from "./layers/Logging.ts"
import { Metadata } from "./layers/Metadata.ts"
import { Startup } from "./layers/Startup.ts"
import { TargetHealth } from "./layers/TargetHealth.ts"
import { check, failedCheck, formatCheckReport } from "./programs/check.ts"
import { sidecar } from "./programs/sidecar.ts"
import { heartbeatEveryMillis, writeHeartbeat } from "./heartbeat.ts"
import { takeOverSignals } from "./signals.ts"

const liveLayer = (settings: Settings) => {
  const config = Startup.layer.pipe(Layer.provideMerge(Layer.succeed(Config, settings)))
  const metadata = Metadata.layer.pipe(Layer.provide(config))
  const region = AwsRegion.layer.pipe(Layer.provide([config, metadata]))
  return Layer.mergeAll(TargetHealth.layer, Ecs.layer).pipe(
    Layer.provide([region, AwsCredentials.layer]),
    Layer.provideMerge(Layer.mergeAll(config, metadata))
  )
}

/** The last line of every run says why it ended and with which exit code, whatever LOG_LEVEL says. */
const reportEnd = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.onExit(self, (exit) => Logging.whateverTheLevel(Effect.suspend(() => {
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
  })))

/** Stamps the heartbeat file while the program runs; a failed write is logged once, never fatal. */
const heartbeat = (file: string) => Layer.effectDiscard(Effect.gen(function*() {
  let warned = false
  const stamp = Effect.sync(() => {
    try {
      writeHeartbeat(file)
      return undefined
    } catch (error) {
      return String(error)
    }
  }).pipe(Effect.flatMap((error) =>
    error === undefined || warned
      ? Effect.void
      : Effect.sync(() => (warned = true)).pipe(
        Effect.andThen(Effect.logWarning("cannot write the heartbeat file; the healthcheck command will report unhealthy")),
        Effect.annotateLogs({ file, error })
      )
  ))
  yield* Effect.forkScoped(stamp.pipe(Effect.repeat(Schedule.spaced(Duration.millis(heartbeatEveryMillis)))))
}))

const reportConfigError = (e: ConfigInvalid) =>
  Effect.logError(e.message).pipe(Effect.annotateLogs({ exitCode: ExitCode.config, error: e._tag }))

const run = Effect.gen(function*() {
  const settings = yield* loadSettings(process.env)
  return yield* sidecar.pipe(
    Effect.provide(Layer.merge(liveLayer(settings), heartbeat(settings.heartbeatFile))),
    reportEnd,
    Effect.provide(Logging.layer(settings.logFormat, settings.logLevel))
  )
}).pipe(Effect.tapError((e) => e instanceof ConfigInvalid ? reportConfigError(e) : Effect.void))

/** `check [--json]`: prints a report; the exit code is the one `run` would end with at startup. */
const checkCommand = (json: boolean) =>
  Effect.gen(function*() {
    const settings = yield* loadSettings(process.env)
    // A check should answer quickly: a few retries, not STARTUP_TIMEOUT's worth.
    const quick: Settings = { ...settings, startupTimeoutSeconds: Math.min(settings.startupTimeoutSeconds, 10) }
    const ran = yield* check.pipe(
      // Building the layers reads the metadata too: that can fail before the check starts.
      Effect.provide(liveLayer(quick)),
      Effect.exit,
      // Retry warnings would interleave with the report.
      Effect.provide(Logging.layer(settings.logFormat, "error"))
    )
    const report = Exit.isSuccess(ran) ? ran.value : failedCheck(ran)
    yield* Console.log(json ? JSON.stringify(report) : formatCheckReport(report))
    if (!report.ok) return yield* Effect.fail(new CheckFailed({ exitCode: report.exitCode }))
  }).pipe(Effect.tapError((e) => e instanceof ConfigInvalid ? reportConfigError(e) : Effect.void))

const args = process.argv.slice(3)
const commands: Record<string, Effect.Effect<unknown, unknown>> = {
  run,
  check: checkCommand(args.includes("--json"))
}

const command = process.argv[2] ?? "run"
const program = commands[command] ?? Effect.fail(
  new ConfigInvalid({ variable: "command", value: command, expected: "one of run, check, healthcheck" })
).pipe(Effect.tapError(reportConfigError))

/** A signal that came while this code was loading: the same clean stop as one that comes later. */
const stoppedWhileLoading = loadSettings(process.env).pipe(
  Effect.map((settings) => settings.logFormat),
  Effect.orElseSucceed(() => "json" as const),
  Effect.flatMap((format) =>
    Logging.whateverTheLevel(Effect.logInfo("stopped by signal")).pipe(
      Effect.annotateLogs({ exitCode: ExitCode.interrupted }),
      Effect.provide(Logging.layer(format, "info"))
    )
  ),
  Effect.andThen(Effect.interrupt)
)

// runMain has installed its signal handlers when this runs.
const main = Effect.suspend(() => takeOverSignals() === undefined ? program : stoppedWhileLoading)

NodeRuntime.runMain(main.pipe(Effect.provide(Logging.layer("json", "info"))), {
  disableErrorReporting: true,
  teardown: (exit, onExit) => {
    const code = exitCodeOf(exit)
    onExit(code)
    // Exit now rather than when idle sockets time out; logs are written synchronously.
    process.exit(code)
  }
})
