// Logging as the real process does it: a stdout that fails never ends the
// sidecar, and the last line is there whatever LOG_LEVEL says.
import { closeSync, openSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { healthPolls, runScenario, type ScenarioRun } from "./harness.ts"

/** It really ran: polled, saw the drain at 2.5 s, and exited 0 after DEREGISTRATION_WAIT, with nothing on stderr. */
const expectDrained = (run: ScenarioRun) => {
  expect(run.code, run.stderr).toBe(0)
  expect(run.stderr).toBe("")
  expect(healthPolls(run.requests).length).toBeGreaterThan(0)
  expect(run.exitT).toBeGreaterThanOrEqual(2500 + 1000)
}

describe.concurrent("e2e: stdout that fails", () => {
  it("stdout on /dev/full (every write fails with ENOSPC): still drains and exits 0", async () => {
    const full = openSync("/dev/full", "w")
    try {
      expectDrained(await runScenario("awsvpc", { drainAtMs: 2500, stdout: full }))
    } finally {
      closeSync(full)
    }
  })

  it("stdout a pipe whose reader is gone (EPIPE): still drains and exits 0", async () => {
    expectDrained(await runScenario("awsvpc", { drainAtMs: 2500, stdout: "closed" }))
  })
})

describe.concurrent("e2e: the last line, whatever LOG_LEVEL", () => {
  it("LOG_LEVEL=warn: the drain's last line says why it ended and the exit code", async () => {
    const run = await runScenario("awsvpc", { drainAtMs: 2500, env: { LOG_LEVEL: "warn", DRAIN_STRATEGY: "fixed" } })
    expect(run.code, run.stdout).toBe(0)
    expect(run.logs.some((l) => l.level === "info" && l.message === "configuration")).toBe(false)
    expect(run.logs.at(-1)).toMatchObject({
      level: "info",
      exitCode: 0,
      message: expect.stringContaining("is deregistering; waited 1s, exiting with code 0")
    })
    // The normal end is no error.
    expect(run.logs.at(-1)).not.toHaveProperty("error")
  })

  it("LOG_LEVEL=error: SIGTERM's last line is still `stopped by signal`", async () => {
    const run = await runScenario("awsvpc", { drainAtMs: 60_000, env: { LOG_LEVEL: "error" }, sigtermAfterMs: 2500 })
    expect(run.code, run.stdout).toBe(0)
    expect(run.logs).toEqual([expect.objectContaining({ level: "info", message: "stopped by signal", exitCode: 0 })])
  })
})
