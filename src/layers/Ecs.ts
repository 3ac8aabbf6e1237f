// The ECS API, used only during discovery: which service this task belongs
// to, its load balancers (and their blue/green alternates, or its task sets'),
// and (bridge/host) the EC2 instance it runs on.
import type { ECSClient, LoadBalancer, Service } from "@aws-sdk/client-ecs"
import { Context, Effect, Layer } from "effect"
import { callAws, sdkClientConfig } from "../aws/callAws.ts"
import type { AwsCallFailed } from "../errors.ts"
import { AwsCredentials } from "./AwsCredentials.ts"
import { AwsRegion } from "./AwsRegion.ts"

export interface TaskDescription {
  /** `service:NAME` for a service's task, `family:NAME` for a standalone one. */
  readonly group: string | undefined
  /** `STOPPED` from the moment ECS decides to stop the task (while it deregisters: lastStatus `DEACTIVATING`). */
  readonly desiredStatus?: string | undefined
  readonly lastStatus?: string | undefined
  /** Why ECS stops it: `stopCode` (`ServiceSchedulerInitiated`…) and `stoppedReason` ("Scaling activity initiated by…"). */
  readonly stopCode?: string | undefined
  readonly stoppedReason?: string | undefined
  /** When ECS started stopping the task (epoch ms): its targets' deregistration starts then. */
  readonly stoppingAt?: number | undefined
  /** The service's deployment (or, under CODE_DEPLOY and EXTERNAL, the task set id) that started it. */
  readonly startedBy?: string | undefined
  readonly containerInstanceArn: string | undefined
  readonly containers: ReadonlyArray<{
    readonly name: string
    readonly networkBindings: ReadonlyArray<
      { readonly containerPort: number; readonly hostPort: number; readonly protocol: string }
    >
  }>
}

export interface ServiceLoadBalancer {
  readonly targetGroupArn: string | undefined
  readonly loadBalancerName: string | undefined
  readonly containerName: string | undefined
  readonly containerPort: number | undefined
  /**
   * Blue/green, canary and linear deployments of the ECS controller:
   * `advancedConfiguration.alternateTargetGroupArn`, where each deployment
   * registers the new revision's tasks.
   */
  readonly alternateTargetGroupArn?: string | undefined
}

/** A task set of a CODE_DEPLOY or EXTERNAL service: its tasks are registered in its own load balancers' groups. */
export interface TaskSetDescription {
  /** `ecs-svc/…`: what its tasks' `startedBy` says. */
  readonly id: string
  readonly taskSetArn: string
  /** PRIMARY (serving production traffic), ACTIVE, DRAINING. */
  readonly status: string
  readonly loadBalancers: ReadonlyArray<ServiceLoadBalancer>
}

export interface ServiceDescription {
  /** `ECS` (rolling, blue/green, canary, linear), `CODE_DEPLOY` or `EXTERNAL`. */
  readonly deploymentController: string
  readonly loadBalancers: ReadonlyArray<ServiceLoadBalancer>
  /** Empty under the ECS controller. */
  readonly taskSets: ReadonlyArray<TaskSetDescription>
  /** How many tasks the service runs (for `check`'s share of the account's API budget). */
  readonly desiredCount?: number | undefined
}

const loadBalancerOf = (lb: LoadBalancer): ServiceLoadBalancer => ({
  targetGroupArn: lb.targetGroupArn,
  loadBalancerName: lb.loadBalancerName,
  containerName: lb.containerName,
  containerPort: lb.containerPort,
  alternateTargetGroupArn: lb.advancedConfiguration?.alternateTargetGroupArn
})

/** DescribeServices' `services[0]` as discovery needs it. */
export const serviceDescriptionOf = (service: Service): ServiceDescription => ({
  deploymentController: service.deploymentController?.type ?? "ECS",
  ...(service.desiredCount === undefined ? {} : { desiredCount: service.desiredCount }),
  loadBalancers: (service.loadBalancers ?? []).map(loadBalancerOf),
  taskSets: (service.taskSets ?? []).map((ts) => ({
    id: ts.id ?? "",
    taskSetArn: ts.taskSetArn ?? "",
    status: ts.status ?? "",
    loadBalancers: (ts.loadBalancers ?? []).map(loadBalancerOf)
  }))
})

