// The ECS API as the SDK sees it: awsJson 1.1 (`X-Amz-Target:
// AmazonEC2ContainerServiceV20141113.<Op>`), timestamps as epoch seconds,
// errors as `{"__type", "message"}` bodies with `x-amzn-ErrorType`.
import { digits, hex, mac, uuid } from "./ids.ts"
import { containerArn, dockerId } from "./metadata.ts"
import {
  availabilityZone,
  clusterArn,
  type Fault,
  type Scenario,
  serviceArn,
  taskArn,
  taskDefinitionArn,
  taskSetArn
} from "./scenario.ts"

export const ecsTargetPrefix = "AmazonEC2ContainerServiceV20141113."

export interface JsonAnswer {
  readonly status: number
  readonly body: unknown
  readonly errorCode?: string
}

export const ecsError = (status: number, code: string, message: string): JsonAnswer => ({
  status,
  body: { __type: code, message },
  errorCode: code
})

const epochSeconds = (ms: number) => Math.round(ms) / 1000

const stringList = (value: unknown): Array<string> | undefined =>
  Array.isArray(value) && value.every((v) => typeof v === "string") ? value : undefined

// ECS accepts a full ARN or a bare name/id; failures always carry the ARN.
const arnFor = (given: string, prefix: string) => (given.startsWith("arn:") ? given : `${prefix}${given}`)

const eniAttachment = (s: Scenario) => {
  const id = uuid(`attachment:${s.task.taskId}`)
  const ip = s.task.privateIPv4
  return {
    id,
    type: "ElasticNetworkInterface",
    status: "ATTACHED",
    details: [
      { name: "subnetId", value: `subnet-${hex(`subnet:${ip}`, 17)}` },
      { name: "networkInterfaceId", value: `eni-${hex(`eni:${s.task.taskId}`, 17)}` },
      { name: "macAddress", value: mac(`eni:${s.task.taskId}`) },
      {
        name: "privateDnsName",
        value: `ip-${ip.replaceAll(".", "-")}.${
          s.region === "us-east-1" ? "ec2.internal" : `${s.region}.compute.internal`
        }`
      },
      { name: "privateIPv4Address", value: ip }
    ]
  }
}

