// Once at startup: from the task metadata and the ECS service to the exact
// `{Id, Port}` this task has in each of its target groups.
import { Effect } from "effect"
import type { GroupRole, TargetGroup, TargetSearch, WatchedTarget } from "../domain.ts"
import { type AwsCallFailed, type MetadataUnavailable, UnsupportedTask } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import { Ecs, type ServiceDescription, type ServiceLoadBalancer, type TaskDescription } from "../layers/Ecs.ts"
import { type ContainerMetadata, Metadata, type TaskMetadata } from "../layers/Metadata.ts"
import { retryTransient, type Startup } from "../layers/Startup.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"

export interface Discovery {
  readonly cluster: string
  readonly taskArn: string
  readonly serviceName: string | undefined
  /** `ECS`, `CODE_DEPLOY` or `EXTERNAL`; absent with TARGET_GROUP_ARNS. */
  readonly deploymentController?: string
  /** CODE_DEPLOY and EXTERNAL: the id of this task's task set, when the service lists it. */
  readonly taskSet?: string
  readonly networkMode: string
  readonly targetGroups: ReadonlyArray<TargetGroup>
  readonly targets: ReadonlyArray<WatchedTarget>
  /** TARGET_GROUP_ARNS: groups where the poll loop still has to find this task's target. */
  readonly searches: ReadonlyArray<TargetSearch>
}

export const unsupported = (problem: string, fix: string) => Effect.fail(new UnsupportedTask({ problem, fix }))

/** What a discovery program needs and how it can fail, whichever way it finds the targets. */
export type DiscoveryProgram = Effect.Effect<
  Discovery,
  UnsupportedTask | AwsCallFailed | MetadataUnavailable,
  Config | Metadata | Ecs | TargetHealth | Startup
>

export const networkModeOf = (container: ContainerMetadata): string | undefined => container.Networks?.[0]?.NetworkMode

/** Target group protocol → the port mapping protocol that carries it. */
const portProtocols = (targetGroupProtocol: string | undefined): ReadonlyArray<string> =>
  targetGroupProtocol === "UDP" ? ["udp"] : targetGroupProtocol === "TCP_UDP" ? ["tcp", "udp"] : ["tcp"]

const hostPortFromMetadata = (container: ContainerMetadata, containerPort: number, protocols: ReadonlyArray<string>) =>
  container.Ports?.find((p) =>
    p.ContainerPort === containerPort && protocols.includes((p.Protocol ?? "tcp").toLowerCase()) &&
    p.HostPort !== undefined
  )?.HostPort

/** Agents before 1.41.1 leave dynamic host ports out of the metadata; ECS still knows them. */
const hostPortFromEcs = (
  task: TaskDescription,
  containerName: string,
  containerPort: number,
  protocols: ReadonlyArray<string>
) =>
  task.containers.find((c) => c.name === containerName)?.networkBindings.find((b) =>
    b.containerPort === containerPort && protocols.includes(b.protocol.toLowerCase()) && b.hostPort > 0
  )?.hostPort

/** One target group to watch for one container port, and why. */
interface GroupEntry {
  readonly targetGroupArn: string
  readonly containerName: string | undefined
  readonly containerPort: number | undefined
  readonly role: GroupRole
}

const entryOf = (lb: ServiceLoadBalancer, targetGroupArn: string | undefined, role: GroupRole) =>
  targetGroupArn === undefined || targetGroupArn === ""
    ? []
    : [{ targetGroupArn, containerName: lb.containerName, containerPort: lb.containerPort, role }]

/**
 * The groups this task can be registered in. The ECS controller: each load
 * balancer's group and its blue/green alternate, if any (the task is in one of
 * them, which one changing with every deployment). CODE_DEPLOY and EXTERNAL:
 * the groups of the task's own task set, which its `startedBy` names; if the
 * service does not list that task set, every task set's groups.
 */
