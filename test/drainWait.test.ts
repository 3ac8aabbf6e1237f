// DRAIN_STRATEGY=connections on virtual time: the floor, the idle window, the
// bound, several target groups, UDP; the socket table is a scripted mock.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import type { TargetGroup, TargetObservation } from "../src/domain.ts"
import type { Settings } from "../src/layers/Config.ts"
import { connectionsTest, ConnectionsUnreadable } from "../src/layers/Connections.ts"
import type { DrainEvidence } from "../src/layers/drain/strategy.ts"
import { DrainStrategy } from "../src/layers/DrainStrategy.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { captureLogs } from "./support/logs.ts"
import { awsvpcTask, configTest, ipGroup, testLayer, tgArn, webLoadBalancer } from "./support/mocks.ts"

/**
 * The wait as the sidecar runs it, with the strategy the DrainStrategy service decides in awsvpc mode
 * (its startup read answered by an empty table: the test's table is the wait's alone).
 */
const drainWait = (evidence: DrainEvidence, groups: ReadonlyArray<TargetGroup>) =>
  Effect.gen(function*() {
    const decided = yield* (yield* DrainStrategy).decide("awsvpc").pipe(
      Effect.provide(connectionsTest(() => Effect.succeed({ open: new Map() }))),
      Effect.orDie
    )
    return yield* decided.wait(evidence, groups, yield* Clock.currentTimeMillis)
  })
/** Settings (DRAIN_STRATEGY=connections unless overridden) and the strategy they make. */
const strategyLayer = (settings: Partial<Settings>) =>
  DrainStrategy.layer.pipe(Layer.provideMerge(configTest({ drainStrategy: "connections", ...settings })))

const web = tgArn("web")
const admin = tgArn("admin", "fedcba9876543210")
const s = 1000

const leaving = (targetGroupArn: string, port: number): TargetObservation => ({
  target: { targetGroupArn, id: "10.0.2.106", port, containerName: "app", containerPort: port },
  state: "draining",
  reason: "Target.DeregistrationInProgress"
})

/** Targets all seen leaving when the wait begins (at 0 on the test clock). */
const evidenceOf = (observations: ReadonlyArray<TargetObservation>) =>
  Effect.succeed(observations.map((o) => ({ target: o.target, leavingSince: 0 })))

/** Open connections per port as a function of virtual time (ms since the wait began). */
type Script = (port: number, atMillis: number) => number

const wait = (options: {
  readonly script: Script
  readonly leaving: ReadonlyArray<TargetObservation>
  readonly groups: ReadonlyArray<TargetGroup>
  readonly settings?: Partial<Settings>
}) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const samples: Array<number> = []
    const connections = connectionsTest((ports) =>
      Clock.currentTimeMillis.pipe(Effect.map((at) => {
        samples.push(at)
        return { open: new Map(ports.map((p) => [p, options.script(p, at)])) }
      }))
    )
    const fiber = yield* Effect.forkChild(
      drainWait(evidenceOf(options.leaving), options.groups).pipe(
        Effect.provide(Layer.mergeAll(
          strategyLayer({ deregistrationWaitSeconds: 300, ...options.settings }),
          connections,
          logs.layer
        ))
      )
    )
    /** Runs virtual time until the wait ends (at most `limit`); returns when, and how it ended. */
    const finish = (limit = Duration.minutes(10)) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(limit)
        const exit = fiber.pollUnsafe()
        if (exit === undefined || Exit.isFailure(exit)) return assert.fail("the wait should have ended")
        return exit.value
      })
    return { fiber, finish, logs: logs.records, samples }
  })

const tcp = (arn: string): TargetGroup => ({ ...ipGroup(arn), protocol: "TCP" })
const http = (arn: string): TargetGroup => ({ ...ipGroup(arn), protocol: "HTTP" })
const udp = (arn: string): TargetGroup => ({ ...ipGroup(arn), protocol: "UDP" })

