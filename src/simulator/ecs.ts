// The ECS API as the SDK sees it: awsJson 1.1 (`X-Amz-Target:
// AmazonEC2ContainerServiceV20141113.<Op>`), errors as `__type` bodies.
import { taskArn } from "./metadata.ts"
import type { Scenario } from "./scenario.ts"

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

const clusterArn = (s: Scenario) => `arn:aws:ecs:${s.region}:${s.accountId}:cluster/${s.task.cluster}`
const isCluster = (s: Scenario, value: unknown) => value === undefined || value === s.task.cluster || value === clusterArn(s)

const describeTasks = (s: Scenario, params: Record<string, unknown>): JsonAnswer => {
  const wanted = Array.isArray(params.tasks) ? params.tasks.map(String) : []
  const arn = taskArn(s)
  const known = (t: string) => t === arn || t === s.task.taskId
  return {
    status: 200,
    body: {
      tasks: wanted.filter(known).map(() => ({
        taskArn: arn,
        clusterArn: clusterArn(s),
        taskDefinitionArn: `arn:aws:ecs:${s.region}:${s.accountId}:task-definition/${s.task.family}:${s.task.revision}`,
        group: s.task.serviceName === null ? `family:${s.task.family}` : `service:${s.task.serviceName}`,
        launchType: s.task.launchType,
        lastStatus: "RUNNING",
        desiredStatus: "RUNNING",
        ...(s.task.containerInstance === undefined ? {} : { containerInstanceArn: s.task.containerInstance.arn }),
        containers: s.task.containers.map((c) => ({
          name: c.name,
          taskArn: arn,
          lastStatus: "RUNNING",
          networkBindings: s.task.networkMode === "awsvpc" ? [] : c.ports.map((p) => ({
            bindIP: "0.0.0.0",
            containerPort: p.containerPort,
            hostPort: p.hostPort ?? p.containerPort,
            protocol: p.protocol
          })),
          ...(s.task.networkMode === "awsvpc" ? { networkInterfaces: [{ attachmentId: "a1b2c3d4", privateIpv4Address: s.task.privateIPv4 }] } : {})
        }))
      })),
      failures: wanted.filter((t) => !known(t)).map((t) => ({ arn: t, reason: "MISSING" }))
    }
  }
}

const describeServices = (s: Scenario, params: Record<string, unknown>): JsonAnswer => {
  const wanted = Array.isArray(params.services) ? params.services.map(String) : []
  const name = s.task.serviceName
  const serviceArn = `arn:aws:ecs:${s.region}:${s.accountId}:service/${s.task.cluster}/${name}`
  const known = (v: string) => name !== null && s.service !== undefined && (v === name || v === serviceArn)
  return {
    status: 200,
    body: {
      services: wanted.filter(known).map(() => ({
        serviceArn,
        serviceName: name,
        clusterArn: clusterArn(s),
        status: "ACTIVE",
        launchType: s.task.launchType,
        desiredCount: 2,
        runningCount: 2,
        loadBalancers: s.service?.loadBalancers ?? []
      })),
      failures: wanted.filter((v) => !known(v)).map((v) => ({ arn: v, reason: "MISSING" }))
    }
  }
}

const describeContainerInstances = (s: Scenario, params: Record<string, unknown>): JsonAnswer => {
  const wanted = Array.isArray(params.containerInstances) ? params.containerInstances.map(String) : []
  const ci = s.task.containerInstance
  const known = (v: string) => ci !== undefined && (v === ci.arn || ci.arn.endsWith(`/${v}`))
  return {
    status: 200,
    body: {
      containerInstances: wanted.filter(known).map(() => ({ containerInstanceArn: ci?.arn, ec2InstanceId: ci?.ec2InstanceId, status: "ACTIVE", agentConnected: true })),
      failures: wanted.filter((v) => !known(v)).map((v) => ({ arn: v, reason: "MISSING" }))
    }
  }
}

export const handleEcs = (s: Scenario, operation: string, params: Record<string, unknown>): JsonAnswer => {
  if (!isCluster(s, params.cluster)) return ecsError(400, "ClusterNotFoundException", "Cluster not found.")
  switch (operation) {
    case "DescribeTasks":
      return describeTasks(s, params)
    case "DescribeServices":
      return describeServices(s, params)
    case "DescribeContainerInstances":
      return describeContainerInstances(s, params)
    default:
      return ecsError(400, "UnknownOperationException", `${operation} is not simulated`)
  }
}
