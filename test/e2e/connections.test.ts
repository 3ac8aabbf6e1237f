// DRAIN_STRATEGY=connections with the built sidecar as a process: the test holds
// real TCP connections to a dual-stack listener on the target's port (IPv4
// clients show up in /proc/net/tcp6 as ::ffff:127.0.0.1) and closes them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { connect, createServer, type Socket } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it, type TestContext } from "vitest"
import type { Scenario } from "../../simulator/scenario.ts"
import { adminGroupArn, webGroupArn } from "../../simulator/scenarios.ts"
import { writeSocketTables } from "../../simulator/socketTables.ts"
import { clock, healthPolls, runScenario, type ScenarioRun } from "./harness.ts"

/** A listener on a free port, on :: (dual stack, as Node, Java, Go and nginx listen by default); closed with the test. */
const listen = (test: TestContext) =>
  new Promise<number>((resolve) => {
    const server = createServer((socket) => socket.on("error", () => {}))
    test.onTestFinished(() => void server.close())
    server.listen(0, "::", () => resolve((server.address() as { port: number }).port))
  })

/**
 * `n` client connections to `port` (over IPv4 and IPv6 in turn), open once it resolves; `close()`
 * closes them and notes when (on `clock`), or the test does when it finishes.
 */
const hold = async (test: TestContext, port: number, n: number) => {
  const sockets = await Promise.all(Array.from({ length: n }, (_, i) =>
    new Promise<Socket>((resolve) => {
      const socket: Socket = connect(port, i % 2 === 0 ? "127.0.0.1" : "::1", () => resolve(socket))
      socket.on("error", () => {})
      test.onTestFinished(() => void socket.destroy())
    })))
  const held = {
    closedAt: Infinity,
    close: () => {
      if (held.closedAt !== Infinity) return
      for (const socket of sockets) socket.destroy()
      held.closedAt = clock()
    },
    /** An `onLog` that closes them once the sidecar has counted them and is waiting for them to close. */
    closeWhenWaiting: (line: Record<string, unknown>) => {
      if (line.message === "waiting for connections to close") held.close()
    }
  }
  return held
}

/** The ENV lines of the Dockerfile's runtime stage (PATH aside). */
const imageEnv: Record<string, string> = Object.fromEntries(
  [...(readFileSync("Dockerfile", "utf8").split(/^FROM /m).at(-1) ?? "").matchAll(/^ENV (\w+)=(.*)$/gm)]
    .filter(([, k]) => k !== "PATH")
    .map(([, k = "", v = ""]) => [k, v.replace(/^"(.*)"$/, "$1")])
)

const env = (extra: Record<string, string>) => ({ DRAIN_STRATEGY: "connections", ...extra })

/** On the simulator's clock from when the sidecar is watching. */
const drainAtMs = 2500
/** The awsvpc task with DRAIN_STRATEGY=connections, its target on `port`, draining at `drainAtMs`. */
const drain = (
  port: number,
  extra: Record<string, string>,
  protocol: "HTTP" | "TCP" = "HTTP",
  onLog?: (line: Record<string, unknown>) => void
) =>
  runScenario("awsvpc", {
    clockStarts: "when-watching",
    drainAtMs,
    targetPort: port,
    protocol,
    env: env(extra),
    ...(onLog === undefined ? {} : { onLog })
  })

const sinceFirstDrainingPoll = (run: ScenarioRun) =>
  run.exitT - (healthPolls(run.requests).find((r) => r.t >= drainAtMs)?.t ?? NaN)
const lastLine = (run: ScenarioRun) => String(run.logs.at(-1)?.message)
const waitStart = (run: ScenarioRun) => run.logs.find((l) => l.message === "waiting for connections to close")
const countedAtStart = (run: ScenarioRun, port: number) =>
  (waitStart(run)?.connections as Record<string, number> | undefined)?.[String(port)]

