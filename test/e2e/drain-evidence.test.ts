// The connection-counting drain on complete evidence, with the built sidecar as a process: two
// groups draining a poll apart, a stream of short connections, socket tables of any size, and
// DRAIN_STRATEGY=auto, the default.
import { mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { adminGroupArn, webGroupArn } from "../../simulator/scenarios.ts"
import { writeSocketTables } from "../../simulator/socketTables.ts"
import { clock, healthPolls, runScenario, type ScenarioRun } from "./harness.ts"
import {
  drain,
  drainAtMs,
  drainsAPollApart,
  env,
  hold,
  imageEnv,
  lastLine,
  listen,
  listenClosing,
  sinceFirstDrainingPoll
} from "./sockets.ts"

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

describe.concurrent("e2e: a socket table of any size", () => {
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
