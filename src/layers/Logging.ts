// One line per event on stdout, for CloudWatch Logs: JSON objects with stable
// keys (level, message, then the event's fields), or plain text.
import { Cause, Layer, Logger, References } from "effect"
import type { LogFormat, LogLevelName } from "./Config.ts"

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
  const cause = options.cause.reasons.length > 0 ? { cause: Cause.pretty(options.cause) } : {}
  return {
    time: options.date.toISOString(),
    level: levelNames[options.logLevel] ?? options.logLevel.toLowerCase(),
    message: messageText(options.message),
    ...annotations,
    ...cause
  }
}

const formatText = ({ time, level, message, ...fields }: LogRecord): string => {
  const rest = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
  return [time, level.toUpperCase().padEnd(5), message, ...rest].join(" ")
}

export const makeLogger = (format: LogFormat, write: (line: string) => void = (line) => process.stdout.write(line + "\n")) =>
  Logger.make((options) => {
    const record = toRecord(options)
    write(format === "json" ? JSON.stringify(record) : formatText(record))
  })

export const layer = (format: LogFormat, level: LogLevelName) =>
  Layer.mergeAll(
    Logger.layer([makeLogger(format)]),
    Layer.succeed(References.MinimumLogLevel, minimumLevel[level])
  )