/** A listener that closes each connection itself after `closeAfterMs` (HTTP/1.0 style): its side keeps a TIME_WAIT. */
const listenClosing = (test: TestContext, closeAfterMs: number) =>
  new Promise<number>((resolve) => {
    const server = createServer((socket) => {
      socket.on("error", () => {})
      setTimeout(() => socket.end(), closeAfterMs)
    })
    test.onTestFinished(() => void server.close())
    server.listen(0, "::", () => resolve((server.address() as { port: number }).port))
  })

/**
 * The two-group task, both groups HTTP: `web` (on `webPort`) drains at `drainAtMs`, `admin` (on
 * `adminPort`) a poll and a half later, as ECS's two DeregisterTargets calls land in ELBv2.
 */
const drainsAPollApart = (webPort: number, adminPort: number, adminLaterMs: number) => (s: Scenario): Scenario => ({
  ...s,
  task: {
    ...s.task,
    containers: s.task.containers.map((c) =>
      c.name === "app"
        ? { ...c, ports: c.ports.map((p) => (p.containerPort === webPort ? p : { ...p, containerPort: adminPort })) }
        : c
    )
  },
  service: {
    loadBalancers: (s.service?.loadBalancers ?? []).map((lb) =>
      lb.targetGroupArn === adminGroupArn ? { ...lb, containerPort: adminPort } : lb
    )
  },
  targetGroups: s.targetGroups.map((g) => ({
    ...g,
    protocol: "HTTP" as const,
    ...(g.arn === adminGroupArn ? { port: adminPort } : {}),
    targets: g.targets.map((t) =>
      t.id !== "10.0.1.23" ? t : {
        ...t,
        port: g.arn === adminGroupArn ? adminPort : t.port,
        timeline: [{ at: 0, state: "healthy" }, {
          at: drainAtMs + (g.arn === adminGroupArn ? adminLaterMs : 0),
          state: "draining"
        }]
      }
    )
  }))
})

describe.concurrent("e2e: DRAIN_STRATEGY=connections on complete evidence", () => {
  it("two groups draining a poll apart: the second group's open connection keeps the task until it closes", async (test) => {
    const webPort = await listen(test)
    const adminPort = await listen(test)
    // One connection to the admin port, closed once admin's drain has been seen (1.5 s after web's,
    // past web's idle window): until then it holds the task.
    const held = await hold(test, adminPort, 1)
    const run = await runScenario("two-target-groups", {
      clockStarts: "when-watching",
      drainAtMs,
      targetPort: webPort,
      scenario: drainsAPollApart(webPort, adminPort, 1500),
      env: env({ DEREGISTRATION_WAIT: "30", DRAIN_IDLE_SECONDS: "1" }),
      onLog: (line) => {
        if (line.message === "target is deregistering" && line.targetGroupArn === adminGroupArn) held.close()
      }
    })
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    const firstDraining = (arn: string) =>
      run.logs.findIndex((l) => l.message === "target is deregistering" && l.targetGroupArn === arn)
    // web's drain is seen first and starts the wait; admin's is seen by a poll made while waiting.
    const waitStarts = run.logs.findIndex((l) => l.message === "waiting for connections to close")
    expect(firstDraining(webGroupArn)).toBeGreaterThan(-1)
    expect(firstDraining(webGroupArn)).toBeLessThan(waitStarts)
    expect(firstDraining(adminGroupArn)).toBeGreaterThan(waitStarts)
    // Each group's drain is logged once, though it is polled on while the sidecar waits.
    expect(run.logs.filter((l) => l.message === "target is deregistering").length).toBe(2)
    // The admin port's connection held the task: it left at least the idle window after the close.
    expect(run.exitedAt - held.closedAt).toBeGreaterThanOrEqual(1000)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s, exiting with code 0/)
  })

  it("a stream of sub-second connections keeps the task until it stops, then it exits after DRAIN_IDLE_SECONDS", async (test) => {
    // Each connection lasts 100 ms (the server closes it) and a new one comes every 250 ms: a sample a
    // second finds the port empty more often than not; the new TIME_WAIT entries show the arrivals.
    // The stream runs for 12 connections once the wait has started.
    const port = await listenClosing(test, 100)
    let lastArrival = 0
    let waiting = false
    let duringWait = 0
    let stopped = false
    const stream = setInterval(() => {
      if (duringWait >= 12) {
        stopped = true
        clearInterval(stream)
        return
      }
      if (waiting) duringWait++
      const socket = connect(port, "127.0.0.1", () => (lastArrival = clock()))
      socket.on("error", () => {})
      test.onTestFinished(() => void socket.destroy())
    }, 250)
    test.onTestFinished(() => clearInterval(stream))
    const run = await drain(port, { DEREGISTRATION_WAIT: "30", DRAIN_IDLE_SECONDS: "2" }, "HTTP", (line) => {
      if (line.message === "waiting for connections to close") waiting = true
    })
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    expect(stopped).toBe(true)
    const changes = run.logs.filter((l) => l.message === "open connections changed")
    const arrived = changes.reduce(
      (n, l) => n + ((l.arrivedSinceLastLine as Record<string, number> | null)?.[String(port)] ?? 0),
      0
    )
    expect(arrived).toBeGreaterThan(5)
    // Idle for DRAIN_IDLE_SECONDS after the last arrival, never sooner, and drained, not the 30 s
    // bound; how soon after is exact on TestClock (test/drainWait.test.ts).
    expect(run.exitedAt - lastArrival).toBeGreaterThanOrEqual(2000)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s/)
  })
})

