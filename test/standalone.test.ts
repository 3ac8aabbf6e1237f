import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { exitCodeOf } from "../src/errors.ts"
import { Config } from "../src/layers/Config.ts"
import { planWait } from "../src/layers/drain/connections.ts"
import type { TaskMetadata } from "../src/layers/Metadata.ts"
import { TargetHealth } from "../src/layers/TargetHealth.ts"
import { discoverStandaloneTargets } from "../src/programs/discoverStandaloneTargets.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { readGroup, watchedGroups } from "../src/programs/watchTargets.ts"
import { expectFailure } from "./support/assertions.ts"
import {
  awsError,
  awsvpcTask,
  type Call,
  configTest,
  ipGroup,
  scriptedTargetHealth,
  testLayer,
  tgArn
} from "./support/mocks.ts"

const web = tgArn("web")
const admin = tgArn("admin", "fedcba9876543210")
const target = (id: string, port: number, state = "healthy") => ({ id, port, state, reason: undefined })

const run = (options: {
  readonly metadata: TaskMetadata
  readonly registered: NonNullable<Parameters<typeof scriptedTargetHealth>[0]["registered"]>
}) =>
  Effect.gen(function*() {
    const { layer, calls } = testLayer({
      settings: { targetGroupArns: [web], pollingFrequencySeconds: 10 },
      task: options.metadata,
      ecs: {
        task: {
          group: "family:web",
          containerInstanceArn: "arn:aws:ecs:us-east-1:111122223333:container-instance/default/1a2b",
          containers: [{ name: "app", networkBindings: [{ containerPort: 8080, hostPort: 32768, protocol: "tcp" }] }]
        },
        ec2InstanceId: "i-0abc"
      },
      elb: { timelines: {}, registered: options.registered }
    })
    const fiber = yield* Effect.forkChild(Effect.exit(discoverStandaloneTargets.pipe(Effect.provide(layer))))
    return { fiber, calls, layer }
  })

const searchOnce = (options: Parameters<typeof run>[0]) =>
  Effect.gen(function*() {
    const { fiber, calls, layer } = yield* run(options)
    const exit = yield* Fiber.join(fiber)
    if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
    assert.deepStrictEqual(exit.value.targets, [], "nothing is known before the groups are listed")
    const elb = yield* TargetHealth.pipe(Effect.provide(layer))
    const found = yield* Effect.forEach(watchedGroups([], exit.value.searches), (group) => readGroup(elb, group))
    return { found, calls }
  })

