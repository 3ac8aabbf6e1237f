// Mock layers for unit tests: AWS answers scripted against virtual time.
import { isThrottlingError } from "@smithy/core/retry"
import { Clock, Duration, Effect, Layer, Random } from "effect"
import { noteCall } from "../../src/aws/callAws.ts"
import type { TargetGroup, TargetObservation, WatchedTarget } from "../../src/domain.ts"
import { AwsCallFailed } from "../../src/errors.ts"
import { Config, type Settings } from "../../src/layers/Config.ts"
import { connectionsTest } from "../../src/layers/Connections.ts"
import { DrainStrategy } from "../../src/layers/DrainStrategy.ts"
import { Ecs, type ServiceDescription, type ServiceLoadBalancer, type TaskDescription } from "../../src/layers/Ecs.ts"
import { Metadata, type TaskMetadata } from "../../src/layers/Metadata.ts"
import * as Metrics from "../../src/layers/Metrics.ts"
import { Startup } from "../../src/layers/Startup.ts"
import { type RegisteredTarget, TargetHealth } from "../../src/layers/TargetHealth.ts"
import type { EmfRecord } from "../../src/metrics/emf.ts"
import { captureLogs } from "./logs.ts"
import { partialService } from "./partialService.ts"

/** What a target group answers from virtual time `at` (ms) on, until the next step. */
export type Step =
  | { readonly at: number; readonly state: string; readonly reason?: string }
  | { readonly at: number; readonly error: string; readonly retryable?: boolean }

export interface Call {
  readonly at: number
  readonly action: string
  readonly targetGroupArn?: string
}

/** An AWS failure as `callAws` makes it; throttling judged by the SDK's own rule, as there. */
export const awsError = (action: string, code: string, retryable: boolean) =>
  new AwsCallFailed({
    action,
    code,
    detail: `${code} (mock)`,
    retryable,
    ...(isThrottlingError({ name: code, $metadata: {} } as Parameters<typeof isThrottlingError>[0])
      ? { throttled: true }
      : {}),
    requestId: "mock-request-id"
  })

/** A TargetHealth whose answers follow per-group timelines; every call is recorded in `calls`. */
export const scriptedTargetHealth = (options: {
  readonly timelines: Record<string, ReadonlyArray<Step>>
  readonly groups?: ReadonlyArray<TargetGroup>
  readonly calls: Array<Call>
  /** Unfiltered DescribeTargetHealth answers per group, from virtual time `at` on. */
  readonly registered?: Record<
    string,
    ReadonlyArray<{ readonly at: number; readonly targets: ReadonlyArray<RegisteredTarget> }>
  >
  /**
   * DescribeTargetGroupAttributes' deregistration_delay.timeout_seconds per group (absent: `undefined`),
   * or an error code to fail with; 300 (ELBv2's default) for a group not named.
   */
  readonly deregistrationDelay?: Record<
    string,
    { readonly seconds: number | undefined } | { readonly error: string; readonly retryable?: boolean }
  >
}) => {
  const answerAt = (arn: string, now: number): Step | undefined =>
    (options.timelines[arn] ?? []).filter((s) => s.at <= now).at(-1)

  return TargetHealth.layerTest(partialService(TargetHealth, {
    describeTargetGroups: (arns) =>
      Clock.currentTimeMillis.pipe(
        Effect.map((at) => {
          options.calls.push({ at, action: "DescribeTargetGroups" })
          return (options.groups ?? []).filter((g) => arns.includes(g.arn))
        }),
        noteCall("elasticloadbalancing:DescribeTargetGroups")
      ),
    poll: (targetGroupArn: string, targets: ReadonlyArray<WatchedTarget>) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        options.calls.push({ at, action: "DescribeTargetHealth", targetGroupArn })
        const step = answerAt(targetGroupArn, at)
        if (step === undefined) return []
        if ("error" in step) {
          if (step.error === "InvalidTarget") {
            return targets.map((target): TargetObservation => ({ target, state: "not-found", reason: "InvalidTarget" }))
          }
          return yield* awsError("elasticloadbalancing:DescribeTargetHealth", step.error, step.retryable ?? true)
        }
        return targets.map((target): TargetObservation => ({ target, state: step.state, reason: step.reason }))
      }).pipe(noteCall("elasticloadbalancing:DescribeTargetHealth")),
    listTargets: (targetGroupArn: string) =>
      Clock.currentTimeMillis.pipe(
        Effect.map((at) => {
          options.calls.push({ at, action: "DescribeTargetHealth", targetGroupArn })
          return (options.registered?.[targetGroupArn] ?? []).filter((r) => r.at <= at).at(-1)?.targets ?? []
        }),
        noteCall("elasticloadbalancing:DescribeTargetHealth")
      ),
    describeDeregistrationDelay: (targetGroupArn: string) =>
      Effect.gen(function*() {
        options.calls.push({
          at: yield* Clock.currentTimeMillis,
          action: "DescribeTargetGroupAttributes",
          targetGroupArn
        })
        const answer = options.deregistrationDelay?.[targetGroupArn] ?? { seconds: 300 }
        return "error" in answer
          ? yield* awsError(
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            answer.error,
            answer.retryable ?? false
          )
          : answer.seconds
      }).pipe(noteCall("elasticloadbalancing:DescribeTargetGroupAttributes"))
  }))
}

