// DRAIN_STRATEGY=connections: after draining is seen, stay until the application's connections on
// every target's port are gone and no new one arrives (after each load balancer's floor), never
// longer than DEREGISTRATION_WAIT.
import { Clock, Duration, Effect, Schedule } from "effect"
import type { TargetGroup } from "../../domain.ts"
import { targetKey } from "../../domain.ts"
import { UnsupportedTask } from "../../errors.ts"
import type { Settings } from "../Config.ts"
import { Connections, type ConnectionsUnreadable, type SocketSample } from "../Connections.ts"
import { countsConnections, floorSeconds, isApplicationLoadBalancer, nlbFloorSeconds } from "./loadBalancers.ts"
import type { DrainEvidence, EvidenceTarget, Strategy, WaitOutcome } from "./strategy.ts"

/** How often the socket table is read while waiting. */
export const sampleEveryMillis = 1_000
/** "open connections changed" is logged at most this often. */
export const changeLogEveryMillis = 5_000

type WaitSettings = Pick<Settings, "deregistrationWaitSeconds" | "drainIdleSeconds" | "drainMinWaitSeconds">

export interface WaitTarget {
  readonly key: string
  readonly port: number
  /** When this target's floor starts, in ms since the wait began: its drain seen, or the wait's start. */
  readonly floorFromMillis: number
  readonly floorMillis: number
  readonly countable: boolean
}

export interface WaitPlan {
  readonly boundMillis: number
  readonly idleMillis: number
  readonly targets: ReadonlyArray<WaitTarget>
}

/**
 * Every target, each with its own group's floor (by protocol), counted from
 * when its drain was seen; a target not seen leaving yet (its group's
 * deregistration not visible yet: ELBv2 reads are eventually consistent) from
 * the start of the wait.
 */
export const planWait = (
  settings: WaitSettings,
  targets: ReadonlyArray<EvidenceTarget>,
  groups: ReadonlyArray<TargetGroup>,
  startMillis: number
): WaitPlan => {
  const boundMillis = settings.deregistrationWaitSeconds * 1000
  return {
    boundMillis,
    idleMillis: settings.drainIdleSeconds * 1000,
    targets: targets.map(({ target, leavingSince }) => {
      const protocol = groups.find((g) => g.arn === target.targetGroupArn)?.protocol
      return {
        key: targetKey(target),
        port: target.port,
        floorFromMillis: leavingSince === undefined ? 0 : Math.max(0, leavingSince - startMillis),
        floorMillis: Math.min(boundMillis, floorSeconds(settings, protocol) * 1000),
        countable: countsConnections(protocol)
      }
    })
  }
}

export type WaitVerdict = "waiting" | "drained" | "bound"

/**
 * Done when the bound is reached, or when every target's floor has passed and
 * its port has had no connection for the idle window. Idle counts from the
 * first sample that found the port empty with nothing arrived since the sample
 * before (what came and went closed somewhere before it), and from the start
 * of the wait at the earliest: what came before is not known.
 */
export const judgeWait = (
  plan: WaitPlan,
  elapsedMillis: number,
  idleSinceMillis: ReadonlyMap<number, number>
): WaitVerdict =>
  elapsedMillis >= plan.boundMillis
    ? "bound"
    : plan.targets.every((t) => {
        const idleSince = idleSinceMillis.get(t.port)
        return t.countable && elapsedMillis >= t.floorFromMillis + t.floorMillis && idleSince !== undefined &&
          elapsedMillis - idleSince >= plan.idleMillis
      })
    ? "drained"
    : "waiting"

/**
 * The idle window of each port after one sample: a port with a connection open
 * (or a table that cannot be read: it says nothing) is busy; one where a
 * connection arrived since the sample before starts its window again now.
 */
