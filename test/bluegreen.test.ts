// Blue/green: DescribeServices as the ECS API reference shapes it for each
// deployment controller, read through the real SDK (a loopback server answers
// in awsJson 1.1), and which groups discovery watches for each; then the drain
// rules in both groups of a blue/green task, on TestClock.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { AwsCredentials } from "../src/layers/AwsCredentials.ts"
import { AwsRegion } from "../src/layers/AwsRegion.ts"
import { Ecs, type ServiceDescription, type TaskDescription } from "../src/layers/Ecs.ts"
import { discoverTargets } from "../src/programs/discoverTargets.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { expectFailure } from "./support/assertions.ts"
import {
  awsError,
  awsvpcTask,
  instanceGroup,
  ipGroup,
  type Step,
  testLayer,
  tgArn,
  webLoadBalancer
} from "./support/mocks.ts"

const blue = tgArn("web")
const green = tgArn("web-green", "5c1f0e8a9b7d3e21")
const region = "us-east-1"
const account = "111122223333"
const serviceArn = `arn:aws:ecs:${region}:${account}:service/default/web`
const taskSetArn = (id: string) => `arn:aws:ecs:${region}:${account}:task-set/default/web/${id}`
const original = "ecs-svc/3987301654820374615"
const replacement = "ecs-svc/7213309875122618436"
const s = 1000

/** `LoadBalancer` (API reference): targetGroupArn, loadBalancerName, containerName, containerPort, advancedConfiguration. */
const loadBalancer = (targetGroupArn: string, advancedConfiguration?: Record<string, string>) => ({
  targetGroupArn,
  containerName: "app",
  containerPort: 8080,
  ...(advancedConfiguration === undefined ? {} : { advancedConfiguration })
})

/** `TaskSet` (API reference), as DescribeServices lists it for CODE_DEPLOY and EXTERNAL services. */
const taskSet = (id: string, status: string, targetGroupArn: string, extra: Record<string, unknown>) => ({
  id,
  taskSetArn: taskSetArn(id),
  serviceArn,
  clusterArn: `arn:aws:ecs:${region}:${account}:cluster/default`,
  status,
  taskDefinition: `arn:aws:ecs:${region}:${account}:task-definition/web:12`,
  computedDesiredCount: 2,
  pendingCount: 0,
  runningCount: 2,
  createdAt: 1764750000.123,
  updatedAt: 1764750060.456,
  launchType: "FARGATE",
  platformVersion: "1.4.0",
  platformFamily: "Linux",
  networkConfiguration: {
    awsvpcConfiguration: { subnets: ["subnet-0a1b2c3d"], securityGroups: ["sg-0a1b2c3d"], assignPublicIp: "DISABLED" }
  },
  loadBalancers: [loadBalancer(targetGroupArn)],
  serviceRegistries: [],
  scale: { value: 100, unit: "PERCENT" },
  stabilityStatus: "STEADY_STATE",
  stabilityStatusAt: 1764750120.789,
  ...extra
})

/** A DescribeServices response body (API reference, "Response Syntax") around one service. */
const describeServicesBody = (service: Record<string, unknown>) => ({
  failures: [],
  services: [{
    serviceArn,
    serviceName: "web",
    clusterArn: `arn:aws:ecs:${region}:${account}:cluster/default`,
    status: "ACTIVE",
    desiredCount: 2,
    runningCount: 2,
    pendingCount: 0,
    launchType: "FARGATE",
    taskDefinition: `arn:aws:ecs:${region}:${account}:task-definition/web:12`,
    schedulingStrategy: "REPLICA",
    createdAt: 1764700000,
    ...service
  }]
})

const rolling = describeServicesBody({
  loadBalancers: [loadBalancer(blue)],
  deploymentController: { type: "ECS" },
  deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100, strategy: "ROLLING" },
  deployments: [{ id: "ecs-svc/1111111111111111111", status: "PRIMARY", rolloutState: "COMPLETED" }]
})

const nativeBlueGreen = describeServicesBody({
  loadBalancers: [loadBalancer(blue, {
    alternateTargetGroupArn: green,
    productionListenerRule:
      `arn:aws:elasticloadbalancing:${region}:${account}:listener/net/web/50dc6c495c0c9188/f2f7dc8e`,
    testListenerRule: `arn:aws:elasticloadbalancing:${region}:${account}:listener/net/web/50dc6c495c0c9188/0a1b2c3d`,
    roleArn: `arn:aws:iam::${account}:role/ecsInfrastructureRoleForLoadBalancers`
  })],
  deploymentController: { type: "ECS" },
  deploymentConfiguration: {
    maximumPercent: 200,
    minimumHealthyPercent: 100,
    strategy: "BLUE_GREEN",
    bakeTimeInMinutes: 5,
    lifecycleHooks: []
  },
  deployments: [{ id: "ecs-svc/2222222222222222222", status: "PRIMARY", rolloutState: "COMPLETED" }]
})