const groupEntries = Effect.fnUntraced(function*(
  service: ServiceDescription,
  describeTask: Effect.Effect<TaskDescription, UnsupportedTask | AwsCallFailed, Startup>
) {
  // The ECS controller names its groups on the service (primary and blue/green alternate);
  // CODE_DEPLOY and EXTERNAL on the task sets, and with none yet the task is in no group.
  if (service.deploymentController === "ECS") {
    return {
      entries: service.loadBalancers.flatMap((lb): ReadonlyArray<GroupEntry> => [
        ...entryOf(lb, lb.targetGroupArn, "primary"),
        ...(lb.alternateTargetGroupArn === lb.targetGroupArn
          ? []
          : entryOf(lb, lb.alternateTargetGroupArn, "alternate"))
      ]),
      taskSet: undefined
    }
  }
  if (service.taskSets.length === 0) return { entries: [], taskSet: undefined }
  const { startedBy } = yield* describeTask
  const own = service.taskSets.find((ts) => ts.id === startedBy || ts.taskSetArn === startedBy)
  if (own === undefined) {
    yield* Effect.logWarning("this task's task set is not among the service's: watching every task set's groups")
      .pipe(Effect.annotateLogs({ startedBy: startedBy ?? null, taskSets: service.taskSets.map((ts) => ts.id) }))
  }
  return {
    entries: (own === undefined ? service.taskSets : [own]).flatMap((ts) =>
      ts.loadBalancers.flatMap((lb): ReadonlyArray<GroupEntry> => entryOf(lb, lb.targetGroupArn, "task set"))
    ),
    taskSet: own?.id
  }
})

export const discoverTargets: DiscoveryProgram = Effect.gen(function*() {
  const settings = yield* Config
  const task = yield* (yield* Metadata).task
  const ecs = yield* Ecs
  const elb = yield* TargetHealth

  // DescribeTasks is only needed for some paths; asked at most once.
  const describeTask = yield* Effect.cached(
    ecs.describeTask(task.Cluster, task.TaskARN).pipe(
      retryTransient("ecs:DescribeTasks"),
      Effect.filterOrFail(
        (found): found is TaskDescription => found !== undefined,
        () =>
          new UnsupportedTask({
            problem: `ECS does not know task ${task.TaskARN} in cluster ${task.Cluster}`,
            fix: "Check that the task is still running and that AWS_REGION matches the cluster's region."
          })
      )
    )
  )

  const serviceName = task.ServiceName ?? (yield* describeTask).group?.match(/^service:(.+)$/)?.[1]
  if (serviceName === undefined) {
    return yield* unsupported(
      `task ${task.TaskARN} is not part of an ECS service (started as a standalone task)`,
      "Run the task as a service with a load balancer, or set TARGET_GROUP_ARNS to watch target groups directly."
    )
  }

  const service = yield* ecs.describeService(task.Cluster, serviceName).pipe(
    retryTransient("ecs:DescribeServices")
  )
  if (service === undefined) {
    return yield* unsupported(
      `ECS does not know service ${serviceName} in cluster ${task.Cluster}`,
      "Check the cluster and region (AWS_REGION), and that the service still exists."
    )
  }
  const { entries: all, taskSet } = yield* groupEntries(service, describeTask)
  if (all.length === 0) {
    const lbs = service.deploymentController === "ECS"
      ? service.loadBalancers
      : service.taskSets.flatMap((ts) => ts.loadBalancers)
    return yield* unsupported(
      `service ${serviceName} has no target groups (${
        lbs.length === 0 ? "no loadBalancers" : "only Classic Load Balancers"
      })`,
      service.deploymentController === "EXTERNAL"
        ? "Create the service's task sets with loadBalancers[].targetGroupArn (CreateTaskSet), or set TARGET_GROUP_ARNS to the target groups your deployment controller registers this task in."
        : "Attach the service to a Network or Application Load Balancer target group (loadBalancers[].targetGroupArn), or remove the sidecar from this task definition."
    )
  }

  let entries = all
  const wanted = settings.targetContainerName
  if (wanted !== undefined) {
    if (!task.Containers.some((c) => c.Name === wanted)) {
      return yield* unsupported(
        `TARGET_CONTAINER_NAME=${wanted} names no container of this task (it has: ${
          task.Containers.map((c) => c.Name).join(", ")
        })`,
        "Set TARGET_CONTAINER_NAME to the name of the container the load balancer sends traffic to."
      )
    }
    entries = entries.filter((lb) => lb.containerName === wanted)
    if (entries.length === 0) {
      return yield* unsupported(
        `no load balancer of service ${serviceName} names container ${wanted} (they name: ${
          [...new Set(all.map((lb) => lb.containerName))].join(", ")
        })`,
        "Set TARGET_CONTAINER_NAME to a container listed in the service's loadBalancers, or leave it unset to watch them all."
      )
    }
  }

  const arns = [...new Set(entries.map((lb) => lb.targetGroupArn))]
  const targetGroups = yield* elb.describeTargetGroups(arns).pipe(
    retryTransient("elasticloadbalancing:DescribeTargetGroups")
  )

  let networkMode = ""
  const targets: Array<WatchedTarget> = []
  for (const lb of entries) {
    const containerName = lb.containerName ?? ""
    const containerPort = lb.containerPort ?? 0
    const group = targetGroups.find((g) => g.arn === lb.targetGroupArn)
    if (group === undefined) {
      return yield* unsupported(
        `target group ${lb.targetGroupArn} of service ${serviceName} (${lb.role}) was not found`,
        "Check that the target group still exists in this region."
      )
    }
    const container = task.Containers.find((c) => c.Name === containerName)
    if (container === undefined) {
      return yield* unsupported(
        `the service's load balancer names container ${containerName}, which this task does not have`,
        "Make the task definition's container names match the service's loadBalancers[].containerName."
      )
    }
    const mode = networkModeOf(container)
    const target = yield* targetFor({ task, group, container, containerPort, mode, describeTask, ecs })
    networkMode = mode ?? ""
    if (!targets.some((t) => t.targetGroupArn === group.arn && t.id === target.id && t.port === target.port)) {
      targets.push({ targetGroupArn: group.arn, containerName, containerPort, ...target, role: lb.role })
    }
  }

  return {
    cluster: task.Cluster,
    taskArn: task.TaskARN,
    serviceName,
    deploymentController: service.deploymentController,
    ...(taskSet === undefined ? {} : { taskSet }),
    networkMode,
    targetGroups,
    targets,
    searches: []
  }
}).pipe(Effect.withSpan("discoverTargets"))

