import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { createServer, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { MetadataUnavailable } from "../src/errors.ts"
import { decodeTaskMetadata, getText, Metadata, MetadataGet } from "../src/layers/Metadata.ts"
import { expectFailure } from "./support/assertions.ts"
import { captureLogs } from "./support/logs.ts"
import { awsvpcTask, configTest, fixedRandom } from "./support/mocks.ts"

const uri = "http://169.254.170.2/v4/0123456789abcdef-1234567890"

/** One scripted answer: a status and body, a refused connection, a request that never completes, or a failed read. */
type Answer = { readonly status: number; readonly body?: string } | "refused" | "hangs" | { readonly fails: string }

/** A MetadataGet answering from a script, one entry per request (the last repeats); records request URLs. */
const scriptedGet = (answers: ReadonlyArray<Answer>, urls: Array<string>) => {
  let next = 0
  return Layer.succeed(MetadataGet, (url: string) =>
    Effect.suspend(() => {
      urls.push(url)
      const answer = answers[Math.min(next++, answers.length - 1)] ?? "refused"
      if (answer === "refused") return Effect.fail({ detail: "no answer: connect ECONNREFUSED 169.254.170.2:80" })
      if (answer === "hangs") return Effect.never
      if ("fails" in answer) return Effect.fail({ detail: answer.fails })
      return Effect.succeed({ status: answer.status, text: answer.body ?? "" })
    }))
}

const readTask = (
  answers: ReadonlyArray<Answer>,
  settings: Parameters<typeof configTest>[0] = { metadataUri: uri }
) =>
  Effect.gen(function*() {
    const urls: Array<string> = []
    const layer = Metadata.layerNoDeps.pipe(
      Layer.provide([scriptedGet(answers, urls), configTest(settings)]),
      Layer.provideMerge(Layer.mergeAll(fixedRandom(0.5), captureLogs().layer))
    )
    const fiber = yield* Effect.forkChild(Effect.exit(
      Effect.gen(function*() {
        return yield* (yield* Metadata).task
      }).pipe(Effect.provide(layer))
    ))
    return { fiber, urls }
  })

const body = JSON.stringify(awsvpcTask())

describe("Metadata layer", () => {
  it.effect("GETs ${ECS_CONTAINER_METADATA_URI_V4}/task and decodes it", () =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask([{ status: 200, body }])
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.strictEqual(exit.value.Containers[1]?.Name, "app")
      assert.deepStrictEqual(urls, [`${uri}/task`])
    }))

  it.effect("retries while the agent answers 5xx or 429 (its rate limit) or refuses connections, then succeeds", () =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask(["refused", { status: 503 }, { status: 429 }, { status: 200, body }])
      yield* TestClock.adjust("1 second")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(urls.length, 4)
    }))

  it.effect("gives up after STARTUP_TIMEOUT with exit code 3", () =>
    Effect.gen(function*() {
      const { fiber } = yield* readTask([{ status: 503 }], { metadataUri: uri, startupTimeoutSeconds: 10 })
      yield* TestClock.adjust("9 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("2 seconds")
      expectFailure(yield* Fiber.join(fiber), "MetadataUnavailable", 3)
    }))

  it.effect.each(
    [
      [{ status: 404 }, "HTTP 404"],
      [{ status: 200, body: "<html>" }, "not JSON"],
      [{ status: 200, body: JSON.stringify({ Cluster: "default" }) }, "TaskARN"],
      [{ status: 200, body: JSON.stringify({ ...awsvpcTask(), Containers: [{ Name: 7 }] }) }, "Name"]
    ] as const
  )("fails at once with exit 3 and names the problem: %j", ([answer, fragment]) =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask([answer])
      assert.include(expectFailure(yield* Fiber.join(fiber), "MetadataUnavailable", 3).message, fragment)
      assert.strictEqual(urls.length, 1, "a permanent failure is not retried")
    }))

  it.effect("without ECS_CONTAINER_METADATA_URI_V4: exit 3 naming the variable", () =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask([{ status: 200, body }], {})
      const { message } = expectFailure(yield* Fiber.join(fiber), "MetadataUnavailable", 3)
      assert.include(message, "ECS_CONTAINER_METADATA_URI_V4")
      assert.deepStrictEqual(urls, [])
    }))
})

/** Moves virtual time a second at a time (at most a minute) until the fiber is done. */
const adjustUntilDone = (fiber: { pollUnsafe: () => unknown }) =>
  Effect.gen(function*() {
    for (let second = 0; second < 60 && fiber.pollUnsafe() === undefined; second++) yield* TestClock.adjust("1 second")
  })