// After an earlier CodeDeploy deployment the service's loadBalancers still name the first group,
// while the PRIMARY task set runs in the other; the new replacement task set is on the first.
const codeDeploy = describeServicesBody({
  loadBalancers: [loadBalancer(blue)],
  deploymentController: { type: "CODE_DEPLOY" },
  deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100 },
  taskSets: [
    taskSet(original, "PRIMARY", green, { startedBy: "CODE_DEPLOY", externalId: "d-4KJ0U3N7Q" }),
    taskSet(replacement, "ACTIVE", blue, { startedBy: "CODE_DEPLOY", externalId: "d-4KJ0U3N7Q" })
  ],
  deployments: []
})

const external = describeServicesBody({
  loadBalancers: [],
  deploymentController: { type: "EXTERNAL" },
  deploymentConfiguration: { maximumPercent: 200, minimumHealthyPercent: 100 },
  taskSets: [
    taskSet(original, "PRIMARY", blue, { externalId: "blue" }),
    taskSet(replacement, "ACTIVE", green, { externalId: "green" })
  ],
  deployments: []
})

/** The body through the real SDK client, from a server on 127.0.0.1 that answers every request with it. */
const throughSdk = (body: unknown) =>
  Effect.acquireUseRelease(
    Effect.promise(() =>
      new Promise<ReturnType<typeof createServer>>((resolve) => {
        const server = createServer((req, res) => {
          req.resume().on("end", () => {
            res.writeHead(200, { "content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "shape-test" })
            res.end(JSON.stringify(body))
          })
        })
        server.listen(0, "127.0.0.1", () => resolve(server))
      })
    ),
    (server) =>
      Effect.gen(function*() {
        // The SDK reads AWS_ENDPOINT_URL when the client is created, as it does in the sidecar.
        process.env.AWS_ENDPOINT_URL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
        const ecs = yield* Ecs
        return yield* ecs.describeService("default", "web")
      }).pipe(
        Effect.provide(Ecs.layerNoDeps.pipe(Layer.provide([
          Layer.succeed(AwsRegion, { region }),
          AwsCredentials.layerStatic({ accessKeyId: "AKIASHAPETEST0001", secretAccessKey: "test" })
        ])))
      ),
    (server) =>
      Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve()))).pipe(
        Effect.tap(() => Effect.sync(() => delete process.env.AWS_ENDPOINT_URL))
      )
  )

const task = (startedBy: string): TaskDescription => ({
  group: "service:web",
  startedBy,
  containerInstanceArn: undefined,
  containers: []
})

/** Discovery on an awsvpc task for this service; the targets it watches as `group role id:port`. */
const watched = (service: ServiceDescription | undefined, described?: TaskDescription) =>
  Effect.gen(function*() {
    const { layer, calls, logs } = testLayer({
      ecs: { ...(service === undefined ? {} : { service }), task: described },
      elb: { timelines: {}, groups: [ipGroup(blue), ipGroup(green)] }
    })
    const discovery = yield* discoverTargets.pipe(Effect.provide(layer))
    return {
      discovery,
      targets: discovery.targets.map((t) =>
        `${t.targetGroupArn === blue ? "blue" : "green"} ${t.role} ${t.id}:${t.port}`
      ),
      actions: calls.map((c) => c.action),
      logs
    }
  })

