// Task metadata endpoint v4 bodies, shaped like the ones the ECS agent and
// Fargate serve (field names and casing as AWS documents them).
import type { Container, Scenario } from "./scenario.ts"

const clusterArn = (s: Scenario) => `arn:aws:ecs:${s.region}:${s.accountId}:cluster/${s.task.cluster}`
export const taskArn = (s: Scenario) => `arn:aws:ecs:${s.region}:${s.accountId}:task/${s.task.cluster}/${s.task.taskId}`

const dockerId = (s: Scenario, name: string) =>
  s.task.launchType === "FARGATE"
    ? `${s.task.taskId}-${Math.abs(hash(name)) % 10_000_000_000}`
    : (s.task.taskId + hash(name).toString(16).replace("-", "")).padEnd(64, "0").slice(0, 64)

const hash = (text: string) => [...text].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7)

const network = (s: Scenario, index: number) => {
  switch (s.task.networkMode) {
    case "awsvpc":
      return {
        NetworkMode: "awsvpc",
        IPv4Addresses: [s.task.privateIPv4],
        AttachmentIndex: 0,
        MACAddress: "0e:9e:32:c7:48:85",
        IPv4SubnetCIDRBlock: "10.0.0.0/24",
        PrivateDNSName: `ip-${s.task.privateIPv4.replaceAll(".", "-")}.${s.region}.compute.internal`,
        SubnetGatewayIpv4Address: "10.0.0.1/24"
      }
    case "bridge":
      return { NetworkMode: "bridge", IPv4Addresses: [`172.17.0.${index + 2}`] }
    case "host":
      return { NetworkMode: "host" }
  }
}

const ports = (s: Scenario, c: Container) => {
  if (s.task.launchType === "FARGATE" || c.ports.length === 0) return {}
  if (s.task.networkMode === "bridge") {
    // The agent lists each mapping once per address family.
    return {
      Ports: c.ports.flatMap((p) =>
        ["0.0.0.0", "::"].map((HostIp) => ({
          ContainerPort: p.containerPort,
          Protocol: p.protocol,
          ...(s.task.omitHostPorts || p.hostPort === undefined ? {} : { HostPort: p.hostPort }),
          HostIp
        }))
      )
    }
  }
  return { Ports: c.ports.map((p) => ({ ContainerPort: p.containerPort, Protocol: p.protocol, HostPort: p.hostPort ?? p.containerPort })) }
}

const containerBody = (s: Scenario, c: Container, index: number) => ({
  DockerId: dockerId(s, c.name),
  Name: c.name,
  DockerName: `ecs-${s.task.family}-${s.task.revision}-${c.name}-${hash(c.name).toString(16).replace("-", "")}`,
  Image: c.image,
  ImageID: `sha256:${hash(c.image).toString(16).replace("-", "").padEnd(64, "a")}`,
  Labels: {
    "com.amazonaws.ecs.cluster": s.task.launchType === "FARGATE" ? clusterArn(s) : s.task.cluster,
    "com.amazonaws.ecs.container-name": c.name,
    "com.amazonaws.ecs.task-arn": taskArn(s),
    "com.amazonaws.ecs.task-definition-family": s.task.family,
    "com.amazonaws.ecs.task-definition-version": s.task.revision
  },
  DesiredStatus: "RUNNING",
  KnownStatus: "RUNNING",
  Limits: { CPU: 128, Memory: c.name === s.task.sidecarContainer ? 64 : 512 },
  CreatedAt: "2026-11-25T10:00:00.000000000Z",
  StartedAt: "2026-11-25T10:00:01.000000000Z",
  Type: "NORMAL",
  ContainerARN: `arn:aws:ecs:${s.region}:${s.accountId}:container/${s.task.cluster}/${s.task.taskId}/${hash(c.name).toString(16)}`,
  LogDriver: "awslogs",
  LogOptions: { "awslogs-group": `/ecs/${s.task.family}`, "awslogs-region": s.region, "awslogs-stream": `ecs/${c.name}/${s.task.taskId}` },
  ...ports(s, c),
  Networks: [network(s, index)]
})

// EC2 awsvpc tasks list the pause container that holds the ENI first.
const pauseContainer = (s: Scenario) => ({
  DockerId: dockerId(s, "~internal~ecs~pause"),
  Name: "~internal~ecs~pause",
  DockerName: `ecs-${s.task.family}-${s.task.revision}-internalecspause-${hash("pause").toString(16).replace("-", "")}`,
  Image: "amazon/amazon-ecs-pause:0.1.0",
  ImageID: "",
  Labels: { "com.amazonaws.ecs.cluster": s.task.cluster, "com.amazonaws.ecs.container-name": "~internal~ecs~pause", "com.amazonaws.ecs.task-arn": taskArn(s) },
  DesiredStatus: "RESOURCES_PROVISIONED",
  KnownStatus: "RESOURCES_PROVISIONED",
  Limits: { CPU: 0, Memory: 0 },
  CreatedAt: "2026-11-25T10:00:00.000000000Z",
  StartedAt: "2026-11-25T10:00:00.500000000Z",
  Type: "CNI_PAUSE",
  Networks: [network(s, 0)]
})

export const taskBody = (s: Scenario) => ({
  Cluster: s.task.launchType === "FARGATE" ? clusterArn(s) : s.task.cluster,
  TaskARN: taskArn(s),
  Family: s.task.family,
  Revision: s.task.revision,
  ...(s.task.serviceName !== null && s.task.serviceNameInMetadata ? { ServiceName: s.task.serviceName } : {}),
  DesiredStatus: "RUNNING",
  KnownStatus: "RUNNING",
  Limits: { CPU: 0.5, Memory: 1024 },
  PullStartedAt: "2026-11-25T09:59:58.000000000Z",
  PullStoppedAt: "2026-11-25T09:59:59.000000000Z",
  AvailabilityZone: `${s.region}a`,
  LaunchType: s.task.launchType,
  ...(s.task.launchType === "FARGATE"
    ? { ClockDrift: { ClockErrorBound: 0.44, ReferenceTimestamp: "2026-11-25T09:59:00Z", ClockSynchronizationStatus: "SYNCHRONIZED" }, EphemeralStorageMetrics: { Utilized: 261, Reserved: 20496 } }
    : {}),
  Containers: [
    ...(s.task.networkMode === "awsvpc" && s.task.launchType === "EC2" ? [pauseContainer(s)] : []),
    ...s.task.containers.map((c, i) => containerBody(s, c, i))
  ]
})

export const containerMetadataBody = (s: Scenario) => {
  const index = Math.max(0, s.task.containers.findIndex((c) => c.name === s.task.sidecarContainer))
  const c = s.task.containers[index]
  return c === undefined ? {} : containerBody(s, c, index)
}
