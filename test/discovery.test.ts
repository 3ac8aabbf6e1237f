import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"
import type { Settings } from "../src/layers/Config.ts"
import { Ecs, type ServiceLoadBalancer, type TaskDescription } from "../src/layers/Ecs.ts"
import type { TaskMetadata } from "../src/layers/Metadata.ts"
import { discoverTargets } from "../src/programs/discoverTargets.ts"
import { expectFailure } from "./support/assertions.ts"
import {
  awsError,
  awsvpcTask,
  ecsService,
  type ecsTest,
  instanceGroup,
  ipGroup,
  testLayer,
  tgArn
} from "./support/mocks.ts"
import { partialService } from "./support/partialService.ts"

const web = tgArn("web")
const udp = tgArn("dns", "1111222233334444")
const lb = (targetGroupArn: string | undefined, containerName = "app", containerPort = 8080): ServiceLoadBalancer => ({
  targetGroupArn,
  loadBalancerName: targetGroupArn === undefined ? "classic-elb" : undefined,
  containerName,
  containerPort
})

const bridgePorts = (containerPort: number, hostPort: number | undefined, protocol = "tcp") =>
  ["0.0.0.0", "::"].map((HostIp) => ({
    ContainerPort: containerPort,
    Protocol: protocol,
    HostIp,
    ...(hostPort === undefined ? {} : { HostPort: hostPort })
  }))

const ec2Task = (mode: "bridge" | "host", ports: TaskMetadata["Containers"][number]["Ports"]): TaskMetadata => ({
  Cluster: "default",
  TaskARN: "arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c",
  Family: "web",
  Revision: "7",
  ServiceName: "web",
  Containers: [
    {
      Name: "nlb-sidecar",
      Networks: [{ NetworkMode: mode, ...(mode === "bridge" ? { IPv4Addresses: ["172.17.0.3"] } : {}) }]
    },
    {
      Name: "app",
      Networks: [{ NetworkMode: mode, ...(mode === "bridge" ? { IPv4Addresses: ["172.17.0.2"] } : {}) }],
      ...(ports === undefined ? {} : { Ports: ports })
    }
  ]
})

const describedTask = (overrides: Partial<TaskDescription> = {}): TaskDescription => ({
  group: "service:web",
  containerInstanceArn: "arn:aws:ecs:us-west-2:111122223333:container-instance/default/1a2b3c4d",
  containers: [],
  ...overrides
})

const discover = (options: {
  readonly metadata: TaskMetadata
  readonly loadBalancers?: ReadonlyArray<ServiceLoadBalancer> | undefined
  readonly task?: TaskDescription | undefined
  readonly groups?: ReturnType<typeof ipGroup>[]
  readonly settings?: Partial<Settings>
  readonly failWith?: Parameters<typeof ecsTest>[0]["failWith"]
}) =>
  Effect.gen(function*() {
    const { layer, calls } = testLayer({
      ...(options.settings === undefined ? {} : { settings: options.settings }),
      task: options.metadata,
      ecs: {
        task: options.task,
        loadBalancers: options.loadBalancers,
        ec2InstanceId: "i-0abcdef1234567890",
        ...(options.failWith === undefined ? {} : { failWith: options.failWith })
      },
      elb: { timelines: {}, groups: options.groups ?? [ipGroup(web)] }
    })
    const exit = yield* Effect.exit(discoverTargets.pipe(Effect.provide(layer)))
    return { exit, actions: calls.map((c) => c.action) }
  })

const expectUnsupported = (exit: Exit.Exit<unknown, unknown>, ...fragments: ReadonlyArray<string>) => {
  const { message } = expectFailure(exit, "UnsupportedTask", 4)
  for (const f of fragments) assert.include(message, f)
}