describe("DescribeServices shapes per deployment controller (real SDK)", () => {
  it.live("ECS, rolling: the service's group only, as the primary", () =>
    Effect.gen(function*() {
      const service = yield* throughSdk(rolling)
      assert.deepStrictEqual(service, {
        deploymentController: "ECS",
        desiredCount: 2,
        loadBalancers: [{
          targetGroupArn: blue,
          loadBalancerName: undefined,
          containerName: "app",
          containerPort: 8080,
          alternateTargetGroupArn: undefined
        }],
        taskSets: []
      })
      const { targets, actions } = yield* watched(service)
      assert.deepStrictEqual(targets, ["blue primary 10.0.2.106:8080"])
      assert.deepStrictEqual(actions, ["DescribeServices", "DescribeTargetGroups"])
    }))

  it.live("ECS, BLUE_GREEN: advancedConfiguration.alternateTargetGroupArn is watched too, the same target in both", () =>
    Effect.gen(function*() {
      const service = yield* throughSdk(nativeBlueGreen)
      assert.strictEqual(service?.loadBalancers[0]?.alternateTargetGroupArn, green)
      const { targets, actions } = yield* watched(service)
      assert.deepStrictEqual(targets, ["blue primary 10.0.2.106:8080", "green alternate 10.0.2.106:8080"])
      // Both groups described in one DescribeTargetGroups; no DescribeTasks needed.
      assert.deepStrictEqual(actions, ["DescribeServices", "DescribeTargetGroups"])
    }))

  it.live("CODE_DEPLOY: the groups of the task set its startedBy names, not the service's loadBalancers", () =>
    Effect.gen(function*() {
      const service = yield* throughSdk(codeDeploy)
      assert.strictEqual(service?.deploymentController, "CODE_DEPLOY")
      assert.deepStrictEqual(
        service?.taskSets.map((ts) => [ts.id, ts.status, ts.taskSetArn, ts.loadBalancers[0]?.targetGroupArn]),
        [[original, "PRIMARY", taskSetArn(original), green], [replacement, "ACTIVE", taskSetArn(replacement), blue]]
      )
      const { targets, actions, discovery } = yield* watched(service, task(original))
      assert.deepStrictEqual(targets, ["green task set 10.0.2.106:8080"])
      assert.strictEqual(discovery.taskSet, original)
      assert.deepStrictEqual(actions, ["DescribeServices", "DescribeTasks", "DescribeTargetGroups"])
    }))

  it.live("EXTERNAL: the same through task sets (startedBy may also be the task set's ARN)", () =>
    Effect.gen(function*() {
      const service = yield* throughSdk(external)
      assert.strictEqual(service?.deploymentController, "EXTERNAL")
      assert.deepStrictEqual(service?.loadBalancers, [])
      const { targets } = yield* watched(service, task(taskSetArn(replacement)))
      assert.deepStrictEqual(targets, ["green task set 10.0.2.106:8080"])
    }))
})

describe("discovery of task sets and alternates: the edges", () => {
  const codeDeployService: ServiceDescription = {
    deploymentController: "CODE_DEPLOY",
    loadBalancers: [{ targetGroupArn: blue, loadBalancerName: undefined, containerName: "app", containerPort: 8080 }],
    taskSets: [original, replacement].map((id, i) => ({
      id,
      taskSetArn: taskSetArn(id),
      status: i === 0 ? "PRIMARY" : "ACTIVE",
      loadBalancers: [{
        targetGroupArn: i === 0 ? green : blue,
        loadBalancerName: undefined,
        containerName: "app",
        containerPort: 8080
      }]
    }))
  }

  it.effect("a task whose task set the service does not list: every task set's groups, with a warning", () =>
    Effect.gen(function*() {
      const { targets, logs } = yield* watched(codeDeployService, task("ecs-svc/9999999999999999999"))
      assert.deepStrictEqual(targets, ["green task set 10.0.2.106:8080", "blue task set 10.0.2.106:8080"])
      assert.deepInclude(
        logs.find((l) => l.message.startsWith("this task's task set is not among the service's")),
        { level: "warn", startedBy: "ecs-svc/9999999999999999999" }
      )
    }))

  it.effect("CODE_DEPLOY needs ecs:DescribeTasks even when the metadata names the service: refused, exit 5", () =>
    Effect.gen(function*() {
      const { layer } = testLayer({
        ecs: {
          service: codeDeployService,
          failWith: { DescribeTasks: awsError("ecs:DescribeTasks", "AccessDeniedException", false) }
        }
      })
      const exit = yield* Effect.exit(discoverTargets.pipe(Effect.provide(layer)))
      assert.include(expectFailure(exit, "AwsCallFailed", 5).message, "grant the IAM permission ecs:DescribeTasks")
    }))

  it.effect("EXTERNAL with no task sets and no load balancers: exit 4, pointing at task sets or TARGET_GROUP_ARNS", () =>
    Effect.gen(function*() {
      const { layer } = testLayer({
        ecs: { service: { deploymentController: "EXTERNAL", loadBalancers: [], taskSets: [] } }
      })
      const exit = yield* Effect.exit(discoverTargets.pipe(Effect.provide(layer)))
      const { message } = expectFailure(exit, "UnsupportedTask", 4)
      assert.include(message, "no loadBalancers")
      assert.include(message, "TARGET_GROUP_ARNS")
    }))

  it.effect("EXTERNAL with no task sets: the service's own loadBalancers are not the task's groups, exit 4 as above", () =>
    Effect.gen(function*() {
      const { layer } = testLayer({
        ecs: { service: { deploymentController: "EXTERNAL", loadBalancers: [webLoadBalancer], taskSets: [] } }
      })
      const exit = yield* Effect.exit(discoverTargets.pipe(Effect.provide(layer)))
      const { message } = expectFailure(exit, "UnsupportedTask", 4)
      assert.include(message, "no loadBalancers")
      assert.include(message, "TARGET_GROUP_ARNS")
    }))

  it.effect("TARGET_CONTAINER_NAME picks among primaries and alternates alike", () =>
    Effect.gen(function*() {
      const admin = tgArn("admin", "2453ed029918f21f")
      const adminGreen = tgArn("admin-green", "8a7b6c5d4e3f2a1b")
      const lb = (targetGroupArn: string, alternateTargetGroupArn: string, containerName: string) => ({
        targetGroupArn,
        alternateTargetGroupArn,
        loadBalancerName: undefined,
        containerName,
        containerPort: 8080
      })
      const { layer } = testLayer({
        settings: { targetContainerName: "app" },
        task: awsvpcTask({
          Containers: [
            ...awsvpcTask().Containers,
            { Name: "admin", Type: "NORMAL", Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: ["10.0.2.106"] }] }
          ]
        }),
        ecs: {
          service: {
            deploymentController: "ECS",
            loadBalancers: [lb(blue, green, "app"), lb(admin, adminGreen, "admin")],
            taskSets: []
          }
        },
        elb: { timelines: {}, groups: [blue, green, admin, adminGreen].map(ipGroup) }
      })
      const discovery = yield* discoverTargets.pipe(Effect.provide(layer))
      assert.deepStrictEqual(discovery.targets.map((t) => [t.targetGroupArn, t.role]), [
        [blue, "primary"],
        [green, "alternate"]
      ])
    }))
})