interface TargetInput {
  readonly task: TaskMetadata
  readonly group: TargetGroup
  readonly container: ContainerMetadata
  readonly containerPort: number
  readonly mode: string | undefined
  readonly describeTask: Effect.Effect<TaskDescription, UnsupportedTask | AwsCallFailed, Startup>
  readonly ecs: Ecs["Service"]
}

/** How ECS registered this container in this group, per network mode. */
const targetFor = Effect.fnUntraced(function*(input: TargetInput) {
  const { task, group, container, containerPort, mode } = input
  const expectType = (wanted: string, why: string) =>
    group.targetType === wanted ? Effect.void : unsupported(
      `target group ${group.arn} has target type ${group.targetType}, but container ${container.Name} uses ${mode} networking`,
      why
    )

  if (mode === "awsvpc") {
    yield* expectType("ip", "awsvpc tasks are registered by IP address: use a target group of target type ip.")
    const network = container.Networks?.[0]
    const ip = group.ipAddressType === "ipv6" ? network?.IPv6Addresses?.[0] : network?.IPv4Addresses?.[0]
    if (ip === undefined) {
      return yield* unsupported(
        `the task metadata lists no ${
          group.ipAddressType === "ipv6" ? "IPv6" : "IPv4"
        } address for container ${container.Name}`,
        "The task's network interface is not attached yet or has no such address; check the task's subnets."
      )
    }
    return { id: ip, port: containerPort }
  }

  if (mode === "bridge" || mode === "host") {
    yield* expectType(
      "instance",
      `${mode} tasks are registered by EC2 instance id and host port: use a target group of target type instance.`
    )
    const described = yield* input.describeTask
    if (described.containerInstanceArn === undefined) {
      return yield* unsupported(
        `ECS reports no container instance for task ${task.TaskARN}`,
        `${mode} networking needs an EC2 launch type task.`
      )
    }
    const instanceId = yield* input.ecs.describeEc2InstanceId(task.Cluster, described.containerInstanceArn).pipe(
      retryTransient("ecs:DescribeContainerInstances")
    )
    if (instanceId === undefined) {
      return yield* unsupported(
        `ECS reports no EC2 instance for container instance ${described.containerInstanceArn}`,
        "Check that the container instance is still registered."
      )
    }
    const protocols = portProtocols(group.protocol)
    const port = mode === "host"
      ? hostPortFromMetadata(container, containerPort, protocols) ?? containerPort
      : hostPortFromMetadata(container, containerPort, protocols) ??
        hostPortFromEcs(described, container.Name, containerPort, protocols)
    if (port === undefined) {
      return yield* unsupported(
        `container ${container.Name} has no ${protocols.join("/")} port mapping for container port ${containerPort}`,
        `Add a portMappings entry with containerPort ${containerPort} (protocol ${
          protocols[0]
        }) to container ${container.Name}.`
      )
    }
    return { id: instanceId, port }
  }

  return yield* unsupported(
    `container ${container.Name} uses network mode ${
      mode ?? "(none listed in the task metadata)"
    }, which a load balancer cannot reach`,
    "Use awsvpc, bridge or host networking for the load-balanced container."
  )
})
