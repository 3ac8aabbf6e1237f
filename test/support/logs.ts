// Captures what the sidecar logs, through the real logger, for assertions.
import { Layer, Logger, References } from "effect"
import { type LogRecord, makeLogger } from "../../src/layers/Logging.ts"

export const captureLogs = () => {
  const records: Array<LogRecord> = []
  const layer = Layer.mergeAll(
    Logger.layer([makeLogger("json", (line) => records.push(JSON.parse(line) as LogRecord))]),
    Layer.succeed(References.MinimumLogLevel, "Debug")
  )
  return { records, layer }
}
