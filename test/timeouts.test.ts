// A hung connection never stalls the sidecar: every AWS call is cut off and
// its HTTP request aborted; an interrupt at startup ends it cleanly.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { callAws } from "../src/aws/callAws.ts"
import type { TargetObservation, WatchedTarget } from "../src/domain.ts"
import { exitCodeOf } from "../src/errors.ts"
import { TargetHealth } from "../src/layers/TargetHealth.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import { awsError, ipGroup, testLayer, tgArn } from "./support/mocks.ts"
import { partialService } from "./support/partialService.ts"

const web = tgArn("web")

describe("timeouts", () => {
  it.effect("an AWS call with no answer fails after 10 s as a retryable RequestTimeout, and its request is aborted", () =>
    Effect.gen(function*() {
      let aborted = false
      const fiber = yield* Effect.forkChild(
        Effect.exit(
          callAws(
            "elasticloadbalancing:DescribeTargetHealth",
            (signal) => new Promise<never>(() => signal.addEventListener("abort", () => (aborted = true)))
          )
        )
      )
      yield* TestClock.adjust("9999 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepInclude(expectFailure(yield* Fiber.join(fiber), "AwsCallFailed", 6), {
        code: "RequestTimeout",
        retryable: true
      })
      assert.isTrue(aborted, "the SDK request must be aborted")
    }))

  it.effect("a poll that hangs is cut off and the next poll follows; then the drain ends it normally", () =>
    Effect.gen(function*() {
      const answers: Array<"hang" | "healthy" | "draining"> = ["healthy", "hang", "healthy", "draining"]
      const polls: Array<number> = []
      const elb = TargetHealth.layerTest(partialService(TargetHealth, {
        describeTargetGroups: () => Effect.succeed([ipGroup(web)]),
        poll: (_: string, targets: ReadonlyArray<WatchedTarget>) =>
          Effect.suspend(() => {
            const answer = answers.shift() ?? "draining"
            polls.push(polls.length)
            if (answer === "hang") {
              return callAws("elasticloadbalancing:DescribeTargetHealth", () => new Promise<never>(() => {}))
            }
            return Effect.succeed(
              targets.map((target): TargetObservation => ({ target, state: answer, reason: undefined }))
            )
          }),
        listTargets: () => Effect.succeed([]),
        describeDeregistrationDelay: () => Effect.succeed(300)
      }))
      const world = testLayer({
        settings: { pollingFrequencySeconds: 30, deregistrationWaitSeconds: 120, drainExitCode: 7 },
        elbLayer: elb,
        random: 0.5
      })
      const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
      // Polls at 1 s, 31 s (hangs: cut at 41 s, then 2 × 30 s back-off), 101 s, 131 s (draining).
      yield* TestClock.adjust("131 seconds")
      assert.strictEqual(polls.length, 4)
      assert.isTrue(world.logs.some((l) => l.message === "poll failed" && l.error === "RequestTimeout"))
      yield* TestClock.adjust("120 seconds")
      expectFailure(fiber.pollUnsafe(), "Drained", 7)
    }))

  it.effect("an interrupt while startup is retrying exits 0", () =>
    Effect.gen(function*() {
      const world = testLayer({
        ecs: { failWith: { DescribeServices: awsError("ecs:DescribeServices", "ThrottlingException", true) } },
        random: 0.5
      })
      const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
      yield* TestClock.adjust("5 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* Fiber.interrupt(fiber)
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit)
      if (exit !== undefined) assert.strictEqual(exitCodeOf(exit), 0)
    }))
})
