import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { Writable } from "node:stream"
import { lineWriter, makeLogger, maxQueuedBytes } from "../src/layers/Logging.ts"

const logTo = (format: "json" | "text", lines: Array<string>) =>
  Effect.provide(Logger.layer([makeLogger(format, (line) => lines.push(line))]))

describe("text log format", () => {
  it.effect("escapes control characters: a value cannot forge a line", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      yield* Effect.logWarning("poll failed\n2026-01-01T00:00:00.000Z INFO  target is deregistering").pipe(
        Effect.annotateLogs({ detail: "line one\r\nline two\ttab \u001b[31mred\u001b[0m \u2028", count: 2 }),
        logTo("text", lines)
      )
      assert.strictEqual(lines.length, 1)
      const [line = ""] = lines
      assert.notMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
      assert.include(line, "poll failed\\n2026-01-01T00:00:00.000Z INFO  target is deregistering")
      assert.include(line, "detail=line one\\r\\nline two\\ttab \\u001b[31mred\\u001b[0m \\u2028 count=2")
    }))

  it.effect("JSON lines were already one line each", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      yield* Effect.logInfo("a\nb").pipe(Effect.annotateLogs({ v: "c\rd" }), logTo("json", lines))
      assert.deepInclude(JSON.parse(lines[0] ?? ""), { message: "a\nb", v: "c\rd" })
      assert.notMatch(lines[0] ?? "", /[\n\r]/)
    }))
})

/** A stdout stand-in whose writes fail, throw or never finish. */
const output = (write: (callback: (error?: Error) => void) => void, highWaterMark = 16 * 1024) =>
  new Writable({ highWaterMark, write: (_chunk, _encoding, callback) => write(callback) })

const epipe = () => Object.assign(new Error("write EPIPE"), { code: "EPIPE" })

describe("log output", () => {
  it.live("a reader that went away (EPIPE) fails no write, now or later", () =>
    Effect.gen(function*() {
      const out = output((callback) => callback(epipe()))
      const write = lineWriter(out)
      write("first")
      // The error event comes on a later tick: an unhandled one would crash the process.
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      assert.isTrue(out.destroyed)
      write("second")
      yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
    }))

  it("a write that throws (ENOSPC on /dev/full) is dropped", () => {
    const out = output(() => undefined)
    out.write = () => {
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
    }
    const write = lineWriter(out)
    assert.doesNotThrow(() => write("lost"))
  })

  it("a reader that stopped reading: lines beyond 64 KiB are dropped, not queued in memory", () => {
    let written = 0
    const out = output(() => (written += 1), 1024)
    const write = lineWriter(out)
    const line = "x".repeat(199)
    for (let i = 0; i < 1000; i++) write(line)
    assert.strictEqual(written, 1, "the one write under way never finishes")
    assert.isAtMost(out.writableLength, maxQueuedBytes + line.length + 1)
    assert.isAbove(out.writableLength, maxQueuedBytes - line.length - 1)
  })
})
