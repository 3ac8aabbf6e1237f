// A simulator scenario: the task, its service and target groups, how each
// target's state changes over time, and which faults to inject. Plain data,
// checked with Schema when loaded.
import { Schema } from "effect"

const Ms = Schema.Number.check(Schema.isGreaterThanOrEqualTo(0))

const StateStep = Schema.Struct({
  at: Ms,
  state: Schema.Literals(["initial", "healthy", "unhealthy", "unhealthy.draining", "unused", "draining", "unavailable"]),
  reason: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String)
})
const Unregistered = Schema.Struct({ at: Ms, registered: Schema.Literal(false) })
export const TimelineStep = Schema.Union([StateStep, Unregistered])
export type TimelineStep = typeof TimelineStep.Type

const Target = Schema.Struct({
  id: Schema.String,
  port: Schema.Number,
  timeline: Schema.Array(TimelineStep)
})

const TargetGroup = Schema.Struct({
  arn: Schema.String,
  targetType: Schema.Literals(["ip", "instance"]),
  protocol: Schema.Literals(["TCP", "UDP", "TCP_UDP", "TLS", "HTTP", "HTTPS"]),
  port: Schema.Number,
  ipAddressType: Schema.optional(Schema.Literals(["ipv4", "ipv6"])),
  targets: Schema.Array(Target)
})
export type TargetGroup = typeof TargetGroup.Type

const PortMapping = Schema.Struct({
  containerPort: Schema.Number,
  hostPort: Schema.optional(Schema.Number),
  protocol: Schema.Literals(["tcp", "udp"])
})

const Container = Schema.Struct({
  name: Schema.String,
  image: Schema.String,
  ports: Schema.Array(PortMapping)
})
export type Container = typeof Container.Type

const Task = Schema.Struct({
  launchType: Schema.Literals(["FARGATE", "EC2"]),
  networkMode: Schema.Literals(["awsvpc", "bridge", "host"]),
  cluster: Schema.String,
  family: Schema.String,
  revision: Schema.String,
  taskId: Schema.String,
  privateIPv4: Schema.String,
  /** `null`: a standalone task (DescribeTasks group `family:…`). */
  serviceName: Schema.NullOr(Schema.String),
  /** ECS agents before 1.63.1 leave ServiceName out of the task metadata. */
  serviceNameInMetadata: Schema.Boolean,
  /** ECS agents before 1.41.1 leave dynamic host ports out of the task metadata. */
  omitHostPorts: Schema.Boolean,
  containerInstance: Schema.optional(Schema.Struct({ arn: Schema.String, ec2InstanceId: Schema.String })),
  /** The container whose `/v4/<id>` answers the container metadata. */
  sidecarContainer: Schema.String,
  containers: Schema.Array(Container)
})
export type Task = typeof Task.Type

const LoadBalancer = Schema.Struct({
  targetGroupArn: Schema.optional(Schema.String),
  loadBalancerName: Schema.optional(Schema.String),
  containerName: Schema.String,
  containerPort: Schema.Number
})

export const Fault = Schema.Struct({
  api: Schema.Literals(["metadata", "ecs", "elbv2"]),
  action: Schema.optional(Schema.String),
  from: Ms,
  until: Ms,
  kind: Schema.Literals(["throttle", "server-error", "slow", "access-denied", "not-ready", "not-found"]),
  delayMs: Schema.optional(Ms)
})
export type Fault = typeof Fault.Type

export const Scenario = Schema.Struct({
  name: Schema.String,
  description: Schema.String,
  region: Schema.String,
  accountId: Schema.String.check(Schema.isPattern(/^\d{12}$/)),
  task: Task,
  service: Schema.optional(Schema.Struct({ loadBalancers: Schema.Array(LoadBalancer) })),
  targetGroups: Schema.Array(TargetGroup),
  faults: Schema.Array(Fault)
})
export type Scenario = typeof Scenario.Type

/** Validates a scenario; the error names the offending field. */
export const decodeScenario = (input: unknown): Scenario => {
  try {
    return Schema.decodeUnknownSync(Scenario)(input)
  } catch (error) {
    throw new Error(`invalid scenario: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** The state of a target at `t`: `undefined` when it is not registered. */
export const stateAt = (timeline: ReadonlyArray<TimelineStep>, t: number) => {
  const step = timeline.filter((s) => s.at <= t).at(-1)
  return step === undefined || "registered" in step ? undefined : step
}
