// DRAIN_STRATEGY=connections on virtual time: the floor, the idle window, the
// bound, several target groups, UDP; the socket table is a scripted mock.
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import type { TargetGroup, TargetObservation } from "../src/domain.ts"
import type { Settings } from "../src/layers/Config.ts"
import { connectionsTest, ConnectionsUnreadable } from "../src/layers/Connections.ts"
import { drainWait } from "../src/programs/drainWait.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { captureLogs } from "./support/logs.ts"
import { awsvpcTask, configTest, ipGroup, testLayer, tgArn } from "./support/mocks.ts"

const web = tgArn("web")
const admin = tgArn("admin", "fedcba9876543210")
const s = 1000

const leaving = (targetGroupArn: string, port: number): TargetObservation => ({
  target: { targetGroupArn, id: "10.0.2.106", port, containerName: "app", containerPort: port },
  state: "draining",
  reason: "Target.DeregistrationInProgress"
})

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
        return new Map(ports.map((p) => [p, options.script(p, at)]))
      }))
    )
    const fiber = yield* Effect.forkChild(
      drainWait(options.leaving, options.groups).pipe(
        Effect.provide(Layer.mergeAll(
          configTest({ drainStrategy: "connections", deregistrationWaitSeconds: 300, ...options.settings }),
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
        drainWait([leaving(web, 8080)], [http(web)]).pipe(Effect.provide(Layer.mergeAll(
          configTest({ drainStrategy: "connections", deregistrationWaitSeconds: 60 }),
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
          Clock.currentTimeMillis.pipe(Effect.map((at) => new Map(ports.map((p) => [p, script(p, at)]))))
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
