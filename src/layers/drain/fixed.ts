// DRAIN_STRATEGY=fixed: wait DEREGISTRATION_WAIT after draining is seen, then exit.
import { Clock, Duration, Effect } from "effect"
import type { Settings } from "../Config.ts"
import { isApplicationLoadBalancer } from "./loadBalancers.ts"
import type { Strategy, WaitOutcome } from "./strategy.ts"

export const fixedStrategy = (settings: Pick<Settings, "deregistrationWaitSeconds">): Strategy => {
  const seconds = settings.deregistrationWaitSeconds
  return {
    name: "fixed",
    plan: `exiting after ${seconds} s`,
    preflight: () => Effect.void,
    // Nothing a poll finds changes the exit: no call is spent on it.
    watchesWhileWaiting: () => false,
    wait: (_evidence, _groups, startMillis) =>
      Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Effect.sleep(Duration.millis(Math.max(0, startMillis + seconds * 1000 - now)))),
        Effect.as<WaitOutcome>({ waitedSeconds: seconds, why: `waited ${seconds}s` })
      ),
    // Only where `connections` can work: elsewhere, setting it fails at startup (exit 4).
    advise: (groups, connectionsVisible) =>
      seconds <= 30 || !connectionsVisible ?
        [] :
        groups.filter((g) => isApplicationLoadBalancer(g.protocol)).map((g) =>
          `${g.arn} is an Application Load Balancer group, which stops sending new requests at once: DRAIN_STRATEGY=connections exits when the last request is done instead of after ${seconds} s`
        )
  }
}