const notRegistered: Step = { at: 0, state: "unused", reason: "Target.NotRegistered" }

/** The sidecar on a native blue/green service (host mode: the instance id and host port in both groups). */
const startBlueGreen = (
  timelines: Record<string, ReadonlyArray<Step>>,
  described?: TaskDescription,
  options: { readonly connections?: boolean; readonly protocols?: readonly [string, string] } = {}
) =>
  Effect.gen(function*() {
    const [blueProtocol, greenProtocol] = options.protocols ?? ["TCP", "TCP"]
    const world = testLayer({
      settings: {
        pollingFrequencySeconds: 30,
        deregistrationWaitSeconds: 120,
        ...(options.connections === true ? { drainStrategy: "connections" } : {})
      },
      ...(options.connections === true
        ? { connections: (ports) => Effect.succeed({ open: new Map(ports.map((p) => [p, 0])) }) }
        : {}),
      task: {
        ...awsvpcTask(),
        Containers: [
          { Name: "app", Networks: [{ NetworkMode: "host" }], Ports: [{ ContainerPort: 8080, HostPort: 8080 }] },
          { Name: "nlb-sidecar", Networks: [{ NetworkMode: "host" }] }
        ]
      },
      ecs: {
        service: {
          deploymentController: "ECS",
          loadBalancers: [{
            targetGroupArn: blue,
            alternateTargetGroupArn: green,
            loadBalancerName: undefined,
            containerName: "app",
            containerPort: 8080
          }],
          taskSets: []
        },
        task: described ?? {
          group: "service:web",
          containerInstanceArn: "arn:aws:ecs:us-east-1:111122223333:container-instance/default/1a2b",
          containers: [],
          desiredStatus: "RUNNING",
          lastStatus: "RUNNING"
        },
        ec2InstanceId: "i-0598c7d356eba48d7"
      },
      elb: { timelines, groups: [instanceGroup(blue, blueProtocol), instanceGroup(green, greenProtocol)] }
    })
    const fiber = yield* Effect.forkChild(sidecar.pipe(Effect.provide(world.layer)))
    return { fiber, ...world }
  })