describe("discoverTargets: awsvpc", () => {
  it.effect("finds the task IP and container port, reading the watched container (not Containers[0], the pause container)", () =>
    Effect.gen(function*() {
      const { exit, actions } = yield* discover({ metadata: awsvpcTask(), loadBalancers: [lb(web)] })
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isFailure(exit)) return
      assert.strictEqual(exit.value.networkMode, "awsvpc")
      assert.deepStrictEqual(exit.value.targets, [{
        targetGroupArn: web,
        id: "10.0.2.106",
        port: 8080,
        containerName: "app",
        containerPort: 8080,
        role: "primary"
      }])
      // ServiceName in the metadata: no DescribeTasks needed.
      assert.deepStrictEqual(actions, ["DescribeServices", "DescribeTargetGroups"])
    }))

  it.effect("asks DescribeTasks for the service when the metadata has no ServiceName (agents before 1.63.1)", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...older } = awsvpcTask()
      const { exit, actions } = yield* discover({
        metadata: older,
        loadBalancers: [lb(web)],
        task: describedTask({ group: "service:web" })
      })
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.strictEqual(exit.value.serviceName, "web")
      assert.deepStrictEqual(actions, ["DescribeTasks", "DescribeServices", "DescribeTargetGroups"])
    }))

  it.effect("uses the IPv6 address for an ipv6 target group", () =>
    Effect.gen(function*() {
      const metadata = awsvpcTask({
        Containers: [{
          Name: "app",
          Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: ["10.0.2.106"], IPv6Addresses: ["2600:1f18::1"] }]
        }]
      })
      const { exit } = yield* discover({
        metadata,
        loadBalancers: [lb(web)],
        groups: [{ ...ipGroup(web), ipAddressType: "ipv6" }]
      })
      if (Exit.isFailure(exit)) return assert.fail("expected success")
      assert.strictEqual(exit.value.targets[0]?.id, "2600:1f18::1")
    }))

  it.effect("rejects an instance target group for an awsvpc task (exit 4), saying which target type to use", () =>
    Effect.gen(function*() {
      const { exit } = yield* discover({
        metadata: awsvpcTask(),
        loadBalancers: [lb(web)],
        groups: [instanceGroup(web)]
      })
      expectUnsupported(exit, web, "target type ip")
    }))
})

describe("discoverTargets: bridge and host", () => {
  it.effect("bridge: the EC2 instance id and the dynamic host port of containerName:containerPort", () =>
    Effect.gen(function*() {
      const metadata = ec2Task("bridge", [...bridgePorts(8080, 32768), ...bridgePorts(8080, 32769, "udp")])
      const { exit, actions } = yield* discover({
        metadata,
        loadBalancers: [lb(web)],
        task: describedTask(),
        groups: [instanceGroup(web)]
      })
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.deepStrictEqual(exit.value.targets, [{
        targetGroupArn: web,
        id: "i-0abcdef1234567890",
        port: 32768,
        containerName: "app",
        containerPort: 8080,
        role: "primary"
      }])
      assert.strictEqual(exit.value.networkMode, "bridge")
      assert.deepStrictEqual(actions, [
        "DescribeServices",
        "DescribeTargetGroups",
        "DescribeTasks",
        "DescribeContainerInstances"
      ])
    }))

  it.effect("bridge: a UDP target group picks the udp mapping", () =>
    Effect.gen(function*() {
      const metadata = ec2Task("bridge", [...bridgePorts(53, 32770), ...bridgePorts(53, 32771, "udp")])
      const { exit } = yield* discover({
        metadata,
        loadBalancers: [lb(udp, "app", 53)],
        task: describedTask(),
        groups: [instanceGroup(udp, "UDP")]
      })
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.strictEqual(exit.value.targets[0]?.port, 32771)
    }))

  it.effect("bridge: falls back to DescribeTasks networkBindings when the metadata omits HostPort (agents before 1.41.1)", () =>
    Effect.gen(function*() {
      const metadata = ec2Task("bridge", bridgePorts(8080, undefined))
      const task = describedTask({
        containers: [{ name: "app", networkBindings: [{ containerPort: 8080, hostPort: 49153, protocol: "tcp" }] }]
      })
      const { exit } = yield* discover({ metadata, loadBalancers: [lb(web)], task, groups: [instanceGroup(web)] })
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.strictEqual(exit.value.targets[0]?.port, 49153)
    }))

  it.effect("bridge: no mapping for the container port is exit 4, naming the container and port", () =>
    Effect.gen(function*() {
      const metadata = ec2Task("bridge", bridgePorts(9090, 32768))
      const { exit } = yield* discover({
        metadata,
        loadBalancers: [lb(web)],
        task: describedTask(),
        groups: [instanceGroup(web)]
      })
      expectUnsupported(exit, "container app", "8080", "portMappings")
    }))

  it.effect("host: the EC2 instance id and the container port", () =>
    Effect.gen(function*() {
      const metadata = ec2Task("host", [{ ContainerPort: 8080, Protocol: "tcp", HostPort: 8080 }])
      const { exit } = yield* discover({
        metadata,
        loadBalancers: [lb(web)],
        task: describedTask(),
        groups: [instanceGroup(web)]
      })
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.deepStrictEqual(exit.value.targets.map((t) => [t.id, t.port]), [["i-0abcdef1234567890", 8080]])
      assert.strictEqual(exit.value.networkMode, "host")
    }))

  it.effect("bridge with an ip target group is exit 4", () =>
    Effect.gen(function*() {
      const metadata = ec2Task("bridge", bridgePorts(8080, 32768))
      const { exit } = yield* discover({
        metadata,
        loadBalancers: [lb(web)],
        task: describedTask(),
        groups: [ipGroup(web)]
      })
      expectUnsupported(exit, "target type instance")
    }))
})

