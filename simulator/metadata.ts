// Task metadata endpoint v4 bodies, shaped like those the ECS agent (EC2) and
// Fargate serve: field names and casing as AWS documents them, fields present
// or absent as the agent's response types (omitempty) make them.
import { digits, hex, mac, uuid } from "./ids.ts"
import { availabilityZone, clusterArn, type Container, type Fault, type Scenario, taskArn, vpcId } from "./scenario.ts"

export interface MetadataAnswer {
  readonly status: number
  readonly contentType: string
  readonly body: string
  /**
   * How the body goes out; all at once when absent. `dripEveryMs`: one byte
   * at a time; `paddingBytes`: with a `Padding` field that long first (still
   * a valid body), chunked, without a content-length.
   */
  readonly delivery?: { readonly dripEveryMs: number } | { readonly paddingBytes: number }
}

const isFargate = (s: Scenario) => s.task.launchType === "FARGATE"
/** Agents before 1.45.0 (implied by omitHostPorts, < 1.41.1) had no LaunchType, LogDriver, LogOptions, ContainerARN. */
const oldAgent = (s: Scenario) => !isFargate(s) && s.task.omitHostPorts

export const dockerId = (s: Scenario, name: string) =>
  isFargate(s)
    ? `${s.task.taskId}-${digits(`docker:${s.task.taskId}:${name}`, 10)}`
    : hex(`docker:${s.task.taskId}:${name}`, 64)

export const containerArn = (s: Scenario, name: string) =>
  `arn:aws:ecs:${s.region}:${s.accountId}:container/${s.task.cluster}/${s.task.taskId}/${
    uuid(`container:${s.task.taskId}:${name}`)
  }`

/** The id in ECS_CONTAINER_METADATA_URI_V4: a UUID on EC2, the container's Docker id on Fargate. */
export const metadataEndpointId = (s: Scenario) =>
  isFargate(s) ? dockerId(s, s.task.sidecarContainer) : uuid(`endpoint:${s.task.taskId}:${s.task.sidecarContainer}`)

// Docker-style timestamps with nanoseconds, as the agent writes them.
const timestamp = (ms: number, seed: string) => new Date(ms).toISOString().replace("Z", `${digits(seed, 6)}Z`)

const dnsSuffix = (s: Scenario) => (s.region === "us-east-1" ? "ec2.internal" : `${s.region}.compute.internal`)
const subnetPrefix = (ip: string) => ip.split(".").slice(0, 3).join(".")

const awsvpcNetwork = (s: Scenario) => {
  const ip = s.task.privateIPv4
  const [a, b] = ip.split(".")
  return {
    NetworkMode: "awsvpc",
    IPv4Addresses: [ip],
    AttachmentIndex: 0,
    MACAddress: mac(`eni:${s.task.taskId}`),
    IPv4SubnetCIDRBlock: `${subnetPrefix(ip)}.0/24`,
    ...(isFargate(s) ? { DomainNameServers: [`${a}.${b}.0.2`], DomainNameSearchList: [dnsSuffix(s)] } : {}),
    PrivateDNSName: `ip-${ip.replaceAll(".", "-")}.${dnsSuffix(s)}`,
    SubnetGatewayIpv4Address: `${subnetPrefix(ip)}.1/24`
  }
}

const network = (s: Scenario, index: number) => {
  switch (s.task.networkMode) {
    case "awsvpc":
      return awsvpcNetwork(s)
    case "bridge":
      return { NetworkMode: "bridge", IPv4Addresses: [`172.17.0.${index + 2}`] }
    case "host":
      // Docker reports the host network with an empty address; the agent copies it as is.
      return { NetworkMode: "host", IPv4Addresses: [""] }
  }
}