describe("TARGET_GROUP_ARNS (no ECS service discovery)", () => {
  it.effect("awsvpc: finds the task's IP among the group's targets with DescribeTargetHealth alone", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...standalone } = awsvpcTask()
      const { found, calls } = yield* searchOnce({
        metadata: standalone,
        registered: {
          [web]: [{
            at: 0,
            targets: [target("10.0.9.9", 8080), target("10.0.2.106", 8080), target("10.0.2.106", 9090)]
          }]
        }
      })
      assert.deepStrictEqual(found.flatMap((f) => f.group.targets.map((t) => `${t.id}:${t.port}`)), [
        "10.0.2.106:8080",
        "10.0.2.106:9090"
      ])
      // The listing is the first reading of each found target.
      assert.deepStrictEqual(found.flatMap((f) => f.observations.map((o) => o.state)), ["healthy", "healthy"])
      // DescribeTargetGroups (optional) for the protocol, then the listing.
      assert.deepStrictEqual(calls.map((c) => c.action), ["DescribeTargetGroups", "DescribeTargetHealth"])
    }))

  it.effect("reads each group's protocol as discovery does: an HTTP group (ALB) gets no floor under DRAIN_STRATEGY=connections", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...standalone } = awsvpcTask()
      const { layer } = testLayer({
        settings: { targetGroupArns: [web, admin] },
        task: standalone,
        elb: { timelines: {}, groups: [{ ...ipGroup(web), protocol: "HTTP" }, ipGroup(admin)] }
      })
      const discovery = yield* discoverStandaloneTargets.pipe(Effect.provide(layer))
      assert.deepStrictEqual(discovery.targetGroups.map((g) => [g.arn, g.protocol]), [[web, "HTTP"], [admin, "TCP"]])
      const plan = planWait(
        yield* Config.pipe(Effect.provide(configTest())),
        discovery.targetGroups.map((g, i) => ({
          target: {
            targetGroupArn: g.arn,
            id: "10.0.2.106",
            port: 8080 + i,
            containerName: "app",
            containerPort: 8080
          },
          leavingSince: 0
        })),
        discovery.targetGroups,
        0
      )
      assert.deepStrictEqual(plan.targets.map((t) => t.floorMillis), [0, 120_000])
    }))

  it.effect("without elasticloadbalancing:DescribeTargetGroups (it is optional here) the protocol is unknown: one warning, the NLB's floor", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...standalone } = awsvpcTask()
      const calls: Array<Call> = []
      const scripted = scriptedTargetHealth({ timelines: {}, groups: [{ ...ipGroup(web), protocol: "HTTP" }], calls })
      const denied = Layer.effect(
        TargetHealth,
        TargetHealth.pipe(Effect.map((live) =>
          TargetHealth.of({
            ...live,
            describeTargetGroups: () =>
              Effect.fail(awsError("elasticloadbalancing:DescribeTargetGroups", "AccessDenied", false))
          })
        ))
      ).pipe(Layer.provide(scripted))
      const { layer, logs } = testLayer({ settings: { targetGroupArns: [web] }, task: standalone, elbLayer: denied })
      const discovery = yield* discoverStandaloneTargets.pipe(Effect.provide(layer))
      assert.deepStrictEqual(discovery.targetGroups.map((g) => g.protocol), [undefined])
      const warnings = logs.filter((l) => l.level === "warn")
      assert.strictEqual(warnings.length, 1)
      assert.deepInclude(warnings[0], { optionalPermission: "elasticloadbalancing:DescribeTargetGroups" })
    }))

  it.effect("a registration listed twice is one target, read as the entry that keeps the task running", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...standalone } = awsvpcTask()
      const { found } = yield* searchOnce({
        metadata: standalone,
        registered: {
          [web]: [{ at: 0, targets: [target("10.0.2.106", 8080, "draining"), target("10.0.2.106", 8080)] }]
        }
      })
      assert.deepStrictEqual(
        found.flatMap((f) => f.observations.map((o) => `${o.target.id}:${o.target.port} ${o.state}`)),
        [
          "10.0.2.106:8080 healthy"
        ]
      )
    }))

  it.effect("bridge: matches the instance id and one of the task's host ports", () =>
    Effect.gen(function*() {
      const metadata: TaskMetadata = {
        ...awsvpcTask(),
        Containers: [{
          Name: "app",
          Networks: [{ NetworkMode: "bridge", IPv4Addresses: ["172.17.0.2"] }],
          Ports: [{ ContainerPort: 8080, Protocol: "tcp", HostPort: 32768, HostIp: "0.0.0.0" }]
        }]
      }
      const { found } = yield* searchOnce({
        metadata,
        registered: {
          [web]: [{ at: 0, targets: [target("i-0abc", 32769), target("i-0def", 32768), target("i-0abc", 32768)] }]
        }
      })
      assert.deepStrictEqual(found.flatMap((f) => f.group.targets.map((t) => `${t.id}:${t.port}`)), ["i-0abc:32768"])
    }))

  it.effect("watches the groups the task is found in while it still waits for the others, and catches their drain", () =>
    Effect.gen(function*() {
      const { layer, polls, logs } = testLayer({
        settings: {
          targetGroupArns: [web, admin],
          pollingFrequencySeconds: 10,
          deregistrationWaitSeconds: 30,
          drainExitCode: 7
        },
        elb: {
          // Registered in web only; admin never lists the task.
          registered: { [web]: [{ at: 0, targets: [target("10.0.2.106", 8080)] }] },
          timelines: { [web]: [{ at: 0, state: "healthy" }, { at: 15_000, state: "draining" }] }
        }
      })
      const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(layer)))
      // Polls at 0 (both listed), 9 s (web by name, admin listed), 18 s: web is draining.
      yield* TestClock.adjust("18 seconds")
      assert.isTrue(
        logs.some((l) => l.message === "waiting for this task to be registered" && l.targetGroupArn === admin)
      )
      assert.isTrue(logs.some((l) => l.message === "target is deregistering" && l.targetGroupArn === web))
      assert.deepStrictEqual(
        polls().filter((c) => c.at === 18_000).map((c) => c.targetGroupArn).sort(),
        [web, admin].sort()
      )
      yield* TestClock.adjust("30 seconds")
      expectFailure(fiber.pollUnsafe(), "Drained", 7)
    }))

  it.effect("an unknown network mode is exit 4", () =>
    Effect.gen(function*() {
      const metadata: TaskMetadata = {
        ...awsvpcTask(),
        Containers: [{ Name: "app", Networks: [{ NetworkMode: "none" }] }]
      }
      const { fiber } = yield* run({ metadata, registered: {} })
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(exitCodeOf(exit), 4)
    }))
})