export const nextIdleSince = (
  idleSince: ReadonlyMap<number, number>,
  ports: ReadonlyArray<number>,
  sample: Pick<SocketSample, "open" | "arrivals"> | undefined,
  elapsedMillis: number
): Map<number, number> => {
  const next = new Map<number, number>()
  for (const port of ports) {
    const open = sample === undefined ? 1 : sample.open.get(port) ?? 0
    const arrived = sample?.arrivals.get(port) ?? 0
    if (open > 0) continue
    next.set(port, arrived > 0 ? elapsedMillis : idleSince.get(port) ?? elapsedMillis)
  }
  return next
}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0)
const perPort = (counts: ReadonlyMap<number, number> | undefined) =>
  counts === undefined ? null : Object.fromEntries([...counts].map(([port, n]) => [String(port), n]))

const waitForConnections = (
  settings: WaitSettings,
  evidence: DrainEvidence,
  groups: ReadonlyArray<TargetGroup>,
  startMillis: number
) =>
  Effect.gen(function*() {
    const connections = yield* Connections
    let idleSince = new Map<number, number>()
    let previous: { readonly sample: SocketSample; readonly ports: ReadonlySet<number> } | undefined
    let lastLog: { readonly at: number; readonly total: number | undefined } | undefined
    const arrivedSinceLog = new Map<number, number>()
    let unreadableLogged = false

    const sample = Effect.gen(function*() {
      const elapsed = (yield* Clock.currentTimeMillis) - startMillis
      const plan = planWait(settings, yield* evidence, groups, startMillis)
      const ports = [...new Set(plan.targets.map((t) => t.port))]
      const read = yield* connections.sample(ports, previous?.sample).pipe(
        Effect.tapError((error) =>
          unreadableLogged ? Effect.void : Effect.sync(() => (unreadableLogged = true)).pipe(
            Effect.andThen(Effect.logWarning("cannot read the socket table: counting its ports as busy")),
            Effect.annotateLogs({ error: error.message })
          )
        ),
        Effect.option,
        Effect.map((o) => (o._tag === "Some" ? o.value : undefined))
      )
      // A port first sampled now has nothing to compare with: what is there is open or not, not arrived.
      const arrivals = new Map(ports.map((p) => [p, previous?.ports.has(p) === true ? read?.arrivals.get(p) ?? 0 : 0]))
      if (read !== undefined) previous = { sample: read, ports: new Set(ports) }
      for (const [port, n] of arrivals) arrivedSinceLog.set(port, (arrivedSinceLog.get(port) ?? 0) + n)
      idleSince = nextIdleSince(
        idleSince,
        ports,
        read === undefined ? undefined : { open: read.open, arrivals },
        elapsed
      )
      const open = read?.open
      const total = open === undefined ? undefined : sum(open.values())
      if (lastLog === undefined) {
        yield* Effect.logInfo("waiting for connections to close").pipe(Effect.annotateLogs({
          strategy: "connections",
          floorSeconds: Math.max(...plan.targets.map((t) => t.floorMillis)) / 1000,
          boundSeconds: plan.boundMillis / 1000,
          idleSeconds: plan.idleMillis / 1000,
          connections: perPort(open),
          ...(plan.targets.some((t) => !t.countable)
            ? { udp: "connections cannot be counted: waiting DEREGISTRATION_WAIT" }
            : {})
        }))
        lastLog = { at: elapsed, total }
        arrivedSinceLog.clear()
      } else if (
        (total !== lastLog.total || sum(arrivedSinceLog.values()) > 0) && elapsed - lastLog.at >= changeLogEveryMillis
      ) {
        yield* Effect.logInfo("open connections changed").pipe(
          Effect.annotateLogs({
            connections: perPort(open),
            arrivedSinceLastLine: perPort(arrivedSinceLog),
            afterSeconds: Math.round(elapsed / 1000)
          })
        )
        lastLog = { at: elapsed, total }
        arrivedSinceLog.clear()
      }
      return { elapsed, plan, total, verdict: judgeWait(plan, elapsed, idleSince) }
    })

    const boundMillis = settings.deregistrationWaitSeconds * 1000
    const schedule = Schedule.spaced(Duration.millis(sampleEveryMillis)).pipe(
      Schedule.setInputType<{ readonly elapsed: number }>(),
      // The bound is kept to the millisecond, not to the next sample.
      Schedule.modifyDelay(({ input, duration }) =>
        Effect.succeed(Math.max(0, Math.min(Duration.toMillis(duration), boundMillis - input.elapsed)))
      )
    )
    const last = yield* Effect.repeat(sample, { schedule, until: (s) => s.verdict !== "waiting" })
    const seconds = Math.round(last.elapsed / 1000)
    const why = last.verdict === "drained"
      ? `connections drained after ${seconds} s`
      : last.plan.targets.some((t) => !t.countable)
      ? "DEREGISTRATION_WAIT reached (UDP: connections cannot be counted)"
      : `DEREGISTRATION_WAIT reached with ${last.total ?? "an unknown number of"} connections open`
    const outcome: WaitOutcome = {
      waitedSeconds: seconds,
      why,
      ...(last.total === undefined ? {} : { connectionsAtExit: last.total })
    }
    return outcome
  })