const ports = (s: Scenario, c: Container) => {
  // awsvpc containers share the pause container's namespace: Docker reports no bindings.
  if (s.task.networkMode === "awsvpc" || c.ports.length === 0) return {}
  if (s.task.networkMode === "bridge" && !s.task.omitHostPorts) {
    // Docker binds each mapping on 0.0.0.0 and ::, and the agent lists both.
    return {
      Ports: c.ports.flatMap((p) =>
        ["0.0.0.0", "::"].map((HostIp) => ({
          ContainerPort: p.containerPort,
          Protocol: p.protocol,
          HostPort: p.hostPort,
          HostIp
        }))
      )
    }
  }
  if (s.task.networkMode === "bridge") {
    // Old agents: the task definition's mappings, where a dynamic host port is 0 and so omitted.
    return { Ports: c.ports.map((p) => ({ ContainerPort: p.containerPort, Protocol: p.protocol })) }
  }
  return {
    Ports: c.ports.map((p) => ({
      ContainerPort: p.containerPort,
      Protocol: p.protocol,
      HostPort: p.hostPort ?? p.containerPort
    }))
  }
}

const labels = (s: Scenario, name: string) => ({
  "com.amazonaws.ecs.cluster": isFargate(s) ? clusterArn(s) : s.task.cluster,
  "com.amazonaws.ecs.container-name": name,
  "com.amazonaws.ecs.task-arn": taskArn(s),
  "com.amazonaws.ecs.task-definition-family": s.task.family,
  "com.amazonaws.ecs.task-definition-version": s.task.revision
})

const containerBody = (s: Scenario, c: Container, index: number, startedAt: number) => ({
  DockerId: dockerId(s, c.name),
  Name: c.name,
  DockerName: isFargate(s)
    ? c.name
    : `ecs-${s.task.family}-${s.task.revision}-${c.name.replace(/[^A-Za-z0-9-]/g, "")}-${
      hex(`dockername:${s.task.taskId}:${c.name}`, 20)
    }`,
  Image: c.image,
  ImageID: `sha256:${hex(`image:${c.image}`, 64)}`,
  ...ports(s, c),
  Labels: labels(s, c.name),
  DesiredStatus: "RUNNING",
  KnownStatus: "RUNNING",
  // At least 2 CPU units; Fargate leaves out a memory limit the task definition does not set.
  Limits: {
    CPU: Math.max(c.cpu ?? 0, 2),
    ...(isFargate(s) && c.memory === undefined ? {} : { Memory: c.memory ?? 0 })
  },
  CreatedAt: timestamp(startedAt - 20_000 + index * 400, `created:${c.name}`),
  StartedAt: timestamp(startedAt - 19_500 + index * 400, `started:${c.name}`),
  Type: "NORMAL",
  ...(oldAgent(s)
    ? {}
    : {
      LogDriver: "awslogs",
      LogOptions: {
        "awslogs-create-group": "true",
        "awslogs-group": `/ecs/${s.task.family}`,
        "awslogs-region": s.region,
        "awslogs-stream": `ecs/${c.name}/${s.task.taskId}`
      },
      ContainerARN: containerArn(s, c.name)
    }),
  Networks: [network(s, index)],
  ...(isFargate(s) ? { Snapshotter: "overlayfs" } : {})
})

// EC2 awsvpc tasks list first the pause container that holds the task's ENI.
const pauseContainer = (s: Scenario, startedAt: number) => ({
  DockerId: dockerId(s, "~internal~ecs~pause"),
  Name: "~internal~ecs~pause",
  DockerName: `ecs-${s.task.family}-${s.task.revision}-internalecspause-${
    hex(`dockername:${s.task.taskId}:pause`, 20)
  }`,
  Image: "amazon/amazon-ecs-pause:0.1.0",
  ImageID: "",
  Labels: labels(s, "~internal~ecs~pause"),
  DesiredStatus: "RESOURCES_PROVISIONED",
  KnownStatus: "RESOURCES_PROVISIONED",
  Limits: { CPU: 0, Memory: 0 },
  CreatedAt: timestamp(startedAt - 21_000, "created:pause"),
  StartedAt: timestamp(startedAt - 20_500, "started:pause"),
  Type: "CNI_PAUSE",
  Networks: [awsvpcNetwork(s)]
})