// How soon after the last close, the floor or the bound it exits is exact on TestClock
// (test/drainWait.test.ts); here, real sockets, what the wait counted and what ended it.
describe.concurrent("e2e: DRAIN_STRATEGY=connections", () => {
  it("exits once the application's connections close and the port stays idle, not at DEREGISTRATION_WAIT", async (test) => {
    const port = await listen(test)
    // Three connections, closed once the wait has counted them.
    const held = await hold(test, port, 3)
    const run = await drain(port, { DEREGISTRATION_WAIT: "30", DRAIN_IDLE_SECONDS: "1" }, "HTTP", held.closeWhenWaiting)
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    expect(waitStart(run)).toMatchObject({ floorSeconds: 0, boundSeconds: 30, idleSeconds: 1 })
    expect(countedAtStart(run, port)).toBe(3)
    // Idle for DRAIN_IDLE_SECONDS after the close, never sooner (a lower bound: load only delays it).
    expect(run.exitedAt - held.closedAt).toBeGreaterThanOrEqual(1000)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s, exiting with code 0/)
  })

  it("a connection that never closes: exits at DEREGISTRATION_WAIT, saying how many were open", async (test) => {
    const port = await listen(test)
    await hold(test, port, 1)
    const run = await drain(port, { DEREGISTRATION_WAIT: "1" })
    expect(run.code).toBe(0)
    expect(countedAtStart(run, port)).toBe(1)
    expect(sinceFirstDrainingPoll(run)).toBeGreaterThanOrEqual(1000)
    expect(lastLine(run)).toContain("DEREGISTRATION_WAIT reached with 1 connections open")
  })

  it("no connections: exits at the floor (DRAIN_MIN_WAIT), not before", async (test) => {
    const port = await listen(test)
    const run = await drain(port, { DEREGISTRATION_WAIT: "30", DRAIN_MIN_WAIT: "2", DRAIN_IDLE_SECONDS: "1" }, "TCP")
    expect(run.code).toBe(0)
    expect(waitStart(run)).toMatchObject({ floorSeconds: 2, boundSeconds: 30 })
    expect(sinceFirstDrainingPoll(run)).toBeGreaterThanOrEqual(2000)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s/)
  })

  it("an HTTP target group (ALB) has no floor: with no connections it exits after the idle window, not at DEREGISTRATION_WAIT", async (test) => {
    const port = await listen(test)
    // A 120 s wait that a floor would hold: the harness would kill the run long before.
    const run = await drain(port, { DEREGISTRATION_WAIT: "120", DRAIN_IDLE_SECONDS: "1" })
    expect(run.code).toBe(0)
    expect(waitStart(run)).toMatchObject({ floorSeconds: 0 })
    expect(countedAtStart(run, port)).toBe(0)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s/)
  })

  it("a TCP target group (NLB) without DRAIN_MIN_WAIT holds the 120 s floor, capped by DEREGISTRATION_WAIT", async (test) => {
    const port = await listen(test)
    const run = await drain(port, { DEREGISTRATION_WAIT: "2", DRAIN_IDLE_SECONDS: "1" }, "TCP")
    expect(run.code).toBe(0)
    expect(waitStart(run)).toMatchObject({ floorSeconds: 2, boundSeconds: 2 })
    expect(sinceFirstDrainingPoll(run)).toBeGreaterThanOrEqual(2000)
  })

  it("host mode: the target's host port picks out the application's connections", async (test) => {
    const port = await listen(test)
    const held = await hold(test, port, 2)
    const run = await runScenario("host", {
      clockStarts: "when-watching",
      drainAtMs,
      targetPort: port,
      protocol: "HTTP",
      env: env({ DEREGISTRATION_WAIT: "30", DRAIN_IDLE_SECONDS: "1" }),
      onLog: held.closeWhenWaiting
    })
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    expect(healthPolls(run.requests)[0]?.params).toMatchObject({ "Targets.member.1.Port": String(port) })
    expect(countedAtStart(run, port)).toBe(2)
    expect(run.exitedAt - held.closedAt).toBeGreaterThanOrEqual(1000)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s/)
  })

  it("bridge mode is refused at startup with exit 4, naming DRAIN_STRATEGY and what to do", async () => {
    const run = await runScenario("bridge", { env: env({}) })
    expect(run.code).toBe(4)
    expect(lastLine(run)).toContain(
      "DRAIN_STRATEGY=connections cannot see the application's connections in bridge mode"
    )
    expect(lastLine(run)).toContain("Use DRAIN_STRATEGY=fixed")
  })

  it("a connection to another port never delays the exit", async (test) => {
    const port = await listen(test)
    const other = await listen(test)
    await hold(test, other, 2)
    const run = await drain(port, { DEREGISTRATION_WAIT: "30", DRAIN_IDLE_SECONDS: "1" })
    expect(run.code).toBe(0)
    expect(countedAtStart(run, port)).toBe(0)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s/)
  })

  it("check: reports the strategy and how many connections are open on each target port now", async (test) => {
    const port = await listen(test)
    await hold(test, port, 2)
    const run = await runScenario("awsvpc", { targetPort: port, drainAtMs: 60_000, args: ["check"], env: env({}) })
    expect(run.code, run.stdout).toBe(0)
    expect(run.stdout).toContain("drain:        DRAIN_STRATEGY=connections")
    // The test's clients are on loopback (IPv4 and IPv6), as a scraper inside the task would be.
    expect(run.stdout).toContain(`port ${port}: 2 connections open now, from loopback peers 127.0.0.1, ::1`)
  })

  it("check in bridge mode: exit 4, as the sidecar would end", async () => {
    const run = await runScenario("bridge", { drainAtMs: 60_000, args: ["check", "--json"], env: env({}) })
    expect(run.code).toBe(4)
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ ok: false, exitCode: 4 })
  })
})

