// DRAIN_STRATEGY=auto (the default): which strategy it resolves to, and why, on
// virtual time; and the defaults' exit times with an NLB and an ALB group.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { exitCodeOf, UnsupportedTask } from "../src/errors.ts"
import type { Settings } from "../src/layers/Config.ts"
import { connectionsTest, ConnectionsUnreadable } from "../src/layers/Connections.ts"
import { connectionsVisibility } from "../src/layers/drain/connections.ts"
import { DrainStrategy, resolveAuto } from "../src/layers/DrainStrategy.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { captureLogs } from "./support/logs.ts"
import { configTest, ipGroup, testLayer, tgArn } from "./support/mocks.ts"

const web = tgArn("web")
const s = 1000

const readable = connectionsTest((ports) => Effect.succeed({ open: new Map(ports.map((p) => [p, 0])) }))
const unreadable = connectionsTest(() =>
  Effect.fail(new ConnectionsUnreadable({ path: "/proc/net/tcp", detail: "EACCES: permission denied" }))
)

/** The strategy decided in `networkMode` with `settings`: what it says of itself, and what was logged. */
const decide = (networkMode: string, table: typeof readable, settings: Partial<Settings> = {}) =>
  Effect.gen(function*() {
    const logs = captureLogs()
    const decided = yield* Effect.gen(function*() {
      return yield* (yield* DrainStrategy).decide(networkMode)
    }).pipe(
      Effect.provide(Layer.mergeAll(
        DrainStrategy.layer.pipe(Layer.provideMerge(configTest(settings))),
        table,
        logs.layer
      ))
    )
    return {
      decided,
      described: { strategy: decided.strategy, why: decided.why, plan: decided.plan },
      advice: decided.advise([{ arn: web, protocol: "HTTP" }]),
      logs: logs.records
    }
  })

describe("DRAIN_STRATEGY=auto: decided once, at startup", () => {
  it.effect("is the default", () =>
    Effect.gen(function*() {
      const { described } = yield* decide("awsvpc", readable)
      assert.strictEqual(described.strategy, "connections")
    }))

  it.effect("awsvpc or host with a readable socket table: connections, said on one startup line", () =>
    Effect.gen(function*() {
      for (const mode of ["awsvpc", "host"]) {
        const { described, logs } = yield* decide(mode, readable)
        assert.deepStrictEqual(described, {
          strategy: "connections",
          why: `DRAIN_STRATEGY=auto in ${mode} mode: the application's connections can be seen`,
          plan: "exiting when the connections are done, after at most 120 s"
        })
        assert.deepStrictEqual(
          logs.filter((l) => l.message.startsWith("drain strategy")).map((l) => [l.message, l.why]),
          [
            ["drain strategy: connections", described.why]
          ]
        )
      }
    }))

  it.effect("bridge mode: fixed, because each container has a network namespace of its own", () =>
    Effect.gen(function*() {
      const { described } = yield* decide("bridge", readable)
      assert.strictEqual(described.strategy, "fixed")
      assert.include(described.why, "bridge mode: each container has a network namespace of its own")
      assert.strictEqual(described.plan, "exiting after 120 s")
    }))

  it.effect("a socket table that cannot be read at startup: fixed, naming the table and the error", () =>
    Effect.gen(function*() {
      const { described } = yield* decide("awsvpc", unreadable)
      assert.strictEqual(described.strategy, "fixed")
      assert.strictEqual(described.why, "DRAIN_STRATEGY=auto: cannot read /proc/net/tcp: EACCES: permission denied")
    }))

  it.effect("explicit choices stay: connections in bridge mode is exit 4, fixed never reads the table", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.exit(decide("bridge", readable, { drainStrategy: "connections" }))
      assert.strictEqual(exitCodeOf(refused), 4)
      const fixed = yield* decide("awsvpc", unreadable, { drainStrategy: "fixed" })
      assert.deepStrictEqual(fixed.described, {
        strategy: "fixed",
        why: "DRAIN_STRATEGY=fixed",
        plan: "exiting after 120 s"
      })
      assert.deepStrictEqual(fixed.logs.filter((l) => l.message.startsWith("drain strategy")), [])
    }))
})