/** `GET ${ECS_CONTAINER_METADATA_URI_V4}/task`; `startedAt` is the wall clock the timestamps lead up to. */
export const taskBody = (s: Scenario, startedAt: number) => {
  const ec2Modern = !isFargate(s) && s.task.serviceNameInMetadata
  return {
    Cluster: isFargate(s) ? clusterArn(s) : s.task.cluster,
    TaskARN: taskArn(s),
    Family: s.task.family,
    ...(ec2Modern && s.task.serviceName !== null ? { ServiceName: s.task.serviceName } : {}),
    Revision: s.task.revision,
    DesiredStatus: "RUNNING",
    KnownStatus: "RUNNING",
    // Task-level limits: required on Fargate, absent from EC2 task definitions here.
    ...(isFargate(s) ? { Limits: { CPU: 0.25, Memory: 512 } } : {}),
    PullStartedAt: timestamp(startedAt - 25_000, "pull-start"),
    PullStoppedAt: timestamp(startedAt - 21_500, "pull-stop"),
    AvailabilityZone: availabilityZone(s),
    ...(ec2Modern ? { VPCID: vpcId } : {}),
    ...(oldAgent(s) ? {} : { LaunchType: s.task.launchType }),
    Containers: [
      ...(s.task.networkMode === "awsvpc" && !isFargate(s) ? [pauseContainer(s, startedAt)] : []),
      ...s.task.containers.map((c, i) => containerBody(s, c, i, startedAt))
    ],
    ...(isFargate(s)
      ? {
        ClockDrift: {
          ClockErrorBound: 0.5458234999999999,
          ReferenceTimestamp: new Date(startedAt - 60_000).toISOString().replace(/\.\d+Z$/, "Z"),
          ClockSynchronizationStatus: "SYNCHRONIZED"
        },
        EphemeralStorageMetrics: { Utilized: 261, Reserved: 20496 }
      }
      : {}),
    // Serialized without omitempty by current agents.
    ...(ec2Modern ? { FaultInjectionEnabled: false } : {})
  }
}

/** `GET ${ECS_CONTAINER_METADATA_URI_V4}`: the sidecar container itself. */
export const containerMetadataBody = (s: Scenario, startedAt: number) => {
  const index = s.task.containers.findIndex((c) => c.name === s.task.sidecarContainer)
  const c = s.task.containers[index]
  if (c === undefined) throw new Error(`no container ${s.task.sidecarContainer}`)
  return containerBody(s, c, index, startedAt)
}

const json = (status: number, body: unknown): MetadataAnswer => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(body)
})

export const metadataOk = (body: unknown) => json(200, body)

/** What the agent answers for an endpoint id it does not know. */
export const metadataNotFound = (action: "task" | "container", endpointId: string): MetadataAnswer =>
  json(
    404,
    action === "task"
      ? `V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: ${endpointId}`
      : `V4 container metadata handler: unable to get container ID from request: unable to get docker ID from v3 endpoint ID: ${endpointId}`
  )

/** The answer for an injected fault; `undefined` for kinds that do not answer (not-ready) or only delay (slow). */
export const metadataFault = (
  s: Scenario,
  fault: Fault,
  action: "task" | "container",
  endpointId: string,
  normal: () => MetadataAnswer
): MetadataAnswer | undefined => {
  switch (fault.kind) {
    case "drip":
      return { ...normal(), delivery: { dripEveryMs: fault.delayMs ?? 1000 } }
    case "oversized": {
      const answer = normal()
      return {
        ...answer,
        delivery: { paddingBytes: Math.max(0, (fault.bytes ?? 20 * 1024 * 1024) - Buffer.byteLength(answer.body)) }
      }
    }
    case "throttle":
      // The agent's request rate limiter (tollbooth) answers before any handler runs.
      return { status: 429, contentType: "text/plain; charset=utf-8", body: "You have reached maximum request limit." }
    case "server-error":
      return json(
        fault.status ?? 500,
        action === "task"
          ? `Unable to generate metadata for v4 task: '${taskArn(s)}'`
          : `unable to generate metadata for container '${dockerId(s, s.task.sidecarContainer)}'`
      )
    case "not-found":
      return metadataNotFound(action, endpointId)
    default:
      return undefined
  }
}