describe("e2e: a socket table of any size", () => {
  it("50,000 sockets in the tables (5,000 on the target port) keep peak RSS within 2 MiB of a run with 20", async (test) => {
    const dir = mkdtempSync(join(tmpdir(), "nlb-sidecar-tables-"))
    test.onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const port = 8080
    const run = async (sockets: number) => {
      const tables = writeSocketTables(join(dir, String(sockets)), { sockets, port, onPortEvery: 10 })
      const done = await drain(port, {
        DEREGISTRATION_WAIT: "4",
        NLB_SIDECAR_TEST_SOCKET_TABLES: tables.paths,
        // The image's runtime environment (NODE_OPTIONS, MALLOC_*), which the budget is stated for.
        ...imageEnv
      })
      return { ...done, openOnPort: tables.openOnPort }
    }
    const [small, large] = await Promise.all([run(20), run(50_000)])
    for (const r of [small, large]) {
      expect(r.code, r.stdout.slice(-2000)).toBe(0)
      // The sidecar read the generated tables: their connections on the port held it to the bound.
      expect(lastLine(r)).toContain(`DEREGISTRATION_WAIT reached with ${r.openOnPort} connections open`)
    }
    expect(small.peakRssMiB).toBeGreaterThan(0)
    expect(large.peakRssMiB - small.peakRssMiB).toBeLessThan(2)
  })
})

