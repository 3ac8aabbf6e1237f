// DRAIN_STRATEGY as one service: how long the sidecar stays after draining is
// seen. `fixed` and `connections` are the two ways; `auto` (the default) is
// `connections` wherever the sidecar can see the application's connections,
// `fixed` elsewhere, decided once at startup (`preflight`).
import { Context, Effect, Layer, Ref } from "effect"
import type { TargetGroup } from "../domain.ts"
import type { UnsupportedTask } from "../errors.ts"
import { Config, type Settings } from "./Config.ts"
import { connectionsPreflight, connectionsStrategy } from "./drain/connections.ts"
import { fixedStrategy } from "./drain/fixed.ts"
import type { AdvisedGroup, DrainEvidence, Strategy, WaitOutcome } from "./drain/strategy.ts"

/** The strategy in use, and why: what `check` and the startup line report. */
export interface Chosen {
  readonly strategy: Strategy["name"]
  /** `DRAIN_STRATEGY=…`, or for `auto` what decided it. */
  readonly why: string
}

/**
 * `auto`: `connections` in awsvpc and host mode when the socket table can be
 * read now, `fixed` otherwise (bridge mode, an unreadable table).
 */
export const resolveAuto = (networkMode: string): Effect.Effect<Chosen> =>
  networkMode === "bridge"
    ? Effect.succeed({
      strategy: "fixed",
      why:
        "DRAIN_STRATEGY=auto in bridge mode: each container has a network namespace of its own, so the application's connections cannot be seen"
    })
    : connectionsPreflight(networkMode).pipe(
      Effect.as<Chosen>({
        strategy: "connections",
        why: `DRAIN_STRATEGY=auto in ${networkMode} mode: the application's connections can be seen`
      }),
      Effect.catch((error) =>
        Effect.succeed<Chosen>({
          strategy: "fixed",
          why: `DRAIN_STRATEGY=auto: ${error.problem.replace(/^DRAIN_STRATEGY=connections: /, "")}`
        })
      )
    )

export class DrainStrategy extends Context.Service<DrainStrategy, {
  /** At startup: checks the strategy can work in this task (exit 4 if not); `auto` picks one here and says which. */
  readonly preflight: (networkMode: string) => Effect.Effect<void, UnsupportedTask>
  /** The strategy in use, and why. */
  readonly describe: Effect.Effect<Chosen & { readonly plan: string }>
  /** Whether polls made while waiting can change when the wait ends. */
  readonly watchesWhileWaiting: (groups: ReadonlyArray<TargetGroup>) => Effect.Effect<boolean>
  /** The wait before exit. */
  readonly wait: (
    evidence: DrainEvidence,
    groups: ReadonlyArray<TargetGroup>,
    startMillis: number
  ) => Effect.Effect<WaitOutcome>
  /** For `check`, after preflight: what to change for the strategy to do better with these groups. */
  readonly advise: (groups: ReadonlyArray<AdvisedGroup>) => Effect.Effect<ReadonlyArray<string>>
}>()("nlb-sidecar/DrainStrategy") {
  static readonly make = (settings: Settings) =>
    Effect.gen(function*() {
      const ways: Record<Strategy["name"], Strategy> = {
        fixed: fixedStrategy(settings),
        connections: connectionsStrategy(settings)
      }
      // `auto` is `fixed` until preflight has decided.
      const chosen = yield* Ref.make<Chosen>(
        settings.drainStrategy === "auto"
          ? { strategy: "fixed", why: "DRAIN_STRATEGY=auto, not decided yet" }
          : { strategy: settings.drainStrategy, why: `DRAIN_STRATEGY=${settings.drainStrategy}` }
      )
      // Whether `connections` could work here, as preflight found: no advice to choose it where it cannot.
      const connectionsVisible = yield* Ref.make(true)
      const current = Ref.get(chosen).pipe(Effect.map((c) => ways[c.strategy]))
      return DrainStrategy.of({
        preflight: Effect.fn("DrainStrategy.preflight")(function*(networkMode: string) {
          if (settings.drainStrategy !== "auto") {
            yield* Ref.set(connectionsVisible, networkMode !== "bridge")
            return yield* ways[settings.drainStrategy].preflight(networkMode)
          }
          const decided = yield* resolveAuto(networkMode)
          yield* Ref.set(chosen, decided)
          yield* Ref.set(connectionsVisible, decided.strategy === "connections")
          yield* Effect.logInfo(`drain strategy: ${decided.strategy}`).pipe(Effect.annotateLogs({ why: decided.why }))
        }),
        describe: Effect.all([Ref.get(chosen), current]).pipe(Effect.map(([c, way]) => ({ ...c, plan: way.plan }))),
        watchesWhileWaiting: (groups) => current.pipe(Effect.map((way) => way.watchesWhileWaiting(groups))),
        wait: (evidence, groups, startMillis) =>
          current.pipe(Effect.flatMap((way) => way.wait(evidence, groups, startMillis))),
        advise: (groups) =>
          Effect.all([current, Ref.get(connectionsVisible)]).pipe(
            Effect.map(([way, visible]) => way.advise(groups, visible))
          )
      })
    })

  /** From the settings. */
  static readonly layer = Layer.effect(
    DrainStrategy,
    Effect.gen(function*() {
      return yield* DrainStrategy.make(yield* Config)
    })
  )
}