export class Ecs extends Context.Service<Ecs, {
  /** `undefined` when ECS does not know the task (DescribeTasks `failures`). */
  readonly describeTask: (cluster: string, taskArn: string) => Effect.Effect<TaskDescription | undefined, AwsCallFailed>
  /** `undefined` when ECS does not know the service. One DescribeServices: it lists the task sets too. */
  readonly describeService: (
    cluster: string,
    service: string
  ) => Effect.Effect<ServiceDescription | undefined, AwsCallFailed>
  readonly describeEc2InstanceId: (
    cluster: string,
    containerInstanceArn: string
  ) => Effect.Effect<string | undefined, AwsCallFailed>
}>()("nlb-sidecar/Ecs") {
  /** Needs AwsRegion and AwsCredentials: tests give it fixed ones. */
  static readonly layerNoDeps = Layer.effect(
    Ecs,
    Effect.gen(function*() {
      const { region } = yield* AwsRegion
      const { provider } = yield* AwsCredentials
      // Loaded on first use: a task that never needs ECS never pays for the client.
      let client: Promise<{ client: ECSClient; sdk: typeof import("../aws/ecsCommands.ts") }> | undefined
      const sdk = () =>
        client ??= import("../aws/ecsCommands.ts").then((sdk) => ({
          sdk,
          client: new sdk.ECSClient(sdkClientConfig(region, provider))
        }))
      yield* Effect.addFinalizer(() => Effect.promise(async () => client && (await client).client.destroy()))

      const describeTask = Effect.fn("Ecs.describeTask")((cluster: string, taskArn: string) =>
        callAws("ecs:DescribeTasks", async (abortSignal) => {
          const { client, sdk: { DescribeTasksCommand } } = await sdk()
          return client.send(new DescribeTasksCommand({ cluster, tasks: [taskArn] }), { abortSignal })
        }).pipe(Effect.map((out): TaskDescription | undefined => {
          const task = out.tasks?.[0]
          return task === undefined ? undefined : {
            group: task.group,
            desiredStatus: task.desiredStatus,
            lastStatus: task.lastStatus,
            stopCode: task.stopCode,
            stoppedReason: task.stoppedReason,
            stoppingAt: task.stoppingAt?.getTime(),
            startedBy: task.startedBy,
            containerInstanceArn: task.containerInstanceArn,
            containers: (task.containers ?? []).map((c) => ({
              name: c.name ?? "",
              networkBindings: (c.networkBindings ?? []).map((b) => ({
                containerPort: b.containerPort ?? 0,
                hostPort: b.hostPort ?? 0,
                protocol: b.protocol ?? "tcp"
              }))
            }))
          }
        }))
      )

      const describeService = Effect.fn("Ecs.describeService")((
        cluster: string,
        service: string
      ) =>
        callAws("ecs:DescribeServices", async (abortSignal) => {
          const { client, sdk: { DescribeServicesCommand } } = await sdk()
          return client.send(new DescribeServicesCommand({ cluster, services: [service] }), { abortSignal })
        }).pipe(Effect.map((out) => {
          const found = out.services?.[0]
          return found === undefined ? undefined : serviceDescriptionOf(found)
        }))
      )

      const describeEc2InstanceId = Effect.fn("Ecs.describeEc2InstanceId")((
        cluster: string,
        containerInstanceArn: string
      ) =>
        callAws("ecs:DescribeContainerInstances", async (abortSignal) => {
          const { client, sdk: { DescribeContainerInstancesCommand } } = await sdk()
          return client.send(
            new DescribeContainerInstancesCommand({ cluster, containerInstances: [containerInstanceArn] }),
            { abortSignal }
          )
        }).pipe(Effect.map((out) => out.containerInstances?.[0]?.ec2InstanceId))
      )

      return Ecs.of({ describeTask, describeService, describeEc2InstanceId })
    })
  )

  /** The live client, in the region and with the credentials the task has (one credentials fetch shared by every client). */
  static readonly layer = Ecs.layerNoDeps.pipe(Layer.provide([AwsRegion.layer, AwsCredentials.layer]))

  /** A test's own implementation (test/support/partialService.ts lets it implement only the methods it needs). */
  static readonly layerTest = (service: Ecs["Service"]) => Layer.succeed(Ecs, Ecs.of(service))
}