describe("auto's reason is what the startup look at the socket table found", () => {
  it.effect("bridge, an unreadable table, a readable one: the finding is data, auto's why and connections' refusal are made from it", () =>
    Effect.gen(function*() {
      const denied = new ConnectionsUnreadable({ path: "/proc/net/tcp6", detail: "EACCES: permission denied" })
      const deniedTable = connectionsTest(() => Effect.fail(denied))
      const cases = [
        {
          // The table is not read in bridge mode: one that cannot be read changes nothing.
          mode: "bridge",
          table: deniedTable,
          found: { _tag: "OwnNamespaces", networkMode: "bridge" },
          why:
            "DRAIN_STRATEGY=auto in bridge mode: each container has a network namespace of its own, so the application's connections cannot be seen",
          refused:
            "DRAIN_STRATEGY=connections cannot see the application's connections in bridge mode: each container has a network namespace of its own"
        },
        {
          mode: "host",
          table: deniedTable,
          found: { _tag: "TableUnreadable", networkMode: "host", error: denied },
          why: "DRAIN_STRATEGY=auto: cannot read /proc/net/tcp6: EACCES: permission denied",
          refused: "DRAIN_STRATEGY=connections: cannot read /proc/net/tcp6: EACCES: permission denied"
        },
        {
          mode: "awsvpc",
          table: readable,
          found: { _tag: "Visible", networkMode: "awsvpc" },
          why: "DRAIN_STRATEGY=auto in awsvpc mode: the application's connections can be seen",
          refused: undefined
        }
      ] as const
      for (const c of cases) {
        const found = yield* connectionsVisibility(c.mode).pipe(Effect.provide(c.table))
        assert.deepStrictEqual(found, c.found)
        assert.deepStrictEqual(resolveAuto(found), {
          strategy: c.refused === undefined ? "connections" : "fixed",
          why: c.why
        })
        const { described } = yield* decide(c.mode, c.table)
        assert.strictEqual(described.why, c.why)
        const explicit = yield* Effect.exit(decide(c.mode, c.table, { drainStrategy: "connections" }))
        const refusal = explicit._tag === "Failure" ? Cause.squash(explicit.cause) : undefined
        assert.strictEqual(refusal instanceof UnsupportedTask ? refusal.problem : refusal, c.refused)
      }
    }))
})

describe("check's advice follows what preflight found", () => {
  it.effect("an ALB group on fixed is advised connections only where connections can work", () =>
    Effect.gen(function*() {
      const bridge = yield* decide("bridge", readable)
      assert.deepStrictEqual(bridge.advice, [])
      const explicitBridge = yield* decide("bridge", readable, { drainStrategy: "fixed" })
      assert.deepStrictEqual(explicitBridge.advice, [])
      const noTable = yield* decide("awsvpc", unreadable)
      assert.deepStrictEqual(noTable.advice, [])
      const awsvpc = yield* decide("awsvpc", readable, { drainStrategy: "fixed" })
      assert.strictEqual(awsvpc.advice.length, 1)
      assert.include(awsvpc.advice[0], "DRAIN_STRATEGY=connections exits when the last request is done")
    }))
})

describe("the defaults on virtual time (DRAIN_STRATEGY=auto, DEREGISTRATION_WAIT=120)", () => {
  const start = (protocol: "TCP" | "HTTP", drainStrategy: Settings["drainStrategy"] = "auto", ecsTakesMillis = 0) =>
    Effect.gen(function*() {
      const world = testLayer({
        settings: { drainStrategy, pollingFrequencySeconds: 30 },
        // Asking ECS why the task stops, once draining is seen, takes this long.
        ecs: { describeTaskTakesMillis: (at) => (at >= 20 * s ? ecsTakesMillis : 0) },
        elb: {
          timelines: { [web]: [{ at: 0, state: "healthy" }, { at: 20 * s, state: "draining" }] },
          groups: [{ ...ipGroup(web), protocol }]
        },
        connections: (ports) => Effect.succeed({ open: new Map(ports.map((p) => [p, 0])) })
      })
      const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
      return { fiber, ...world }
    })

  it.effect("an NLB group exits 120 s after the drain is seen, as with fixed, and polls no more while it waits", () =>
    Effect.gen(function*() {
      // Draining seen at the 27 s poll.
      const { fiber, polls, logs } = yield* start("TCP")
      yield* TestClock.adjust(Duration.millis(27 * s + 120 * s - 1))
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust(Duration.millis(1))
      expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.deepStrictEqual(polls().map((c) => c.at / s), [0, 27])
      assert.deepInclude(logs.find((l) => l.message === "waiting before exit"), { strategy: "connections" })
    }))

  for (const strategy of ["auto", "fixed"] as const) {
    it.effect(`DRAIN_STRATEGY=${strategy}: the wait counts from when draining was seen, a DescribeTasks that takes 8 s moves no exit`, () =>
      Effect.gen(function*() {
        const { fiber, calls } = yield* start("TCP", strategy, 8 * s)
        yield* TestClock.setTime(27 * s + 120 * s - 1)
        assert.isUndefined(fiber.pollUnsafe())
        assert.deepStrictEqual(calls.filter((c) => c.action === "DescribeTasks").map((c) => c.at / s), [35])
        yield* TestClock.setTime(27 * s + 120 * s)
        expectFailure(fiber.pollUnsafe(), "Drained", 0)
      }))
  }

  it.effect("an ALB group with no connections exits DRAIN_IDLE_SECONDS after the drain is seen", () =>
    Effect.gen(function*() {
      const { fiber } = yield* start("HTTP")
      yield* TestClock.adjust(Duration.seconds(27 + 5))
      assert.include(expectFailure(fiber.pollUnsafe(), "Drained", 0).message, "connections drained after 5 s")
    }))
})
