import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Schema } from "effect"
import { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"
import { TestClock } from "effect/testing"
import { exitCodeOf, MetadataUnavailable } from "../src/errors.ts"
import { decodeTaskMetadata, Metadata } from "../src/layers/Metadata.ts"
import { captureLogs } from "./support/logs.ts"
import { awsvpcTask, configTest, fixedRandom } from "./support/mocks.ts"

const uri = "http://169.254.170.2/v4/0123456789abcdef-1234567890"

/** A body as a stream: made afresh for every request that answers with it. */
type StreamedBody = () => ReadableStream<Uint8Array>

/** An HttpClient answering from a script, one entry per request; records request URLs. */
const scriptedHttp = (
  answers: ReadonlyArray<{ status: number; body?: string | StreamedBody } | "refused">,
  urls: Array<string>
) => {
  let next = 0
  return Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request, url) =>
      Effect.suspend(() => {
        urls.push(url.toString())
        const answer = answers[Math.min(next++, answers.length - 1)] ?? "refused"
        if (answer === "refused") {
          return Effect.fail(
            new HttpClientError.HttpClientError({
              reason: new HttpClientError.TransportError({ request, description: "connect ECONNREFUSED" })
            })
          )
        }
        const body = typeof answer.body === "function" ? answer.body() : answer.body ?? ""
        return Effect.succeed(HttpClientResponse.fromWeb(request, new Response(body, { status: answer.status })))
      })
    )
  )
}

const readTask = (
  answers: Parameters<typeof scriptedHttp>[0],
  settings: Parameters<typeof configTest>[0] = { metadataUri: uri }
) =>
  Effect.gen(function*() {
    const urls: Array<string> = []
    const layer = Metadata.layerNoDeps.pipe(
      Layer.provide([scriptedHttp(answers, urls), configTest(settings)]),
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
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 3)
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
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 3)
      assert.strictEqual(urls.length, 1, "a permanent failure is not retried")
      if (Exit.isFailure(exit)) {
        assert.include(
          String(exit.cause.reasons[0]?._tag === "Fail" && (exit.cause.reasons[0].error as Error).message),
          fragment
        )
      }
    }))

  it.effect("without ECS_CONTAINER_METADATA_URI_V4: exit 3 naming the variable", () =>
    Effect.gen(function*() {
      const { fiber, urls } = yield* readTask([{ status: 200, body }], {})
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 3)
      assert.deepStrictEqual(urls, [])
      if (Exit.isFailure(exit)) {
        assert.include(
          String((exit.cause.reasons[0] as { error: Error }).error.message),
          "ECS_CONTAINER_METADATA_URI_V4"
        )
      }
    }))
})

/** Moves virtual time a second at a time (at most a minute) until the fiber is done. */
const adjustUntilDone = (fiber: { pollUnsafe: () => unknown }) =>
  Effect.gen(function*() {
    for (let second = 0; second < 60 && fiber.pollUnsafe() === undefined; second++) yield* TestClock.adjust("1 second")
  })

const failureMessage = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail" ? (exit.cause.reasons[0].error as Error).message : ""

describe("Metadata layer: hostile bodies", () => {
  it.effect("a body that drips and never ends is cut off with the whole request after 5 s, retried, then exit 3", () =>
    Effect.gen(function*() {
      // Two bytes of a body that never ends, as from an agent that stalls mid-answer.
      const dripping: StreamedBody = () =>
        new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("{\"")) })
      const { fiber, urls } = yield* readTask([{ status: 200, body: dripping }], {
        metadataUri: uri,
        startupTimeoutSeconds: 10
      })
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(fiber.pollUnsafe(), "still within the first request's 5 s")
      yield* adjustUntilDone(fiber)
      assert.isDefined(fiber.pollUnsafe(), "startup ended within a virtual minute")
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 3)
      assert.isAbove(urls.length, 1, "a stalled body is retried")
      assert.include(failureMessage(exit), "no complete answer within 5 seconds")
    }))

  it.effect("a 20 MiB body is not read past 1 MiB: retried, then exit 3", () =>
    Effect.gen(function*() {
      const chunk = new Uint8Array(64 * 1024).fill(0x20)
      const pulled: Array<number> = []
      // Valid JSON (the task body after 20 MiB of spaces), served as the client asks for it.
      const huge: StreamedBody = () => {
        const request = pulled.push(0) - 1
        return new ReadableStream({
          pull: (c) => {
            if ((pulled[request] ?? 0) >= 20 * 1024 * 1024) {
              c.enqueue(new TextEncoder().encode(body))
              return c.close()
            }
            pulled[request] = (pulled[request] ?? 0) + chunk.length
            c.enqueue(chunk)
          }
        }, { highWaterMark: 0 })
      }
      const { fiber, urls } = yield* readTask([{ status: 200, body: huge }], {
        metadataUri: uri,
        startupTimeoutSeconds: 10
      })
      yield* adjustUntilDone(fiber)
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 3)
      assert.isAbove(urls.length, 1, "an oversized body is retried")
      assert.include(failureMessage(exit), "larger than 1 MiB")
      for (const bytes of pulled) assert.isAtMost(bytes, 1024 * 1024 + 2 * chunk.length)
    }))
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
