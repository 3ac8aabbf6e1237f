// Stamps HEARTBEAT_FILE every 10 s while the program runs, for the
// `healthcheck` command (src/heartbeat.ts); a failed write is logged once,
// never fatal.
import { Duration, Effect, Layer, Schedule } from "effect"
import { heartbeatEveryMillis, writeHeartbeat } from "../heartbeat.ts"
import { Config } from "./Config.ts"

export const layerWith = (write: (file: string) => void) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const file = (yield* Config).heartbeatFile
    let warned = false
    const stamp = Effect.try({ try: () => write(file), catch: String }).pipe(
      Effect.catch((error) =>
        warned ? Effect.void : Effect.sync(() => (warned = true)).pipe(
          Effect.andThen(
            Effect.logWarning("cannot write the heartbeat file; the healthcheck command will report unhealthy")
          ),
          Effect.annotateLogs({ file, error })
        )
      )
    )
    yield* Effect.forkScoped(stamp.pipe(Effect.repeat(Schedule.spaced(Duration.millis(heartbeatEveryMillis)))))
  }))

export const layer = layerWith((file) => writeHeartbeat(file))