describe("blue/green: the drain rules in both groups (TestClock)", () => {
  it.effect("registered only in the alternate group: the primary's 'not registered' never ends it; the drain in the alternate does", () =>
    Effect.gen(function*() {
      const { fiber, polls, logs } = yield* startBlueGreen({
        [blue]: [notRegistered],
        [green]: [{ at: 0, state: "healthy" }, { at: 100 * s, state: "draining" }]
      })
      yield* TestClock.setTime(99 * s)
      assert.isUndefined(fiber.pollUnsafe())
      assert.isFalse(logs.some((l) => l.message === "target reads as not registered: confirming with one more poll"))
      // One DescribeTargetHealth per group per poll: 0, 27, 54, 81 s.
      assert.deepStrictEqual(
        polls().map((c) => `${c.at / s} ${c.targetGroupArn === blue ? "blue" : "green"}`),
        ["0 blue", "0 green", "27 blue", "27 green", "54 blue", "54 green", "81 blue", "81 green"]
      )
      yield* TestClock.setTime(108 * s)
      assert.deepInclude(logs.find((l) => l.message === "target is deregistering"), { targetGroupArn: green })
      yield* TestClock.setTime(108 * s + 120 * s)
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.strictEqual(drained.targetGroupArn, green)
    }))

  it.effect("registered in the primary group: its drain there ends it, the alternate's 'not registered' aside", () =>
    Effect.gen(function*() {
      const { fiber } = yield* startBlueGreen({
        [blue]: [{ at: 0, state: "healthy" }, { at: 100 * s, state: "draining" }],
        [green]: [notRegistered]
      })
      yield* TestClock.setTime(108 * s + 120 * s - 1)
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.setTime(108 * s + 120 * s)
      assert.strictEqual(expectFailure(fiber.pollUnsafe(), "Drained", 0).targetGroupArn, blue)
    }))

  it.effect("DRAIN_STRATEGY=connections: the wait leaves out the group the task is not registered in (its floor, its port)", () =>
    Effect.gen(function*() {
      // The task in the HTTP (ALB) primary; the TCP (NLB) alternate's 120 s floor is not its.
      const { fiber, logs } = yield* startBlueGreen(
        {
          [blue]: [{ at: 0, state: "healthy" }, { at: 100 * s, state: "draining" }],
          [green]: [notRegistered]
        },
        undefined,
        { connections: true, protocols: ["HTTP", "TCP"] }
      )
      yield* TestClock.setTime(108 * s + 5 * s)
      const drained = expectFailure(fiber.pollUnsafe(), "Drained", 0)
      assert.strictEqual(drained.targetGroupArn, blue)
      assert.include(drained.message, "connections drained after 5 s")
      assert.deepInclude(logs.find((l) => l.message === "waiting for connections to close"), { floorSeconds: 0 })
    }))

  it.effect("host mode across the swap: the blue task's drain at this instance:port in the primary is an earlier task's; the own drain in the alternate ends it", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* startBlueGreen({
        [blue]: [{ at: 0, state: "draining" }, { at: 150 * s, state: "unused", reason: "Target.NotRegistered" }],
        [green]: [notRegistered, { at: 20 * s, state: "initial" }, { at: 40 * s, state: "healthy" }, {
          at: 300 * s,
          state: "draining"
        }]
      })
      yield* TestClock.setTime(299 * s)
      assert.isUndefined(fiber.pollUnsafe(), "the blue task's drain never ends the green one")
      const earlier = logs.filter((l) => l.message === "target still draining from an earlier task")
      assert.deepStrictEqual(earlier.map((l) => [l.targetGroupArn, l.evidence]), [[
        blue,
        "ECS says this task is running"
      ]])
      assert.isFalse(logs.some((l) => l.message === "target is deregistering"))
      // The own drain is seen at the 324 s poll (12 × 27 s).
      yield* TestClock.setTime(324 * s + 120 * s)
      assert.strictEqual(expectFailure(fiber.pollUnsafe(), "Drained", 0).targetGroupArn, green)
    }))

  it.effect("a stale 'not registered' in the group the task is in is confirmed before it counts, as in any group", () =>
    Effect.gen(function*() {
      const { fiber, logs } = yield* startBlueGreen({
        [blue]: [notRegistered],
        [green]: [{ at: 0, state: "healthy" }, { ...notRegistered, at: 50 * s }, { at: 55 * s, state: "healthy" }]
      })
      yield* TestClock.setTime(400 * s)
      assert.isUndefined(fiber.pollUnsafe())
      assert.deepInclude(
        logs.find((l) => l.message === "target reads as not registered: confirming with one more poll"),
        {
          targetGroupArn: green
        }
      )
    }))
})
