// DRAIN_STRATEGY as one service: how long the sidecar stays after draining is
// seen. `fixed` and `connections` are the two ways; `auto` (the default) is
// `connections` wherever the sidecar can see the application's connections,
// `fixed` elsewhere. Decided once at startup (`decide`): what it returns is
// the strategy in use from then on.
import { Context, Effect, Layer } from "effect"
import type { UnsupportedTask } from "../errors.ts"
import { Config, type Settings } from "./Config.ts"
import { connectionsStrategy, type ConnectionsVisibility, connectionsVisibility } from "./drain/connections.ts"
import { fixedStrategy } from "./drain/fixed.ts"
import type { AdvisedGroup, Strategy } from "./drain/strategy.ts"

/** The strategy in use, and why: what `check` and the startup line report, and what the sidecar waits with. */
export interface DecidedStrategy {
  readonly strategy: Strategy["name"]
  /** `DRAIN_STRATEGY=…`, or for `auto` what decided it. */
  readonly why: string
  readonly plan: Strategy["plan"]
  readonly watchesWhileWaiting: Strategy["watchesWhileWaiting"]
  readonly wait: Strategy["wait"]
  /** For `check`: what to change for the strategy to do better with these groups. */
  readonly advise: (groups: ReadonlyArray<AdvisedGroup>) => ReadonlyArray<string>
}

/**
 * `auto`: `connections` in awsvpc and host mode when the socket table can be
 * read now, `fixed` otherwise (bridge mode, an unreadable table); the reason
 * is what `connectionsVisibility` found.
 */
export const resolveAuto = (found: ConnectionsVisibility): Pick<DecidedStrategy, "strategy" | "why"> => {
  switch (found._tag) {
    case "Visible":
      return {
        strategy: "connections",
        why: `DRAIN_STRATEGY=auto in ${found.networkMode} mode: the application's connections can be seen`
      }
    case "OwnNamespaces":
      return {
        strategy: "fixed",
        why:
          `DRAIN_STRATEGY=auto in ${found.networkMode} mode: each container has a network namespace of its own, so the application's connections cannot be seen`
      }
    case "TableUnreadable":
      return { strategy: "fixed", why: `DRAIN_STRATEGY=auto: ${found.error.message}` }
  }
}

/** `connectionsVisible`: whether `connections` could work in this task (no advice to choose it where it cannot). */
const decided = (way: Strategy, why: string, connectionsVisible: boolean): DecidedStrategy => ({
  strategy: way.name,
  why,
  plan: way.plan,
  watchesWhileWaiting: way.watchesWhileWaiting,
  wait: way.wait,
  advise: (groups) => way.advise(groups, connectionsVisible)
})

export class DrainStrategy extends Context.Service<DrainStrategy, {
  /**
   * At startup, after discovery: the strategy for this task, checked that it can work here (exit 4
   * if not); `auto` picks one here and logs which and why.
   */
  readonly decide: (networkMode: string) => Effect.Effect<DecidedStrategy, UnsupportedTask>
}>()("nlb-sidecar/DrainStrategy") {
  static readonly make = (settings: Settings) => {
    const ways: Record<Strategy["name"], Strategy> = {
      fixed: fixedStrategy(settings),
      connections: connectionsStrategy(settings)
    }
    return DrainStrategy.of({
      decide: Effect.fn("DrainStrategy.decide")(function*(networkMode: string) {
        if (settings.drainStrategy !== "auto") {
          const way = ways[settings.drainStrategy]
          yield* way.preflight(networkMode)
          return decided(way, `DRAIN_STRATEGY=${way.name}`, networkMode !== "bridge")
        }
        const found = yield* connectionsVisibility(networkMode)
        const { strategy, why } = resolveAuto(found)
        yield* Effect.logInfo(`drain strategy: ${strategy}`).pipe(Effect.annotateLogs({ why }))
        return decided(ways[strategy], why, found._tag === "Visible")
      })
    })
  }

  /** From the settings. */
  static readonly layer = Layer.effect(
    DrainStrategy,
    Effect.gen(function*() {
      return DrainStrategy.make(yield* Config)
    })
  )
}