/** A service of the ECS deployment controller with these load balancers. */
export const ecsService = (loadBalancers: ReadonlyArray<ServiceLoadBalancer>): ServiceDescription => ({
  deploymentController: "ECS",
  loadBalancers,
  taskSets: []
})

export const ecsTest = (options: {
  /** What DescribeTasks says of the task, or says by virtual time. */
  readonly task?: TaskDescription | undefined | ((atMillis: number) => TaskDescription | undefined)
  /** The service's load balancers under the ECS controller (a shorthand for `service`). */
  readonly loadBalancers?: ReadonlyArray<ServiceLoadBalancer> | undefined
  /** The whole service: blue/green alternates, CODE_DEPLOY and EXTERNAL task sets. */
  readonly service?: ServiceDescription
  readonly ec2InstanceId?: string
  /** How long DescribeTasks takes to answer, by virtual time (ms) of the call. */
  readonly describeTaskTakesMillis?: (atMillis: number) => number
  readonly failWith?: Partial<
    Record<"DescribeTasks" | "DescribeServices" | "DescribeContainerInstances", AwsCallFailed>
  >
  readonly calls?: Array<Call>
}) => {
  const record = (action: string) =>
    Clock.currentTimeMillis.pipe(Effect.map((at) => options.calls?.push({ at, action })))
  const answer = <A>(action: "DescribeTasks" | "DescribeServices" | "DescribeContainerInstances", value: A) =>
    record(action).pipe(
      Effect.andThen(() => {
        const failure = options.failWith?.[action]
        return failure === undefined ? Effect.succeed(value) : Effect.fail(failure)
      }),
      noteCall(`ecs:${action}`)
    )
  return Ecs.layerTest(partialService(Ecs, {
    describeTask: () =>
      Clock.currentTimeMillis.pipe(
        Effect.tap((at) => Effect.sleep(Duration.millis(options.describeTaskTakesMillis?.(at) ?? 0))),
        Effect.flatMap((at) =>
          answer("DescribeTasks", typeof options.task === "function" ? options.task(at) : options.task)
        )
      ),
    describeService: () =>
      answer(
        "DescribeServices",
        options.service ?? (options.loadBalancers === undefined ? undefined : ecsService(options.loadBalancers))
      ),
    describeEc2InstanceId: () => answer("DescribeContainerInstances", options.ec2InstanceId)
  }))
}

export const metadataTest = (task: TaskMetadata) => Metadata.layerTest(Effect.succeed(task))

