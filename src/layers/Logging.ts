// One line per event on stdout, for CloudWatch Logs: JSON objects with stable
// keys (level, message, then the event's fields), or plain text.
import { Cause, Effect, Layer, Logger, References } from "effect"
import type { Writable } from "node:stream"
import { redact } from "../redact.ts"
import { Config, type LogFormat, type LogLevelName } from "./Config.ts"

const levelNames: Record<string, string> = {
  Fatal: "error",
  Error: "error",
  Warn: "warn",
  Info: "info",
  Debug: "debug",
  Trace: "debug"
}

const minimumLevel: Record<LogLevelName, "Debug" | "Info" | "Warn" | "Error"> = {
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error"
}

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")

export interface LogRecord {
  readonly time: string
  readonly level: string
  readonly message: string
  readonly [field: string]: unknown
}

export const toRecord = (options: Logger.Options<unknown>): LogRecord => {
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
  // An unexpected error's cause can quote anything, request material included.
  const cause = options.cause.reasons.length > 0 ? { cause: redact(Cause.pretty(options.cause)) } : {}
  return {
    time: options.date.toISOString(),
    level: levelNames[options.logLevel] ?? options.logLevel.toLowerCase(),
    message: messageText(options.message),
    ...annotations,
    ...cause
  }
}

const controlEscapes: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" }

/** Control characters (and Unicode line separators) as escapes: a value can never start a line of its own. */
const escapeControl = (text: string): string =>
  text.replace(
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) => controlEscapes[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
  )

const formatText = ({ time, level, message, ...fields }: LogRecord): string => {
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
  return escapeControl([time, level.toUpperCase().padEnd(5), message, ...rest].join(" "))
}

/** Lines queued behind a reader that does not keep up (a stuck log driver), beyond which new lines are dropped. */
export const maxQueuedBytes = 64 * 1024

/**
 * Writes lines to `out` and never fails the sidecar: a write error (EPIPE when
 * the reader is gone, ENOSPC on /dev/full) comes as an exception or as an
 * 'error' event, and is ignored; a line that cannot be written, or would only
 * queue behind a reader that stopped reading, is dropped.
 */
export const lineWriter = (out: Writable): (line: string) => void => {
  out.on("error", () => {})
  return (line) => {
    if (out.destroyed || out.writableLength > maxQueuedBytes) return
    try {
      out.write(line + "\n")
    } catch {
      // Dropped: nothing else can be done with a log line.
    }
  }
}

let stdout: ((line: string) => void) | undefined
/** One line on stdout, the log stream: never fails, drops what cannot be written. */
export const writeStdout = (line: string) => (stdout ??= lineWriter(process.stdout))(line)

export const makeLogger = (format: LogFormat, write: (line: string) => void = writeStdout) =>
  Logger.make((options) => {
    const record = toRecord(options)
    write(format === "json" ? JSON.stringify(record) : formatText(record))
  })

/** Logs whatever LOG_LEVEL says: for the last line, which says why the sidecar ended and with which exit code. */
export const whateverTheLevel = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(self, References.MinimumLogLevel, "All")

export const layerWith = (format: LogFormat, level: LogLevelName) =>
  Layer.mergeAll(
    Logger.layer([makeLogger(format)]),
    Layer.succeed(References.MinimumLogLevel, minimumLevel[level])
  )

/** LOG_FORMAT and LOG_LEVEL as the settings say. */
export const layer = Layer.unwrap(Effect.gen(function*() {
  const { logFormat, logLevel } = yield* Config
  return layerWith(logFormat, logLevel)
}))