/**
 * What `connections` needs at startup, as found: the application's sockets in the
 * sidecar's network namespace (awsvpc, host; not bridge, where each container has
 * one of its own), and a socket table it can read.
 */
export type ConnectionsVisibility =
  | { readonly _tag: "Visible"; readonly networkMode: string }
  | { readonly _tag: "OwnNamespaces"; readonly networkMode: string }
  | { readonly _tag: "TableUnreadable"; readonly networkMode: string; readonly error: ConnectionsUnreadable }

/** Reads the socket table once, except in bridge mode, where what it holds is not the application's. */
export const connectionsVisibility = Effect.fn("connectionsVisibility")(function*(networkMode: string) {
  if (networkMode === "bridge") return { _tag: "OwnNamespaces", networkMode } satisfies ConnectionsVisibility
  return yield* (yield* Connections).sample([]).pipe(
    Effect.as<ConnectionsVisibility>({ _tag: "Visible", networkMode }),
    Effect.catch((error) => Effect.succeed<ConnectionsVisibility>({ _tag: "TableUnreadable", networkMode, error }))
  )
})

const fix = "Use DRAIN_STRATEGY=fixed, or run the task in awsvpc or host network mode."

/** Why an explicit `connections` cannot work in this task (exit 4). */
const refusal = (hidden: Exclude<ConnectionsVisibility, { readonly _tag: "Visible" }>) =>
  new UnsupportedTask({
    problem: hidden._tag === "OwnNamespaces"
      ? `DRAIN_STRATEGY=connections cannot see the application's connections in ${hidden.networkMode} mode: each container has a network namespace of its own`
      : `DRAIN_STRATEGY=connections: ${hidden.error.message}`,
    fix
  })

/** At startup: fails (exit 4) where `connections` cannot see the application's connections. */
export const connectionsPreflight = (networkMode: string) =>
  connectionsVisibility(networkMode).pipe(
    Effect.flatMap((found) => found._tag === "Visible" ? Effect.void : Effect.fail(refusal(found)))
  )

export const connectionsStrategy = (settings: WaitSettings): Strategy => ({
  name: "connections",
  plan: `exiting when the connections are done, after at most ${settings.deregistrationWaitSeconds} s`,
  preflight: connectionsPreflight,
  // Polls while waiting can only matter when some group's floor ends before the bound.
  watchesWhileWaiting: (groups) =>
    groups.some((g) => floorSeconds(settings, g.protocol) < settings.deregistrationWaitSeconds),
  wait: (evidence, groups, startMillis) =>
    waitForConnections(settings, evidence, groups, startMillis).pipe(Effect.withSpan("connections.wait")),
  advise: (groups) => {
    const floor = settings.drainMinWaitSeconds
    return floor === undefined || floor >= nlbFloorSeconds ?
      [] :
      groups.filter((g) => !isApplicationLoadBalancer(g.protocol)).map((g) =>
        `DRAIN_MIN_WAIT=${floor} with the Network Load Balancer group ${g.arn}: an NLB goes on routing new connections to a deregistering target for about two minutes; a floor under ${nlbFloorSeconds} s may cut them off`
      )
  }
})
