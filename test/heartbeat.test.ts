import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Worker } from "node:worker_threads"
import { describe, expect, it, onTestFinished } from "vitest"
import { formatStamp, heartbeatMaxAgeMillis, judgeHeartbeat, readClocks, writeHeartbeat } from "../src/heartbeat.ts"

const wallOnly = (wallMillis: number) => ({ wallMillis, bootMillis: undefined })

describe("healthcheck verdict", () => {
  it("is healthy while the stamp is fresh, however AWS is doing", () => {
    expect(judgeHeartbeat(String(1_000_000), wallOnly(1_000_000 + heartbeatMaxAgeMillis))).toEqual({
      healthy: true,
      ageMillis: heartbeatMaxAgeMillis
    })
  })

  it("is unhealthy when the sidecar stalled, never wrote, or wrote garbage", () => {
    expect(judgeHeartbeat(String(1_000_000), wallOnly(1_000_000 + heartbeatMaxAgeMillis + 1))).toMatchObject({
      healthy: false,
      why: expect.stringContaining("stalled")
    })
    expect(judgeHeartbeat(undefined, wallOnly(0))).toMatchObject({
      healthy: false,
      why: expect.stringContaining("no heartbeat file")
    })
    for (const garbage of ["banana", "", "1 2 3", "-5", "1.5 2"]) {
      expect(judgeHeartbeat(garbage, wallOnly(0))).toMatchObject({
        healthy: false,
        why: expect.stringContaining("not a time")
      })
    }
  })

  it("judges the age on the boot clock, so a wall-clock step neither kills a healthy sidecar nor hides a stalled one", () => {
    const stamp = formatStamp({ wallMillis: 1_700_000_000_000, bootMillis: 500_000 })
    // NTP steps the wall clock an hour ahead; 10 s have really passed.
    expect(judgeHeartbeat(stamp, { wallMillis: 1_700_003_600_000, bootMillis: 510_000 })).toEqual({
      healthy: true,
      ageMillis: 10_000
    })
    // The wall clock steps back an hour; the sidecar really has been silent for 2 minutes.
    expect(judgeHeartbeat(stamp, { wallMillis: 1_699_996_520_000, bootMillis: 620_000 })).toMatchObject({
      healthy: false,
      why: expect.stringContaining("120s ago")
    })
  })

  it("falls back to the wall clock without a boot clock on either side, or across a reboot", () => {
    expect(judgeHeartbeat("1000000", { wallMillis: 1_010_000, bootMillis: 5_000 })).toEqual({
      healthy: true,
      ageMillis: 10_000
    })
    expect(judgeHeartbeat("1000000 900000", wallOnly(1_010_000))).toEqual({ healthy: true, ageMillis: 10_000 })
    expect(judgeHeartbeat("1000000 900000", { wallMillis: 1_010_000, bootMillis: 5_000 })).toEqual({
      healthy: true,
      ageMillis: 10_000
    })
  })
})

describe("heartbeat file", () => {
  /** A path in a directory of its own, removed with the test. */
  const heartbeatFile = () => {
    const dir = mkdtempSync(join(tmpdir(), "nlb-sidecar-heartbeat-"))
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    return join(dir, "beat")
  }

  it("holds a stamp that the healthcheck reads back as fresh", () => {
    const file = heartbeatFile()
    writeHeartbeat(file)
    expect(judgeHeartbeat(readFileSync(file, "utf8"), readClocks())).toMatchObject({ healthy: true })
  })

  it("is replaced whole: a reader in another thread never sees it empty or half-written", async () => {
    const file = heartbeatFile()
    writeHeartbeat(file)
    const stop = new SharedArrayBuffer(4)
    // Reads as fast as it can until told to stop (10 s at most), counting reads that are not a whole stamp.
    const reader = new Worker(
      `const { readFileSync } = require("node:fs")
      const { parentPort, workerData } = require("node:worker_threads")
      const stop = new Int32Array(workerData.stop)
      let reads = 0, torn = 0
      const until = Date.now() + 10000
      parentPort.postMessage("reading")
      while (Atomics.load(stop, 0) === 0 && Date.now() < until) {
        reads++
        if (!/^\\d+ \\d+$/.test(readFileSync(workerData.file, "utf8"))) torn++
      }
      parentPort.postMessage({ reads, torn })`,
      { eval: true, workerData: { file, stop } }
    )
    const counted = new Promise<{ reads: number; torn: number }>((resolve, reject) => {
      reader.on("message", (m: unknown) => typeof m === "object" && resolve(m as { reads: number; torn: number }))
      reader.once("error", reject)
    })
    await new Promise<void>((resolve) => reader.once("message", () => resolve()))
    for (let i = 0; i < 500; i++) {
      writeHeartbeat(file, { wallMillis: 1_700_000_000_000 + i, bootMillis: 1_000_000_000_000 + i })
    }
    Atomics.store(new Int32Array(stop), 0, 1)
    const { reads, torn } = await counted
    await reader.terminate()
    expect(reads).toBeGreaterThan(200)
    expect(torn).toBe(0)
  })
})