/** Random pinned to one value: makes jitter deterministic (0 → first poll at t=0, intervals −10%). */
export const fixedRandom = (value: number) =>
  Layer.succeed(Random.Random, {
    nextDoubleUnsafe: () => value,
    nextIntUnsafe: () => Math.floor(value * Number.MAX_SAFE_INTEGER)
  })

/** The settings, and STARTUP_TIMEOUT counted from virtual time 0. */
export const configTest = (overrides: Partial<Settings> = {}) =>
  Startup.layerTest.pipe(Layer.provideMerge(Config.layerTest(overrides)))

export const tgArn = (name: string, id = "0123456789abcdef") =>
  `arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/${name}/${id}`

export const awsvpcTask = (overrides: Partial<TaskMetadata> = {}): TaskMetadata => ({
  Cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/default",
  TaskARN: "arn:aws:ecs:us-east-1:111122223333:task/default/febee046097849aba589d4435207c04a",
  Family: "web",
  Revision: "3",
  ServiceName: "web",
  Containers: [
    {
      Name: "~internal~ecs~pause",
      Type: "CNI_PAUSE",
      Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: ["10.0.2.106"] }]
    },
    { Name: "app", Type: "NORMAL", Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: ["10.0.2.106"] }] },
    { Name: "nlb-sidecar", Type: "NORMAL", Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: ["10.0.2.106"] }] }
  ],
  ...overrides
})

export const ipGroup = (arn: string): TargetGroup => ({ arn, targetType: "ip", protocol: "TCP", ipAddressType: "ipv4" })
export const instanceGroup = (arn: string, protocol = "TCP"): TargetGroup => ({
  arn,
  targetType: "instance",
  protocol,
  ipAddressType: "ipv4"
})

export const webGroup = tgArn("web")
export const webLoadBalancer: ServiceLoadBalancer = {
  targetGroupArn: webGroup,
  loadBalancerName: undefined,
  containerName: "app",
  containerPort: 8080
}

/**
 * Everything the programs need, scripted on virtual time: settings (with
 * STARTUP_TIMEOUT from time 0), the task's metadata, ECS, ELBv2 (scripted, or a
 * layer of the test's own), the socket table, Random pinned, and the logs
 * captured. `calls` records every AWS call, `logs` every line.
 */
export const testLayer = (options: {
  readonly settings?: Partial<Settings>
  readonly task?: TaskMetadata
  readonly ecs?: Omit<Parameters<typeof ecsTest>[0], "calls">
  /** Instead of `ecs`: a layer of the test's own. */
  readonly ecsLayer?: Layer.Layer<Ecs>
  readonly elb?: Omit<Parameters<typeof scriptedTargetHealth>[0], "calls">
  /** Instead of `elb`: a layer of the test's own. */
  readonly elbLayer?: Layer.Layer<TargetHealth>
  readonly connections?: Parameters<typeof connectionsTest>[0]
  /** Collects the EMF records the program writes (otherwise metrics are off). */
  readonly metrics?: Array<EmfRecord>
  readonly random?: number
} = {}) => {
  const calls: Array<Call> = []
  const logs = captureLogs()
  const elb = options.elbLayer ??
    scriptedTargetHealth({ timelines: {}, groups: [ipGroup(webGroup)], ...options.elb, calls })
  // DRAIN_STRATEGY is pinned to `fixed` unless a test is about it: `auto` would read this machine's sockets.
  const layer = Layer.mergeAll(
    DrainStrategy.layer.pipe(Layer.provideMerge(configTest({ drainStrategy: "fixed", ...options.settings }))),
    metadataTest(options.task ?? awsvpcTask()),
    options.ecsLayer ?? ecsTest({ loadBalancers: [webLoadBalancer], ...options.ecs, calls }),
    elb,
    fixedRandom(options.random ?? 0),
    logs.layer,
    ...(options.connections === undefined ? [] : [connectionsTest(options.connections)]),
    ...(options.metrics === undefined ? [] : [Metrics.layerTest(options.metrics)])
  )
  return { layer, calls, logs: logs.records, polls: () => calls.filter((c) => c.action === "DescribeTargetHealth") }
}