const describeTasks = (s: Scenario, params: Record<string, unknown>, startedAt: number, t: number): JsonAnswer => {
  const wanted = stringList(params.tasks)
  if (wanted === undefined || wanted.length === 0) {
    return ecsError(400, "InvalidParameterException", "Tasks cannot be empty.")
  }
  const arn = taskArn(s)
  const known = (t: string) => t === arn || t === s.task.taskId
  const awsvpc = s.task.networkMode === "awsvpc"
  const attachment = awsvpc ? eniAttachment(s) : undefined
  const fargate = s.task.launchType === "FARGATE"
  const stopping = s.task.stop !== undefined && t >= s.task.stop.at ? s.task.stop : undefined
  const task = {
    attachments: attachment === undefined ? [] : [attachment],
    attributes: [{ name: "ecs.cpu-architecture", value: "x86_64" }],
    availabilityZone: availabilityZone(s),
    clusterArn: clusterArn(s),
    connectivity: "CONNECTED",
    connectivityAt: epochSeconds(startedAt - 24_000),
    ...(s.task.containerInstance === undefined ? {} : { containerInstanceArn: s.task.containerInstance.arn }),
    containers: s.task.containers.map((c) => ({
      containerArn: containerArn(s, c.name),
      taskArn: arn,
      name: c.name,
      image: c.image,
      imageDigest: `sha256:${hex(`digest:${c.image}`, 64)}`,
      runtimeId: dockerId(s, c.name),
      lastStatus: "RUNNING",
      // The agent reports Docker's bindings without the IPv6 copies (ECS_EXCLUDE_IPV6_PORTBINDING, on by default).
      networkBindings: awsvpc ? [] : c.ports.map((p) => ({
        bindIP: "0.0.0.0",
        containerPort: p.containerPort,
        hostPort: p.hostPort ?? p.containerPort,
        protocol: p.protocol
      })),
      networkInterfaces: attachment === undefined
        ? []
        : [{ attachmentId: attachment.id, privateIpv4Address: s.task.privateIPv4 }],
      healthStatus: "UNKNOWN",
      cpu: String(c.cpu ?? 0),
      ...(c.memory === undefined ? {} : { memory: String(c.memory) })
    })),
    ...(fargate ? { cpu: "256", memory: "512" } : {}),
    createdAt: epochSeconds(startedAt - 26_000),
    // While ECS stops a load-balanced task it deregisters its targets (DEACTIVATING) before it stops it.
    ...(stopping === undefined
      ? { desiredStatus: "RUNNING" }
      : {
        desiredStatus: "STOPPED",
        stopCode: stopping.stopCode,
        stoppedReason: stopping.stoppedReason,
        stoppingAt: epochSeconds(startedAt + stopping.at)
      }),
    enableExecuteCommand: false,
    ...(fargate ? { ephemeralStorage: { sizeInGiB: 20 } } : {}),
    group: s.task.serviceName === null ? `family:${s.task.family}` : `service:${s.task.serviceName}`,
    healthStatus: "UNKNOWN",
    lastStatus: stopping === undefined ? "RUNNING" : "DEACTIVATING",
    launchType: s.task.launchType,
    overrides: {
      containerOverrides: s.task.containers.map((c) => ({ name: c.name })),
      inferenceAcceleratorOverrides: []
    },
    ...(fargate ? { platformVersion: "1.4.0", platformFamily: "Linux" } : {}),
    pullStartedAt: epochSeconds(startedAt - 25_000),
    pullStoppedAt: epochSeconds(startedAt - 21_500),
    startedAt: epochSeconds(startedAt - 19_000),
    // A service's task: its deployment's id, or (CODE_DEPLOY, EXTERNAL) its task set's.
    ...(s.task.serviceName === null
      ? {}
      : { startedBy: s.task.taskSet ?? `ecs-svc/${digits(`deployment:${s.task.serviceName}`, 19)}` }),
    tags: [],
    taskArn: arn,
    taskDefinitionArn: taskDefinitionArn(s),
    version: 3
  }
  return {
    status: 200,
    body: {
      failures: wanted.filter((t) => !known(t)).map((t) => ({
        arn: arnFor(t, `arn:aws:ecs:${s.region}:${s.accountId}:task/${s.task.cluster}/`),
        reason: "MISSING"
      })),
      tasks: wanted.filter(known).map(() => task)
    }
  }
}

