// After draining is seen: how long to stay. `fixed` waits DEREGISTRATION_WAIT;
// `connections` stays until the application's connections on the leaving
// targets' ports are gone (after the load balancer's floor), never longer
// than DEREGISTRATION_WAIT.
import { Clock, Duration, Effect, Schedule } from "effect"
import type { TargetGroup, TargetObservation } from "../domain.ts"
import { targetKey } from "../domain.ts"
import { UnsupportedTask } from "../errors.ts"
import { Config, type Settings } from "../layers/Config.ts"
import { Connections } from "../layers/Connections.ts"

/** How often the socket table is read while waiting. */
export const sampleEveryMillis = 1_000
/** "open connections changed" is logged at most this often. */
export const changeLogEveryMillis = 5_000

const isAlb = (protocol: string | undefined) => protocol === "HTTP" || protocol === "HTTPS"

/**
 * The floor: an NLB goes on routing new connections to a deregistering target
 * for about two minutes (TCP, TLS, UDP, TCP_UDP, and an unknown protocol, to be
 * safe); an ALB stops at once.
 */
export const defaultFloorSeconds = (protocol: string | undefined): number => (isAlb(protocol) ? 0 : 120)

/** UDP carries no connections to count: such a target waits the whole bound. */
export const countsConnections = (protocol: string | undefined): boolean => protocol !== "UDP" && protocol !== "TCP_UDP"

export interface WaitTarget {
  readonly key: string
  readonly port: number
  readonly floorMillis: number
  readonly countable: boolean
}

export interface WaitPlan {
  readonly boundMillis: number
  readonly idleMillis: number
  readonly targets: ReadonlyArray<WaitTarget>
}

export const planWait = (
  settings: Settings,
  leaving: ReadonlyArray<TargetObservation>,
  groups: ReadonlyArray<TargetGroup>
): WaitPlan => {
  const boundMillis = settings.deregistrationWaitSeconds * 1000
  return {
    boundMillis,
    idleMillis: settings.drainIdleSeconds * 1000,
    targets: leaving.map((o) => {
      const protocol = groups.find((g) => g.arn === o.target.targetGroupArn)?.protocol
      return {
        key: targetKey(o.target),
        port: o.target.port,
        floorMillis: Math.min(boundMillis, (settings.drainMinWaitSeconds ?? defaultFloorSeconds(protocol)) * 1000),
        countable: countsConnections(protocol)
      }
    })
  }
}

export type WaitVerdict = "waiting" | "drained" | "bound"

/**
 * Done when the bound is reached, or when every leaving target's floor has
 * passed and its port has had no connection for the idle window. Idle counts
 * from the first sample that found the port empty (the connections closed
 * somewhere after the sample before), and from the start of the wait at the
 * earliest: what came before is not known.
 */
export const judgeWait = (
  plan: WaitPlan,
  elapsedMillis: number,
  idleSinceMillis: ReadonlyMap<string, number>
): WaitVerdict =>
  elapsedMillis >= plan.boundMillis
    ? "bound"
    : plan.targets.every((t) => {
        const idleSince = idleSinceMillis.get(t.key)
        return t.countable && elapsedMillis >= t.floorMillis && idleSince !== undefined &&
          elapsedMillis - idleSince >= plan.idleMillis
      })
    ? "drained"
    : "waiting"

export interface WaitOutcome {
  readonly waitedSeconds: number
  /** For the last line: which condition ended the wait. */
  readonly why: string
  /** `connections` only: open connections on the leaving targets' ports at the end. */
  readonly connectionsAtExit?: number
}

const total = (counts: ReadonlyMap<number, number> | undefined) =>
  counts === undefined ? undefined : [...counts.values()].reduce((a, b) => a + b, 0)
const perPort = (counts: ReadonlyMap<number, number> | undefined) =>
  counts === undefined ? null : Object.fromEntries([...counts].map(([port, n]) => [String(port), n]))

const waitFixed = Effect.gen(function*() {
  const { deregistrationWaitSeconds } = yield* Config
  yield* Effect.sleep(Duration.seconds(deregistrationWaitSeconds))
  const outcome: WaitOutcome = { waitedSeconds: deregistrationWaitSeconds, why: `waited ${deregistrationWaitSeconds}s` }
  return outcome
})