describe("discoverTargets: tasks it cannot watch (exit 4)", () => {
  it.effect("a task that is not in a service", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...standalone } = awsvpcTask()
      const { exit } = yield* discover({ metadata: standalone, task: describedTask({ group: "family:web" }) })
      expectUnsupported(exit, "not part of an ECS service", "TARGET_GROUP_ARNS")
    }))

  it.effect("a service with no target groups, or only a Classic Load Balancer", () =>
    Effect.gen(function*() {
      expectUnsupported(
        (yield* discover({ metadata: awsvpcTask(), loadBalancers: [] })).exit,
        "has no target groups",
        "no loadBalancers"
      )
      expectUnsupported(
        (yield* discover({ metadata: awsvpcTask(), loadBalancers: [lb(undefined)] })).exit,
        "only Classic Load Balancers"
      )
    }))

  it.effect("a service ECS does not know", () =>
    Effect.gen(function*() {
      expectUnsupported(
        (yield* discover({ metadata: awsvpcTask(), loadBalancers: undefined })).exit,
        "does not know service web"
      )
    }))

  it.effect("TARGET_CONTAINER_NAME naming no container, or a container no load balancer names", () =>
    Effect.gen(function*() {
      const none = yield* discover({
        metadata: awsvpcTask(),
        loadBalancers: [lb(web)],
        settings: { targetContainerName: "api" }
      })
      expectUnsupported(none.exit, "TARGET_CONTAINER_NAME=api", "it has: ~internal~ecs~pause, app, nlb-sidecar")
      const unnamed = yield* discover({
        metadata: awsvpcTask(),
        loadBalancers: [lb(web)],
        settings: { targetContainerName: "nlb-sidecar" }
      })
      expectUnsupported(unnamed.exit, "names container nlb-sidecar", "they name: app")
    }))

  it.effect("TARGET_CONTAINER_NAME keeps only that container's load balancers", () =>
    Effect.gen(function*() {
      const metadata = awsvpcTask()
      const { exit } = yield* discover({
        metadata,
        loadBalancers: [lb(web, "app", 8080), lb(udp, "nlb-sidecar", 9000)],
        groups: [ipGroup(web), ipGroup(udp)],
        settings: { targetContainerName: "app" }
      })
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.deepStrictEqual(exit.value.targets.map((t) => t.targetGroupArn), [web])
    }))
})

describe("discoverTargets: AWS failures at startup", () => {
  it.effect("AccessDenied is exit 5 at once, naming the IAM action to grant", () =>
    Effect.gen(function*() {
      const { exit, actions } = yield* discover({
        metadata: awsvpcTask(),
        loadBalancers: [lb(web)],
        failWith: { DescribeServices: awsError("ecs:DescribeServices", "AccessDeniedException", false) }
      })
      assert.include(expectFailure(exit, "AwsCallFailed", 5).message, "grant the IAM permission ecs:DescribeServices")
      assert.deepStrictEqual(actions, ["DescribeServices"])
    }))

  it.effect("a throttled call that then succeeds goes on", () =>
    Effect.gen(function*() {
      let failuresLeft = 2
      const ecs = Ecs.layerTest(partialService(Ecs, {
        describeService: () =>
          Effect.suspend(() =>
            failuresLeft-- > 0
              ? Effect.fail(awsError("ecs:DescribeServices", "ThrottlingException", true))
              : Effect.succeed(ecsService([lb(web)]))
          )
      }))
      const { layer } = testLayer({ ecsLayer: ecs, random: 0.5 })
      const fiber = yield* Effect.forkChild(discoverTargets.pipe(Effect.provide(layer)))
      yield* TestClock.adjust("3 seconds") // two throttles: 1 s, then 2 s (the throttled back-off at jitter 0.5)
      const discovery = yield* Fiber.join(fiber)
      assert.strictEqual(discovery.targets.length, 1)
      assert.strictEqual(failuresLeft, -1)
    }))
})