describe("connections: the rules of the wait", () => {
  it.effect("NLB (TCP) with no connections: exits at the 120 s floor, not at DEREGISTRATION_WAIT", () =>
    Effect.gen(function*() {
      const { fiber, finish } = yield* wait({ script: () => 0, leaving: [leaving(web, 8080)], groups: [tcp(web)] })
      yield* TestClock.adjust(Duration.millis(119_999))
      assert.isUndefined(fiber.pollUnsafe(), "an NLB still routes new connections for about two minutes")
      const outcome = yield* finish()
      assert.deepStrictEqual(outcome, {
        waitedSeconds: 120,
        why: "connections drained after 120 s",
        connectionsAtExit: 0
      })
    }))

  it.effect("ALB (HTTP): no floor; exits once the port has been idle for DRAIN_IDLE_SECONDS after the last connection closed", () =>
    Effect.gen(function*() {
      // Three connections until 37 s.
      const { finish, logs } = yield* wait({
        script: (_, at) => (at < 37 * s ? 3 : 0),
        leaving: [leaving(web, 8080)],
        groups: [http(web)]
      })
      const outcome = yield* finish()
      // First sample without connections at 37 s; idle for 5 s at 42 s.
      assert.strictEqual(outcome.waitedSeconds, 42)
      assert.strictEqual(outcome.why, "connections drained after 42 s")
      const start = logs.find((l) => l.message === "waiting for connections to close")
      assert.deepInclude(start, { strategy: "connections", floorSeconds: 0, boundSeconds: 300, idleSeconds: 5 })
      assert.deepStrictEqual(start?.connections, { "8080": 3 })
    }))

  it.effect("ALB with no connections at all: exits after the idle window, within a few seconds", () =>
    Effect.gen(function*() {
      const { finish } = yield* wait({ script: () => 0, leaving: [leaving(web, 8080)], groups: [http(web)] })
      assert.strictEqual((yield* finish()).waitedSeconds, 5)
    }))

  it.effect("a connection that never closes: exits at DEREGISTRATION_WAIT (to the millisecond), saying how many are open", () =>
    Effect.gen(function*() {
      const { fiber, finish } = yield* wait({
        script: () => 1,
        leaving: [leaving(web, 8080)],
        groups: [http(web)],
        settings: { deregistrationWaitSeconds: 90 }
      })
      yield* TestClock.adjust(Duration.millis(89_999))
      assert.isUndefined(fiber.pollUnsafe())
      const outcome = yield* finish()
      assert.deepStrictEqual(outcome, {
        waitedSeconds: 90,
        why: "DEREGISTRATION_WAIT reached with 1 connections open",
        connectionsAtExit: 1
      })
    }))

  it.effect("DRAIN_MIN_WAIT replaces the load balancer's floor; the floor never exceeds DEREGISTRATION_WAIT", () =>
    Effect.gen(function*() {
      const explicit = yield* wait({
        script: () => 0,
        leaving: [leaving(web, 8080)],
        groups: [tcp(web)],
        settings: { drainMinWaitSeconds: 30 }
      })
      assert.strictEqual((yield* explicit.finish()).waitedSeconds, 30)
      const capped = yield* wait({
        script: () => 0,
        leaving: [leaving(web, 8080)],
        groups: [tcp(web)],
        settings: { deregistrationWaitSeconds: 60 }
      })
      assert.strictEqual((yield* capped.finish()).waitedSeconds, 60)
    }))

  it.effect("several target groups: every leaving target's port idle and every floor passed", () =>
    Effect.gen(function*() {
      // admin (HTTP, no floor) idle from the start; web (TCP, 120 s floor) busy until 150 s.
      const { finish } = yield* wait({
        script: (port, at) => (port === 8080 && at < 150 * s ? 2 : 0),
        leaving: [leaving(web, 8080), leaving(admin, 9090)],
        groups: [tcp(web), http(admin)]
      })
      assert.strictEqual((yield* finish()).waitedSeconds, 155)
    }))

  it.effect("UDP: no connections to count, so the whole DEREGISTRATION_WAIT", () =>
    Effect.gen(function*() {
      const { finish } = yield* wait({
        script: () => 0,
        leaving: [leaving(web, 53)],
        groups: [udp(web)],
        settings: { deregistrationWaitSeconds: 200 }
      })
      const outcome = yield* finish()
      assert.strictEqual(outcome.waitedSeconds, 200)
      assert.strictEqual(outcome.why, "DEREGISTRATION_WAIT reached (UDP: connections cannot be counted)")
    }))

  it.effect("samples about once a second while waiting; logs count changes at most once per 5 s", () =>
    Effect.gen(function*() {
      // The count falls by one a second from 10.
      const { finish, samples, logs } = yield* wait({
        script: (_, at) => Math.max(0, 10 - Math.floor(at / s)),
        leaving: [leaving(web, 8080)],
        groups: [http(web)]
      })
      yield* finish()
      assert.deepStrictEqual(samples.slice(0, 4), [0, 1000, 2000, 3000])
      const changes = logs.filter((l) => l.message === "open connections changed")
      assert.deepStrictEqual(changes.map((l) => l.afterSeconds), [5, 10])
    }))

  it.effect("a socket table that cannot be read counts as busy: the wait runs to the bound", () =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const fiber = yield* Effect.forkChild(
        drainWait(evidenceOf([leaving(web, 8080)]), [http(web)]).pipe(Effect.provide(Layer.mergeAll(
          strategyLayer({ deregistrationWaitSeconds: 60 }),
          connectionsTest(() => Effect.fail(new ConnectionsUnreadable({ path: "/proc/net/tcp", detail: "EACCES" }))),
          logs.layer
        )))
      )
      yield* TestClock.adjust(Duration.minutes(2))
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exit.waitedSeconds, 60)
      assert.strictEqual(
        logs.records.filter((l) => l.message === "cannot read the socket table: counting its ports as busy").length,
        1
      )
    }))
})