describe.concurrent("e2e: DRAIN_STRATEGY=auto, the default", () => {
  /** The drain with the default strategy: DRAIN_STRATEGY unset. */
  const drainByDefault = (
    mode: "awsvpc" | "bridge",
    port: number | undefined,
    protocol: "HTTP" | "TCP",
    wait: string
  ) =>
    runScenario(mode, {
      clockStarts: "when-watching",
      drainAtMs,
      ...(port === undefined ? {} : { targetPort: port }),
      protocol,
      env: { DEREGISTRATION_WAIT: wait }
    })
  const strategyLine = (run: ScenarioRun) => run.logs.find((l) => String(l.message).startsWith("drain strategy: "))

  it("awsvpc, an HTTP group, no connections: connections, and the exit comes within a few seconds of the drain", async (test) => {
    const port = await listen(test)
    const run = await drainByDefault("awsvpc", port, "HTTP", "120")
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    expect(strategyLine(run)).toMatchObject({
      message: "drain strategy: connections",
      why: "DRAIN_STRATEGY=auto in awsvpc mode: the application's connections can be seen"
    })
    // DRAIN_IDLE_SECONDS (5) after the drain is seen, never sooner, and drained, not DEREGISTRATION_WAIT
    // (120); how soon after is exact on TestClock (test/drainWait.test.ts).
    expect(sinceFirstDrainingPoll(run)).toBeGreaterThanOrEqual(5000)
    expect(lastLine(run)).toMatch(/connections drained after \d+ s, exiting with code 0/)
  })

  it("bridge mode: fixed, said at startup, and the exit comes after DEREGISTRATION_WAIT", async () => {
    const run = await drainByDefault("bridge", undefined, "HTTP", "3")
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    expect(strategyLine(run)?.message).toBe("drain strategy: fixed")
    expect(String(strategyLine(run)?.why)).toContain("bridge mode")
    expect(run.logs.find((l) => l.message === "waiting before exit")).toMatchObject({ strategy: "fixed" })
    expect(sinceFirstDrainingPoll(run)).toBeGreaterThanOrEqual(3000)
  })

  it("an NLB (TCP) group with the default settings: the exit time is unchanged, DEREGISTRATION_WAIT after the drain is seen", async (test) => {
    const port = await listen(test)
    // DEREGISTRATION_WAIT stands for its default (120 s) here: the NLB's floor is capped at it, as 120 is.
    const run = await drainByDefault("awsvpc", port, "TCP", "3")
    expect(run.code, run.stdout.slice(-2000)).toBe(0)
    expect(strategyLine(run)?.message).toBe("drain strategy: connections")
    expect(sinceFirstDrainingPoll(run)).toBeGreaterThanOrEqual(3000)
    // Nothing a poll could find would end the wait earlier: no poll is made while waiting.
    const polls = healthPolls(run.requests)
    const seen = polls.findIndex((r) => r.t >= drainAtMs)
    expect(polls.length).toBe(seen + 1)
  })
})