const waitForConnections = (plan: WaitPlan) =>
  Effect.gen(function*() {
    const connections = yield* Connections
    const ports = [...new Set(plan.targets.map((t) => t.port))]
    const startNanos = yield* Clock.monotonicTimeNanos
    const idleSince = new Map<string, number>()
    let lastLog: { readonly at: number; readonly total: number | undefined } | undefined
    let unreadableLogged = false

    const sample = Effect.gen(function*() {
      const elapsed = Number((yield* Clock.monotonicTimeNanos) - startNanos) / 1e6
      const counts = yield* connections.count(ports).pipe(
        Effect.tapError((error) =>
          unreadableLogged ? Effect.void : Effect.sync(() => (unreadableLogged = true)).pipe(
            Effect.andThen(Effect.logWarning("cannot read the socket table: counting its ports as busy")),
            Effect.annotateLogs({ error: error.message })
          )
        ),
        Effect.option,
        Effect.map((o) => (o._tag === "Some" ? o.value : undefined))
      )
      // A table that cannot be read says nothing: the port counts as busy.
      for (const t of plan.targets) {
        if (counts === undefined || (counts.get(t.port) ?? 0) > 0) idleSince.delete(t.key)
        else if (!idleSince.has(t.key)) idleSince.set(t.key, elapsed)
      }
      const now = total(counts)
      if (lastLog === undefined) {
        yield* Effect.logInfo("waiting for connections to close").pipe(Effect.annotateLogs({
          strategy: "connections",
          floorSeconds: Math.max(...plan.targets.map((t) => t.floorMillis)) / 1000,
          boundSeconds: plan.boundMillis / 1000,
          idleSeconds: plan.idleMillis / 1000,
          connections: perPort(counts),
          ...(plan.targets.some((t) => !t.countable)
            ? { udp: "connections cannot be counted: waiting DEREGISTRATION_WAIT" }
            : {})
        }))
        lastLog = { at: elapsed, total: now }
      } else if (now !== lastLog.total && elapsed - lastLog.at >= changeLogEveryMillis) {
        yield* Effect.logInfo("open connections changed").pipe(
          Effect.annotateLogs({ connections: perPort(counts), afterSeconds: Math.round(elapsed / 1000) })
        )
        lastLog = { at: elapsed, total: now }
      }
      return { elapsed, counts, verdict: judgeWait(plan, elapsed, idleSince) }
    })

    const schedule = Schedule.spaced(Duration.millis(sampleEveryMillis)).pipe(
      Schedule.setInputType<{ readonly elapsed: number }>(),
      // The bound is kept to the millisecond, not to the next sample.
      Schedule.modifyDelay(({ input, duration }) =>
        Effect.succeed(Math.max(0, Math.min(Duration.toMillis(duration), plan.boundMillis - input.elapsed)))
      )
    )
    const last = yield* Effect.repeat(sample, { schedule, until: (s) => s.verdict !== "waiting" })
    const seconds = Math.round(last.elapsed / 1000)
    const open = total(last.counts)
    const why = last.verdict === "drained"
      ? `connections drained after ${seconds} s`
      : plan.targets.some((t) => !t.countable)
      ? "DEREGISTRATION_WAIT reached (UDP: connections cannot be counted)"
      : `DEREGISTRATION_WAIT reached with ${open ?? "an unknown number of"} connections open`
    const outcome: WaitOutcome = {
      waitedSeconds: seconds,
      why,
      ...(open === undefined ? {} : { connectionsAtExit: open })
    }
    return outcome
  })

/**
 * At startup: `connections` needs the application's sockets in the sidecar's
 * network namespace (awsvpc, host), and a socket table it can read.
 */
export const checkDrainStrategy = Effect.fn("checkDrainStrategy")(function*(networkMode: string) {
  const settings = yield* Config
  if (settings.drainStrategy !== "connections") return
  const fix = "Use DRAIN_STRATEGY=fixed, or run the task in awsvpc or host network mode."
  if (networkMode === "bridge") {
    return yield* new UnsupportedTask({
      problem:
        "DRAIN_STRATEGY=connections cannot see the application's connections in bridge mode: each container has a network namespace of its own",
      fix
    })
  }
  yield* (yield* Connections).count([]).pipe(
    Effect.mapError((error) => new UnsupportedTask({ problem: `DRAIN_STRATEGY=connections: ${error.message}`, fix }))
  )
})

/** The wait before exit, by DRAIN_STRATEGY; logs how it starts and why it ends. */
export const drainWait = Effect.fn("drainWait")(
  function*(leaving: ReadonlyArray<TargetObservation>, groups: ReadonlyArray<TargetGroup>) {
    const settings = yield* Config
    return settings.drainStrategy === "connections"
      ? yield* waitForConnections(planWait(settings, leaving, groups))
      : yield* waitFixed
  }
)
