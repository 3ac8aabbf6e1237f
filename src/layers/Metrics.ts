// CloudWatch embedded metric format records in the log stream: the awslogs
// driver turns them into metrics with nothing else to run (METRICS=emf).
import { Context, Effect, Layer } from "effect"
import { type EmfRecord } from "../metrics/emf.ts"
import { defaultNamespace } from "../metrics/records.ts"
import { Config } from "./Config.ts"
import { writeStdout } from "./Logging.ts"

export interface MetricsService {
  /** The namespace records go to; `undefined` when METRICS=off. */
  readonly namespace: string | undefined
  readonly emit: (record: EmfRecord) => Effect.Effect<void>
}

const off: MetricsService = { namespace: undefined, emit: () => Effect.void }

/** Off unless provided: a program run without the live layer (a test) writes no metrics. */
export const Metrics = Context.Reference<MetricsService>("nlb-sidecar/Metrics", { defaultValue: () => off })

/** METRICS and METRICS_NAMESPACE as the settings say; a record is one line of its own on stdout. */
export const layer = Layer.effect(
  Metrics,
  Effect.gen(function*() {
    const { metrics, metricsNamespace } = yield* Config
    return metrics === "off"
      ? off
      : {
        namespace: metricsNamespace,
        emit: (record: EmfRecord) => Effect.sync(() => writeStdout(JSON.stringify(record)))
      }
  })
)

/** Records collected in `into`, for tests. */
export const layerTest = (into: Array<EmfRecord>, namespace = defaultNamespace) =>
  Layer.succeed(Metrics, { namespace, emit: (record: EmfRecord) => Effect.sync(() => void into.push(record)) })
