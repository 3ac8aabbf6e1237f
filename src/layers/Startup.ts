// STARTUP_TIMEOUT, counted from process start on the monotonic clock: how long
// the metadata endpoint is tried before exit 3, and when a start that AWS keeps
// failing is reported at error level (the sidecar itself goes on trying).
import { Clock, Context, Duration, Effect, Layer, Ref } from "effect"
import type { AwsCallFailed, MetadataUnavailable } from "../errors.ts"
import { Config } from "./Config.ts"

/** A transient failure during startup, kept for the report of a slow start. */
export interface StartupFailure {
  readonly what: string
  readonly error: AwsCallFailed | MetadataUnavailable
}

export class Startup extends Context.Service<Startup, {
  readonly timeoutSeconds: number
  /** What is left of STARTUP_TIMEOUT; zero once it has passed. */
  readonly remaining: Effect.Effect<Duration.Duration>
  readonly lastFailure: Ref.Ref<StartupFailure | undefined>
}>()("nlb-sidecar/Startup") {
  /** `alreadyRunning`: how long the process had run before the layer was built (loading its code). */
  static readonly make = (alreadyRunning: Duration.Duration) =>
    Layer.effect(
      Startup,
      Effect.gen(function*() {
        const { startupTimeoutSeconds } = yield* Config
        const deadline = (yield* Clock.monotonicTimeNanos) + BigInt(startupTimeoutSeconds) * 1_000_000_000n -
          Duration.toNanosUnsafe(alreadyRunning)
        const remaining = Clock.monotonicTimeNanos.pipe(
          Effect.map((now) => (now >= deadline ? Duration.zero : Duration.nanos(deadline - now)))
        )
        return {
          timeoutSeconds: startupTimeoutSeconds,
          remaining,
          lastFailure: yield* Ref.make<StartupFailure | undefined>(undefined)
        }
      })
    )

  static readonly layer = Layer.suspend(() => Startup.make(Duration.seconds(process.uptime())))

  /** Starts counting when the layer is built: at virtual time 0 in TestClock tests. */
  static readonly layerTest = Startup.make(Duration.zero)
}
