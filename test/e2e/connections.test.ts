// DRAIN_STRATEGY=connections with the built sidecar as a process: the test holds
// real TCP connections to a dual-stack listener on the target's port (IPv4
// clients show up in /proc/net/tcp6 as ::ffff:127.0.0.1) and closes them.
import { describe, expect, it } from "vitest"
import { healthPolls, runScenario } from "./harness.ts"
import {
  countedAtStart,
  drain,
  drainAtMs,
  env,
  hold,
  lastLine,
  listen,
  sinceFirstDrainingPoll,
  waitStart
} from "./sockets.ts"

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