const describeServices = (s: Scenario, params: Record<string, unknown>, startedAt: number): JsonAnswer => {
  const wanted = stringList(params.services)
  if (wanted === undefined || wanted.length === 0) {
    return ecsError(400, "InvalidParameterException", "Services cannot be empty.")
  }
  const name = s.task.serviceName
  const service = name === null || s.service === undefined
    ? undefined
    : { name, arn: serviceArn(s, name), loadBalancers: s.service.loadBalancers }
  const known = (v: string) => service !== undefined && (v === service.name || v === service.arn)
  const deployment = `ecs-svc/${digits(`deployment:${name ?? ""}`, 19)}`
  const fargate = s.task.launchType === "FARGATE"
  const controller = s.service?.deploymentController ?? "ECS"
  const taskSets = s.service?.taskSets ?? []
  const networkConfiguration = s.task.networkMode === "awsvpc"
    ? {
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: [`subnet-${hex(`subnet:${s.task.privateIPv4}`, 17)}`],
          securityGroups: [`sg-${hex(`sg:${name ?? ""}`, 17)}`],
          assignPublicIp: "DISABLED"
        }
      }
    }
    : {}
  // DescribeServices lists a CODE_DEPLOY or EXTERNAL service's task sets (no DescribeTaskSets needed).
  const taskSetsBody = taskSets.map((ts, i) => ({
    id: ts.id,
    taskSetArn: taskSetArn(s, name ?? "", ts.id),
    serviceArn: serviceArn(s, name ?? ""),
    clusterArn: clusterArn(s),
    ...(controller === "CODE_DEPLOY"
      ? { startedBy: "CODE_DEPLOY", externalId: `d-${hex(`codedeploy:${ts.id}`, 9).toUpperCase()}` }
      : {}),
    status: ts.status,
    taskDefinition: taskDefinitionArn(s),
    computedDesiredCount: ts.status === "DRAINING" ? 0 : 2,
    pendingCount: 0,
    runningCount: ts.status === "DRAINING" ? 0 : 2,
    createdAt: epochSeconds(startedAt - 600_000 + i * 60_000),
    updatedAt: epochSeconds(startedAt - 540_000 + i * 60_000),
    launchType: s.task.launchType,
    ...(fargate ? { platformVersion: "1.4.0", platformFamily: "Linux" } : {}),
    ...networkConfiguration,
    loadBalancers: ts.loadBalancers,
    serviceRegistries: [],
    scale: { value: 100, unit: "PERCENT" },
    stabilityStatus: "STEADY_STATE",
    stabilityStatusAt: epochSeconds(startedAt - 500_000)
  }))
  const body = service === undefined ? undefined : {
    serviceArn: service.arn,
    serviceName: service.name,
    clusterArn: clusterArn(s),
    loadBalancers: service.loadBalancers,
    serviceRegistries: [],
    status: "ACTIVE",
    desiredCount: 2,
    runningCount: 2,
    pendingCount: 0,
    launchType: s.task.launchType,
    ...(fargate ? { platformVersion: "LATEST", platformFamily: "Linux" } : {}),
    taskDefinition: taskDefinitionArn(s),
    deploymentConfiguration: {
      deploymentCircuitBreaker: { enable: false, rollback: false },
      maximumPercent: 200,
      minimumHealthyPercent: 100,
      ...(s.service?.strategy === undefined
        ? {}
        : { strategy: s.service.strategy, ...(s.service.strategy === "BLUE_GREEN" ? { bakeTimeInMinutes: 5 } : {}) })
    },
    ...(taskSets.length === 0 ? {} : { taskSets: taskSetsBody }),
    // Task sets take the place of deployments under CODE_DEPLOY and EXTERNAL.
    deployments: controller !== "ECS" ? [] : [{
      id: deployment,
      status: "PRIMARY",
      taskDefinition: taskDefinitionArn(s),
      desiredCount: 2,
      pendingCount: 0,
      runningCount: 2,
      failedTasks: 0,
      createdAt: epochSeconds(startedAt - 600_000),
      updatedAt: epochSeconds(startedAt - 540_000),
      launchType: s.task.launchType,
      rolloutState: "COMPLETED",
      rolloutStateReason: `ECS deployment ${deployment} completed.`
    }],
    roleArn: `arn:aws:iam::${s.accountId}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS`,
    events: [],
    createdAt: epochSeconds(startedAt - 86_400_000),
    placementConstraints: [],
    placementStrategy: [],
    ...networkConfiguration,
    healthCheckGracePeriodSeconds: 0,
    schedulingStrategy: "REPLICA",
    deploymentController: { type: controller },
    createdBy: `arn:aws:iam::${s.accountId}:role/deployer`,
    enableECSManagedTags: false,
    propagateTags: "NONE",
    enableExecuteCommand: false
  }
  return {
    status: 200,
    body: {
      failures: wanted.filter((v) => !known(v)).map((v) => ({
        arn: arnFor(v, `arn:aws:ecs:${s.region}:${s.accountId}:service/${s.task.cluster}/`),
        reason: "MISSING"
      })),
      services: wanted.filter(known).map(() => body)
    }
  }
}

