import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { exitCodeOf } from "../src/errors.ts"
import type { TaskMetadata } from "../src/layers/Metadata.ts"
import { discoverStandaloneTargets } from "../src/programs/discoverStandaloneTargets.ts"
import { captureLogs } from "./support/logs.ts"
import { awsvpcTask, type Call, configTest, ecsTest, fixedRandom, metadataTest, scriptedTargetHealth, tgArn } from "./support/mocks.ts"

const web = tgArn("web")
const admin = tgArn("admin", "fedcba9876543210")
const target = (id: string, port: number, state = "healthy") => ({ id, port, state, reason: undefined })

const run = (options: {
  readonly metadata: TaskMetadata
  readonly registered: NonNullable<Parameters<typeof scriptedTargetHealth>[0]["registered"]>
  readonly arns?: ReadonlyArray<string>
}) =>
  Effect.gen(function*() {
    const calls: Array<Call> = []
    const logs = captureLogs()
    const layer = Layer.mergeAll(
      configTest({ targetGroupArns: options.arns ?? [web], pollingFrequencySeconds: 10 }),
      metadataTest(options.metadata),
      ecsTest({
        task: {
          group: "family:web",
          containerInstanceArn: "arn:aws:ecs:us-east-1:111122223333:container-instance/default/1a2b",
          containers: [{ name: "app", networkBindings: [{ containerPort: 8080, hostPort: 32768, protocol: "tcp" }] }]
        },
        ec2InstanceId: "i-0abc",
        calls
      }),
      scriptedTargetHealth({ timelines: {}, calls, registered: options.registered }),
      fixedRandom(0),
      logs.layer
    )
    const fiber = yield* Effect.forkChild(Effect.exit(discoverStandaloneTargets.pipe(Effect.provide(layer))))
    return { fiber, calls, logs: logs.records }
  })

describe("TARGET_GROUP_ARNS (no ECS service discovery)", () => {
  it.effect("awsvpc: finds the task's IP among the group's targets with DescribeTargetHealth alone", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...standalone } = awsvpcTask()
      const { fiber, calls } = yield* run({
        metadata: standalone,
        registered: { [web]: [{ at: 0, targets: [target("10.0.9.9", 8080), target("10.0.2.106", 8080), target("10.0.2.106", 9090)] }] }
      })
      const exit = yield* Fiber.join(fiber)
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.deepStrictEqual(exit.value.targets.map((t) => `${t.id}:${t.port}`), ["10.0.2.106:8080", "10.0.2.106:9090"])
      // Found registered: "not registered" at the first poll already means it left.
      assert.isTrue(exit.value.targets.every((t) => t.registered === true))
      assert.deepStrictEqual(calls.map((c) => c.action), ["DescribeTargetHealth"])
    }))

  it.effect("bridge: matches the instance id and one of the task's host ports", () =>
    Effect.gen(function*() {
      const metadata: TaskMetadata = {
        ...awsvpcTask(),
        Containers: [{ Name: "app", Networks: [{ NetworkMode: "bridge", IPv4Addresses: ["172.17.0.2"] }], Ports: [{ ContainerPort: 8080, Protocol: "tcp", HostPort: 32768, HostIp: "0.0.0.0" }] }]
      }
      const { fiber } = yield* run({
        metadata,
        registered: { [web]: [{ at: 0, targets: [target("i-0abc", 32769), target("i-0def", 32768), target("i-0abc", 32768)] }] }
      })
      const exit = yield* Fiber.join(fiber)
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.deepStrictEqual(exit.value.targets.map((t) => `${t.id}:${t.port}`), ["i-0abc:32768"])
    }))

  it.effect("waits, polling every POLLING_FREQUENCY, until the task is registered in every group", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* run({
        metadata: awsvpcTask(),
        arns: [web, admin],
        registered: {
          [web]: [{ at: 0, targets: [target("10.0.2.106", 8080)] }],
          [admin]: [{ at: 25_000, targets: [target("10.0.2.106", 9090, "initial")] }]
        }
      })
      yield* TestClock.adjust("29 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      assert.isTrue(logs.some((l) => l.message === "waiting for this task to be registered" && l.targetGroupArn === admin))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.deepStrictEqual(exit.value.targets.map((t) => t.targetGroupArn), [web, admin])
    }))

  it.effect("an unknown network mode is exit 4", () =>
    Effect.gen(function*() {
      const metadata: TaskMetadata = { ...awsvpcTask(), Containers: [{ Name: "app", Networks: [{ NetworkMode: "none" }] }] }
      const { fiber } = yield* run({ metadata, registered: {} })
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 4)
    }))
})