describe("connections: the sidecar end to end on virtual time", () => {
  const start = (settings: Partial<Settings>, script: Script, mode: "awsvpc" | "bridge" = "awsvpc") =>
    Effect.gen(function*() {
      const world = testLayer({
        settings: { pollingFrequencySeconds: 30, drainStrategy: "connections", drainExitCode: 7, ...settings },
        task: mode === "awsvpc"
          ? awsvpcTask()
          : awsvpcTask({
            Containers: [{
              Name: "app",
              Networks: [{ NetworkMode: "bridge", IPv4Addresses: ["172.17.0.2"] }],
              Ports: [{ ContainerPort: 8080, Protocol: "tcp", HostPort: 32768 }]
            }]
          }),
        ecs: {
          task: {
            group: "service:web",
            containerInstanceArn: "arn:aws:ecs:us-east-1:111122223333:container-instance/default/1a2b",
            containers: []
          },
          ec2InstanceId: "i-0abc"
        },
        elb: {
          timelines: { [web]: [{ at: 0, state: "healthy" }, { at: 20 * s, state: "draining" }] },
          groups: [mode === "awsvpc" ? http(web) : { ...http(web), targetType: "instance" }]
        },
        connections: (ports) =>
          Clock.currentTimeMillis.pipe(Effect.map((at) => ({ open: new Map(ports.map((p) => [p, script(p, at)])) })))
      })
      const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
      return { fiber, logs: world.logs }
    })

  it.effect("exits just after the connections close, and the last line says so", () =>
    Effect.gen(function*() {
      // Draining seen at the 27 s poll; connections close at 40 s, idle from then for 5 s.
      const { fiber } = yield* start({}, (_, at) => (at < 40 * s ? 2 : 0))
      yield* TestClock.adjust(Duration.seconds(44))
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(Duration.seconds(1))
      assert.include(
        expectFailure(fiber.pollUnsafe(), "Drained", 7).message,
        "connections drained after 18 s, exiting with code 7"
      )
    }))

  it.effect("goes on polling while it waits: a second group's drain seen a poll later is waited for, each change logged once, a target back to healthy logged while the exit stands", () =>
    Effect.gen(function*() {
      const world = testLayer({
        settings: { pollingFrequencySeconds: 30, drainStrategy: "connections", drainExitCode: 7 },
        ecs: { loadBalancers: [webLoadBalancer, { ...webLoadBalancer, targetGroupArn: admin, containerPort: 9090 }] },
        elb: {
          timelines: {
            // Polls at 0, 27, 54, 81 and 108 s (30 s less 10% jitter, Random pinned).
            [web]: [{ at: 0, state: "healthy" }, { at: 20 * s, state: "draining" }, { at: 50 * s, state: "healthy" }],
            [admin]: [{ at: 0, state: "healthy" }, { at: 40 * s, state: "draining" }]
          },
          groups: [http(web), http(admin)]
        },
        // admin's port has a connection until 100 s; web's port none.
        connections: (ports) =>
          Clock.currentTimeMillis.pipe(
            Effect.map((at) => ({ open: new Map(ports.map((p) => [p, p === 9090 && at < 100 * s ? 1 : 0])) }))
          )
      })
      const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
      yield* TestClock.adjust(Duration.seconds(104))
      assert.isUndefined(fiber.pollUnsafe(), "admin's connection keeps the task, though only web was leaving at 27 s")
      yield* TestClock.adjust(Duration.seconds(1))
      assert.include(expectFailure(fiber.pollUnsafe(), "Drained", 7).message, "connections drained after 78 s")
      // One DescribeTargetHealth per group per poll, while waiting too; none after the exit.
      const byPoll = Object.groupBy(world.polls(), (c) => String(c.at / s))
      assert.deepStrictEqual(Object.keys(byPoll), ["0", "27", "54", "81"])
      for (const calls of Object.values(byPoll)) {
        assert.deepStrictEqual(calls?.map((c) => c.targetGroupArn).sort(), [web, admin].sort())
      }
      const info = world.logs.filter((l) => l.level === "info" && String(l.message).startsWith("target "))
      assert.deepStrictEqual(info.map((l) => [l.message, l.targetGroupArn, l.state]), [
        ["target state changed", web, "healthy"],
        ["target state changed", admin, "healthy"],
        ["target is deregistering", web, "draining"],
        ["target is registered again after it was seen leaving: an exit already decided stands", web, "healthy"],
        ["target is deregistering", admin, "draining"]
      ])
    }))

  it.effect("DRY_RUN logs the same end and does not exit", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* start({ dryRun: true }, () => 0)
      yield* TestClock.adjust(Duration.minutes(5))
      assert.isUndefined(fiber.pollUnsafe())
      assert.deepInclude(logs.find((l) => l.message === "dry run: would exit with code 7"), {
        why: "connections drained after 5 s"
      })
    }))

  it.effect("bridge mode is refused at startup with exit 4 naming DRAIN_STRATEGY", () =>
    Effect.gen(function*() {
      const { fiber } = yield* start({}, () => 0, "bridge")
      yield* TestClock.adjust(Duration.seconds(1))
      assert.include(expectFailure(fiber.pollUnsafe(), "UnsupportedTask", 4).message, "DRAIN_STRATEGY=fixed")
    }))
})