const describeContainerInstances = (s: Scenario, params: Record<string, unknown>, startedAt: number): JsonAnswer => {
  const wanted = stringList(params.containerInstances)
  if (wanted === undefined || wanted.length === 0) {
    return ecsError(400, "InvalidParameterException", "ContainerInstances cannot be empty.")
  }
  const ci = s.task.containerInstance
  const known = (v: string) => ci !== undefined && (v === ci.arn || ci.arn.endsWith(`/${v}`))
  const body = ci === undefined ? undefined : {
    containerInstanceArn: ci.arn,
    ec2InstanceId: ci.ec2InstanceId,
    version: 12,
    versionInfo: {
      agentVersion: s.task.omitHostPorts ? "1.40.0" : "1.89.3",
      agentHash: hex(`agent:${ci.arn}`, 8),
      dockerVersion: "DockerVersion: 25.0.8"
    },
    remainingResources: [
      { name: "CPU", type: "INTEGER", doubleValue: 0, longValue: 0, integerValue: 1536 },
      { name: "MEMORY", type: "INTEGER", doubleValue: 0, longValue: 0, integerValue: 2996 }
    ],
    registeredResources: [
      { name: "CPU", type: "INTEGER", doubleValue: 0, longValue: 0, integerValue: 2048 },
      { name: "MEMORY", type: "INTEGER", doubleValue: 0, longValue: 0, integerValue: 3764 }
    ],
    status: "ACTIVE",
    agentConnected: true,
    runningTasksCount: 3,
    pendingTasksCount: 0,
    attributes: [{ name: "ecs.instance-type", value: "m6i.large" }, {
      name: "ecs.availability-zone",
      value: availabilityZone(s)
    }],
    registeredAt: epochSeconds(startedAt - 7 * 86_400_000),
    attachments: [],
    tags: []
  }
  return {
    status: 200,
    body: {
      containerInstances: wanted.filter(known).map(() => body),
      failures: wanted.filter((v) => !known(v)).map((v) => ({
        arn: arnFor(v, `arn:aws:ecs:${s.region}:${s.accountId}:container-instance/${s.task.cluster}/`),
        reason: "MISSING"
      }))
    }
  }
}

// ECS takes the cluster's name or ARN, and `default` when none is given.
const isCluster = (s: Scenario, value: unknown) => {
  const name = value === undefined ? "default" : value
  return name === s.task.cluster || name === clusterArn(s)
}

export const handleEcs = (
  s: Scenario,
  operation: string,
  params: Record<string, unknown>,
  startedAt: number,
  t: number
): JsonAnswer => {
  const handlers: Record<string, typeof describeTasks | undefined> = {
    DescribeTasks: describeTasks,
    DescribeServices: describeServices,
    DescribeContainerInstances: describeContainerInstances
  }
  const handler = handlers[operation]
  if (handler === undefined) return ecsError(400, "UnknownOperationException", `${operation} is not simulated`)
  if (!isCluster(s, params.cluster)) return ecsError(400, "ClusterNotFoundException", "Cluster not found.")
  return handler(s, params, startedAt, t)
}

// The resource IAM names in the denial: what the call asked about, as an ARN.
const deniedResource = (s: Scenario, operation: string, params: Record<string, unknown>) => {
  const first = (key: string) => stringList(params[key])?.[0] ?? "*"
  switch (operation) {
    case "DescribeServices":
      return arnFor(first("services"), `arn:aws:ecs:${s.region}:${s.accountId}:service/${s.task.cluster}/`)
    case "DescribeTasks":
      return arnFor(first("tasks"), `arn:aws:ecs:${s.region}:${s.accountId}:task/${s.task.cluster}/`)
    case "DescribeContainerInstances":
      return arnFor(
        first("containerInstances"),
        `arn:aws:ecs:${s.region}:${s.accountId}:container-instance/${s.task.cluster}/`
      )
    default:
      return "*"
  }
}

/** The answer for an injected fault; `undefined` for kinds that do not answer (not-ready) or only delay (slow). */
export const ecsFault = (
  s: Scenario,
  fault: Fault,
  operation: string,
  params: Record<string, unknown>
): JsonAnswer | undefined => {
  switch (fault.kind) {
    case "throttle":
      return ecsError(400, "ThrottlingException", "Rate exceeded")
    case "server-error":
      return ecsError(fault.status ?? 500, "ServerException", "Service Unavailable. Please try again later.")
    case "access-denied": {
      const action = `ecs:${operation}`
      return ecsError(
        400,
        "AccessDeniedException",
        `User: arn:aws:sts::${s.accountId}:assumed-role/${s.task.family}-task/${s.task.taskId} is not authorized to perform: ${action} on resource: ${
          deniedResource(s, operation, params)
        } because no identity-based policy allows the ${action} action`
      )
    }
    case "not-found":
      return ecsError(400, "ClusterNotFoundException", "Cluster not found.")
    default:
      return undefined
  }
}