describe("Metadata layer: hostile answers", () => {
  it.effect("a request that never completes (a body that drips) is cut after 5 s, retried, then exit 3", () =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask(["hangs"], { metadataUri: uri, startupTimeoutSeconds: 12 })
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "still within the first request's 5 s")
      yield* adjustUntilDone(fiber)
      const { message } = expectFailure(yield* Fiber.join(fiber), "MetadataUnavailable", 3)
      assert.isAbove(urls.length, 1, "a stalled answer is retried")
      assert.include(message, "no complete answer within 5 seconds")
    }))

  it.effect("a body over 1 MiB is a failed read: retried, then exit 3", () =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask([{ fails: "body larger than 1 MiB, not read further" }], {
        metadataUri: uri,
        startupTimeoutSeconds: 10
      })
      yield* adjustUntilDone(fiber)
      const { message } = expectFailure(yield* Fiber.join(fiber), "MetadataUnavailable", 3)
      assert.isAbove(urls.length, 1, "an oversized body is retried")
      assert.include(message, "larger than 1 MiB")
    }))
})

describe("getText (node:http, a real server on 127.0.0.1)", () => {
  /** A server answering every request with `respond`, for the test's duration. */
  const serving = (respond: (res: ServerResponse, closed: Promise<number>) => void) =>
    Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<{ server: Server; url: string }>((resolve) => {
          const server = createServer((req, res) => {
            // Resolves to the bytes written when the client goes away.
            let written = 0
            const write = res.write.bind(res)
            res.write = ((chunk: Buffer | string, ...rest: Array<never>) => {
              written += chunk.length
              return write(chunk, ...rest)
            }) as typeof res.write
            respond(res, new Promise((r) => req.socket.on("close", () => r(written))))
          })
          server.listen(
            0,
            "127.0.0.1",
            () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v4/x/task` })
          )
        })
      ),
      ({ server }) => Effect.sync(() => server.close(() => {}))
    )

  it.live("reads status and body", () =>
    Effect.gen(function*() {
      const { url } = yield* serving((res) => res.writeHead(200, { "content-type": "application/json" }).end(body))
      const answer = yield* getText(url)
      assert.deepStrictEqual(answer, { status: 200, text: body })
    }).pipe(Effect.scoped))

  it.live("stops reading a body past 1 MiB, and the connection with it", () =>
    Effect.gen(function*() {
      let closed: Promise<number> = Promise.resolve(0)
      const { url } = yield* serving((res, whenClosed) => {
        closed = whenClosed
        res.writeHead(200, { "content-type": "application/json" })
        const chunk = Buffer.alloc(64 * 1024, 0x20)
        // 20 MiB of spaces, written as the client takes them.
        let left = 20 * 16
        const pump = () => {
          while (left > 0) {
            left--
            if (!res.write(chunk)) return void res.once("drain", pump)
          }
          res.end(body)
        }
        pump()
      })
      const failure = yield* Effect.flip(getText(url))
      assert.include(failure.detail, "larger than 1 MiB")
      const written = yield* Effect.promise(() => closed)
      assert.isBelow(written, 8 * 1024 * 1024, "the server stopped long before 20 MiB")
    }).pipe(Effect.scoped))

  it.live("interrupting it aborts the request (a body that drips)", () =>
    Effect.gen(function*() {
      let closed: Promise<number> = Promise.resolve(0)
      const { url } = yield* serving((res, whenClosed) => {
        closed = whenClosed
        res.writeHead(200).write("{\"")
      })
      const result = yield* getText(url).pipe(Effect.timeoutOption("300 millis"))
      assert.isTrue(result._tag === "None")
      assert.strictEqual(yield* Effect.promise(() => closed), 2)
    }).pipe(Effect.scoped))
})

describe("decodeTaskMetadata", () => {
  it.effect("ignores fields it does not know", () =>
    Effect.gen(function*() {
      const task = yield* decodeTaskMetadata(uri, {
        ...awsvpcTask(),
        PullStartedAt: "2020-10-02T00:43:06.202617438Z",
        Limits: { CPU: 0.25 }
      })
      assert.strictEqual(task.Family, "web")
    }))

  it.effect.prop(
    "arbitrary JSON never dies: it decodes or fails with MetadataUnavailable",
    [Schema.Json],
    ([json]) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(decodeTaskMetadata(uri, json))
        if (Exit.isFailure(exit)) {
          const reason = exit.cause.reasons[0]
          assert.isTrue(reason?._tag === "Fail" && reason.error instanceof MetadataUnavailable)
        }
      })
  )
})