describe("connections: every target of the task, and arrivals", () => {
  /** The wait over `targets`, whose evidence the test changes as it goes; `script` gives open connections and arrivals. */
  const waitOver = (options: {
    readonly targets: ReadonlyArray<{ readonly o: TargetObservation; readonly leavingSince: number | undefined }>
    readonly groups: ReadonlyArray<TargetGroup>
    readonly script: (port: number, atMillis: number) => { readonly open: number; readonly arrivals?: number }
  }) =>
    Effect.gen(function*() {
      const logs = captureLogs()
      const evidence = new Map(
        options.targets.map((t) => [t.o.target.port, { target: t.o.target, leavingSince: t.leavingSince }])
      )
      const connections = connectionsTest((ports) =>
        Clock.currentTimeMillis.pipe(Effect.map((at) => ({
          open: new Map(ports.map((p) => [p, options.script(p, at).open])),
          arrivals: new Map(ports.map((p) => [p, options.script(p, at).arrivals ?? 0]))
        })))
      )
      const fiber = yield* Effect.forkChild(
        drainWait(Effect.sync(() => [...evidence.values()]), options.groups).pipe(Effect.provide(Layer.mergeAll(
          strategyLayer({ deregistrationWaitSeconds: 300 }),
          connections,
          logs.layer
        )))
      )
      /** The poll loop sees `port`'s target leaving now. */
      const seenLeaving = (port: number) =>
        Clock.currentTimeMillis.pipe(Effect.map((now) => {
          const known = evidence.get(port)
          if (known !== undefined) evidence.set(port, { ...known, leavingSince: now })
        }))
      const endedAt = (limit = Duration.minutes(10)) =>
        Effect.gen(function*() {
          for (let t = 0; t < Duration.toMillis(limit); t += 1000) {
            const exit = fiber.pollUnsafe()
            if (exit !== undefined) {
              if (Exit.isFailure(exit)) return assert.fail("the wait failed")
              return exit.value
            }
            yield* TestClock.adjust(Duration.seconds(1))
          }
          return assert.fail("the wait should have ended")
        })
      return { fiber, seenLeaving, endedAt, logs: logs.records }
    })

  it.effect("a target not seen leaving yet is waited for too: its port's connections keep the task", () =>
    Effect.gen(function*() {
      // web (HTTP) drains; admin (HTTP) still reads healthy, with a connection open until 30 s.
      const { endedAt } = yield* waitOver({
        targets: [{ o: leaving(web, 8080), leavingSince: 0 }, { o: leaving(admin, 9090), leavingSince: undefined }],
        groups: [http(web), http(admin)],
        script: (port, at) => ({ open: port === 9090 && at < 30 * s ? 1 : 0 })
      })
      assert.strictEqual((yield* endedAt()).waitedSeconds, 35)
    }))

  it.effect("a group whose drain is seen later starts its own floor from then", () =>
    Effect.gen(function*() {
      // web (HTTP, no floor) drains at 0; admin (TCP, 120 s floor) is seen draining at 30 s: its floor ends at 150 s.
      const { fiber, seenLeaving, endedAt } = yield* waitOver({
        targets: [{ o: leaving(web, 8080), leavingSince: 0 }, { o: leaving(admin, 9090), leavingSince: undefined }],
        groups: [http(web), tcp(admin)],
        script: () => ({ open: 0 })
      })
      yield* TestClock.adjust(Duration.seconds(30))
      yield* seenLeaving(9090)
      yield* TestClock.adjust(Duration.seconds(119))
      assert.isUndefined(fiber.pollUnsafe(), "admin's floor counts from its own drain, at 30 s")
      const outcome = yield* endedAt()
      assert.strictEqual(outcome.waitedSeconds, 150)
      assert.strictEqual(outcome.why, "connections drained after 150 s")
    }))

  it.effect("a connection that arrives between two samples restarts the idle window, though no sample finds it open", () =>
    Effect.gen(function*() {
      // No connection is ever open at a sample, but one arrives before every sample until 20 s.
      const { endedAt, logs } = yield* waitOver({
        targets: [{ o: leaving(web, 8080), leavingSince: 0 }],
        groups: [http(web)],
        script: (_, at) => ({ open: 0, arrivals: at > 0 && at <= 20 * s ? 1 : 0 })
      })
      // Last arrival seen at the 20 s sample; idle for 5 s from then.
      assert.strictEqual((yield* endedAt()).waitedSeconds, 25)
      const changes = logs.filter((l) => l.message === "open connections changed")
      assert.deepStrictEqual(changes.map((l) => [l.afterSeconds, l.arrivedSinceLastLine]), [
        [5, { "8080": 5 }],
        [10, { "8080": 5 }],
        [15, { "8080": 5 }],
        [20, { "8080": 5 }]
      ])
    }))

  it.effect("arrivals on another port never delay the exit", () =>
    Effect.gen(function*() {
      const { endedAt } = yield* waitOver({
        targets: [{ o: leaving(web, 8080), leavingSince: 0 }],
        groups: [http(web)],
        script: (port) => ({ open: 0, arrivals: port === 8080 ? 0 : 3 })
      })
      assert.strictEqual((yield* endedAt()).waitedSeconds, 5)
    }))
})
