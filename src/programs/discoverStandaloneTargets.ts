// TARGET_GROUP_ARNS: no ECS service to ask, so work out how to recognise this
// task's registration in each named group; the poll loop finds it there.
import { Effect } from "effect"
import type { TargetGroup, TargetSearch } from "../domain.ts"
import { Config } from "../layers/Config.ts"
import { Ecs } from "../layers/Ecs.ts"
import { type ContainerMetadata, Metadata } from "../layers/Metadata.ts"
import { retryTransient } from "../layers/Startup.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { type DiscoveryProgram, networkModeOf, unsupported } from "./discoverTargets.ts"
import { unknownBecause } from "./stopReport.ts"

export const discoverStandaloneTargets: DiscoveryProgram = Effect.gen(function*() {
  const settings = yield* Config
  const task = yield* (yield* Metadata).task
  const ecs = yield* Ecs

  const named = settings.targetContainerName
  const containers = task.Containers.filter((c) => c.Type !== "CNI_PAUSE" && (named === undefined || c.Name === named))
  const container: ContainerMetadata | undefined = containers.find((c) => c.Networks?.length)
  if (container === undefined) {
    return yield* unsupported(
      named === undefined
        ? "the task metadata lists no container with a network"
        : `TARGET_CONTAINER_NAME=${named} names no container of this task with a network`,
      "Set TARGET_CONTAINER_NAME to the container the load balancer sends traffic to."
    )
  }
  const mode = networkModeOf(container) ?? ""

  // Which registrations are this task's: its IPs (awsvpc), or its instance and host ports.
  let isOurs: (id: string, port: number) => boolean
  if (mode === "awsvpc") {
    const ips = new Set(
      containers.flatMap((c) =>
        c.Networks?.flatMap((n) => [...(n.IPv4Addresses ?? []), ...(n.IPv6Addresses ?? [])]) ?? []
      )
    )
    isOurs = (id) => ips.has(id)
  } else if (mode === "bridge" || mode === "host") {
    const described = yield* ecs.describeTask(task.Cluster, task.TaskARN).pipe(retryTransient("ecs:DescribeTasks"))
    const instanceArn = described?.containerInstanceArn
    const instanceId = instanceArn === undefined
      ? undefined
      : yield* ecs.describeEc2InstanceId(task.Cluster, instanceArn).pipe(
        retryTransient("ecs:DescribeContainerInstances")
      )
    if (instanceId === undefined) {
      return yield* unsupported(
        `ECS reports no EC2 instance for task ${task.TaskARN}`,
        `${mode} networking needs an EC2 launch type task.`
      )
    }
    const ports = new Set([
      ...containers.flatMap((c) => c.Ports?.map((p) => p.HostPort ?? (mode === "host" ? p.ContainerPort : -1)) ?? []),
      ...(described?.containers ?? []).flatMap((c) => c.networkBindings.map((b) => b.hostPort))
    ])
    isOurs = (id, port) => id === instanceId && ports.has(port)
  } else {
    return yield* unsupported(
      `container ${container.Name} uses network mode ${mode || "(none)"}, which a load balancer cannot reach`,
      "Use awsvpc, bridge or host networking."
    )
  }

  // Something else registers the task (a script, a controller), maybe later: the
  // poll loop lists each group until it finds the task there.
  const searches = settings.targetGroupArns.map((arn): TargetSearch => ({
    targetGroupArn: arn,
    containerName: container.Name,
    isOurs
  }))

  // Each group's protocol (an ALB group has no 120 s floor under DRAIN_STRATEGY=connections), where the
  // optional elasticloadbalancing:DescribeTargetGroups is granted; unknown, the NLB's floor holds, to be safe.
  const described = yield* (yield* TargetHealth).describeTargetGroups(settings.targetGroupArns).pipe(
    retryTransient("elasticloadbalancing:DescribeTargetGroups"),
    Effect.catch((error) =>
      unknownBecause(error, "the target groups' protocol (an ALB group then waits the NLB's floor)").pipe(
        Effect.as([] as ReadonlyArray<TargetGroup>)
      )
    )
  )
  const targetGroups = settings.targetGroupArns.map((arn): TargetGroup =>
    described.find((g) => g.arn === arn) ?? {
      arn,
      targetType: mode === "awsvpc" ? "ip" : "instance",
      protocol: undefined,
      ipAddressType: undefined
    }
  )
  return {
    cluster: task.Cluster,
    taskArn: task.TaskARN,
    serviceName: task.ServiceName,
    networkMode: mode,
    targetGroups,
    targets: [],
    searches
  }
}).pipe(Effect.withSpan("discoverStandaloneTargets"))
