// Built-in scenarios. Each is a function of its timing so tests can keep
// them short; `npm run simulator -- --scenario NAME` serves any of them.
import { readFileSync } from "node:fs"
import { digits } from "./ids.ts"
import { decodeScenario, type Fault, type Scenario, type TargetGroup, type TimelineStep } from "./scenario.ts"

export interface ScenarioOptions {
  /** When the watched target starts draining, in ms after the simulator starts (default 5000). */
  readonly drainAtMs?: number
  /** How long draining lasts before the target is gone (default 300000, the ELBv2 default deregistration delay). */
  readonly deregistrationDelayMs?: number
  /** The application's port: the container port, and the host port in host mode (default 8080). */
  readonly targetPort?: number
  /** The web target group's protocol (default TCP, a Network Load Balancer's). */
  readonly protocol?: TargetGroup["protocol"]
}

export const defaultDrainAtMs = 5_000
export const defaultDeregistrationDelayMs = 300_000

const region = "us-east-1"
const accountId = "111122223333"
const tgArn = (name: string, id: string) =>
  `arn:aws:elasticloadbalancing:${region}:${accountId}:targetgroup/${name}/${id}`
export const webGroupArn = tgArn("web", "73e2d6bc24d8a067")
export const adminGroupArn = tgArn("admin", "2453ed029918f21f")
/** Blue/green: the web group's twin, where each deployment registers the other colour. */
export const greenGroupArn = tgArn("web-green", "5c1f0e8a9b7d3e21")
const instanceId = "i-0598c7d356eba48d7"
const taskIp = "10.0.1.23"
const forever = 24 * 3_600_000

type Timing = Required<ScenarioOptions>
type Mode = Scenario["task"]["networkMode"]

const drains = ({ drainAtMs, deregistrationDelayMs }: Timing): ReadonlyArray<TimelineStep> => [
  { at: 0, state: "healthy" },
  { at: drainAtMs, state: "draining" },
  { at: drainAtMs + deregistrationDelayMs, registered: false }
]

/** When this task's own target starts leaving: draining, or gone, after it was registered. */
const firstLeaving = (timeline: ReadonlyArray<TimelineStep>): number | undefined => {
  const registered = timeline.findIndex((step) => "state" in step && step.state !== "draining")
  return registered === -1
    ? undefined
    : timeline.slice(registered).find((step) => !("state" in step) || step.state === "draining")?.at
}

const base = (
  o: Timing,
  name: string,
  description: string,
  mode: Mode,
  launchType: "EC2" | "FARGATE",
  timeline: ReadonlyArray<TimelineStep>,
  faults: ReadonlyArray<Fault> = [],
  /** When ECS starts stopping the task; by default when its target starts leaving. */
  stopAt: number | undefined = firstLeaving(timeline)
): Scenario => {
  const port = o.targetPort
  const hostPort = mode === "bridge" ? 32768 : port
  const group: TargetGroup = {
    arn: webGroupArn,
    targetType: mode === "awsvpc" ? "ip" : "instance",
    protocol: o.protocol,
    port,
    targets: [
      // A neighbour task in the same group, which never changes.
      {
        id: mode === "awsvpc" ? "10.0.2.77" : "i-0f1e2d3c4b5a69788",
        port: mode === "awsvpc" ? port : hostPort,
        ...(mode === "awsvpc" ? { availabilityZone: `${region}b` } : {}),
        timeline: [{ at: 0, state: "healthy" }]
      },
      { id: mode === "awsvpc" ? taskIp : instanceId, port: mode === "awsvpc" ? port : hostPort, timeline }
    ]
  }
  return {
    name,
    description,
    region,
    accountId,
    task: {
      launchType,
      networkMode: mode,
      cluster: launchType === "FARGATE" ? "production" : "default",
      family: "web",
      revision: "12",
      taskId: "febee046097849aba589d4435207c04a",
      privateIPv4: mode === "awsvpc" ? taskIp : "10.0.1.200",
      serviceName: "web",
      // Fargate's metadata never has ServiceName; EC2 agents have since 1.63.1.
      serviceNameInMetadata: launchType === "EC2",
      omitHostPorts: false,
      ...(launchType === "EC2"
        ? {
          containerInstance: {
            arn: `arn:aws:ecs:${region}:${accountId}:container-instance/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6`,
            ec2InstanceId: instanceId
          }
        }
        : {}),
      sidecarContainer: "nlb-sidecar",
      ...(stopAt === undefined
        ? {}
        : {
          stop: {
            at: stopAt,
            stopCode: "ServiceSchedulerInitiated" as const,
            stoppedReason: `Scaling activity initiated by (deployment ecs-svc/${digits("deployment:web", 19)})`
          }
        }),
      containers: [
        {
          name: "app",
          image: "public.ecr.aws/nginx/nginx:1.27",
          cpu: 256,
          memory: 512,
          ports: [{
            containerPort: port,
            protocol: o.protocol === "UDP" ? "udp" : "tcp",
            ...(mode === "bridge" ? { hostPort } : {})
          }]
        },
        { name: "nlb-sidecar", image: "nlb-sidecar-for-ecs:latest", memory: 64, ports: [] }
      ]
    },
    service: { loadBalancers: [{ targetGroupArn: webGroupArn, containerName: "app", containerPort: port }] },
    targetGroups: [group],
    faults
  }
}

/** Native blue/green: the service's load balancer names the alternate (green) group too. */
const blueGreen = (s: Scenario): Scenario => ({
  ...s,
  service: {
    strategy: "BLUE_GREEN",
    loadBalancers: (s.service?.loadBalancers ?? []).map((lb) => ({
      ...lb,
      advancedConfiguration: {
        alternateTargetGroupArn: greenGroupArn,
        productionListenerRule:
          `arn:aws:elasticloadbalancing:${region}:${accountId}:listener/net/web-lb/50dc6c495c0c9188/f2f7dc8efc522ab2`,
        roleArn: `arn:aws:iam::${accountId}:role/ecsInfrastructureRoleForLoadBalancers`
      }
    }))
  }
})

/**
 * The web group split in two: this task's target moves to the green group (with
 * a neighbour of its colour); in the web group this task's `{Id, Port}` has
 * `webTimeline` (an earlier task's drain, say), or nothing.
 */
const inGreenGroup = (s: Scenario, webTimeline?: ReadonlyArray<TimelineStep>): Scenario => {
  const [web] = s.targetGroups
  if (web === undefined) return s
  const [neighbour, own] = web.targets
  if (neighbour === undefined || own === undefined) return s
  const greenNeighbour = { ...neighbour, id: web.targetType === "ip" ? "10.0.3.41" : "i-0a9b8c7d6e5f40312" }
  return {
    ...s,
    targetGroups: [
      { ...web, targets: webTimeline === undefined ? [neighbour] : [neighbour, { ...own, timeline: webTimeline }] },
      { ...web, arn: greenGroupArn, targets: [greenNeighbour, own] },
      ...s.targetGroups.slice(1)
    ]
  }
}

/** A group of the same kind as web, with only other tasks' targets: this task is not registered there. */
const withGreenGroup = (s: Scenario): Scenario => {
  const [web] = s.targetGroups
  if (web === undefined) return s
  return {
    ...s,
    targetGroups: [...s.targetGroups, {
      ...web,
      arn: greenGroupArn,
      targets: web.targets.slice(0, 1).map((t) => ({ ...t, id: web.targetType === "ip" ? "10.0.3.41" : t.id }))
    }]
  }
}

/** Task set ids: `ecs-svc/` and 19 digits. */
const taskSetId = (name: string) => `ecs-svc/${digits(`task-set:${name}`, 19)}`

const builders: Record<string, (o: Timing) => Scenario> = {
  awsvpc: (o) => base(o, "awsvpc", "EC2 awsvpc task, healthy, then draining", "awsvpc", "EC2", drains(o)),
  fargate: (o) => base(o, "fargate", "Fargate task, healthy, then draining", "awsvpc", "FARGATE", drains(o)),
  bridge: (o) =>
    base(o, "bridge", "EC2 bridge task on a dynamic host port, healthy, then draining", "bridge", "EC2", drains(o)),
  host: (o) => base(o, "host", "EC2 host-mode task, healthy, then draining", "host", "EC2", drains(o)),
  "old-agent-bridge": (o) => {
    const s = base(
      o,
      "old-agent-bridge",
      "bridge task on an agent before 1.41.1: no ServiceName, no dynamic HostPort in the metadata",
      "bridge",
      "EC2",
      drains(o)
    )
    return { ...s, task: { ...s.task, serviceNameInMetadata: false, omitHostPorts: true } }
  },
  "two-target-groups": (o) => {
    const s = base(
      o,
      "two-target-groups",
      "awsvpc task in two target groups; only the second drains",
      "awsvpc",
      "EC2",
      [{ at: 0, state: "healthy" }],
      [],
      o.drainAtMs
    )
    const admin: TargetGroup = {
      arn: adminGroupArn,
      targetType: "ip",
      protocol: "TCP",
      port: 9090,
      targets: [{ id: taskIp, port: 9090, timeline: drains(o) }]
    }
    return {
      ...s,
      task: {
        ...s.task,
        containers: s.task.containers.map((c) =>
          c.name === "app" ? { ...c, ports: [...c.ports, { containerPort: 9090, protocol: "tcp" as const }] } : c
        )
      },
      service: {
        loadBalancers: [...(s.service?.loadBalancers ?? []), {
          targetGroupArn: adminGroupArn,
          containerName: "app",
          containerPort: 9090
        }]
      },
      targetGroups: [...s.targetGroups, admin]
    }
  },
  "late-registration": (o) =>
    base(o, "late-registration", "not registered at first, then initial, healthy, draining", "awsvpc", "EC2", [
      { at: 0, registered: false },
      { at: Math.round(o.drainAtMs * 0.5), state: "initial" },
      { at: Math.round(o.drainAtMs * 0.7), state: "healthy" },
      ...drains(o).slice(1)
    ]),
  "unhealthy-draining": (o) =>
    base(o, "unhealthy-draining", "healthy, unhealthy.draining, healthy again: never deregistered", "awsvpc", "EC2", [
      { at: 0, state: "healthy" },
      { at: Math.round(o.drainAtMs * 0.2), state: "unhealthy.draining" },
      { at: o.drainAtMs, state: "healthy" }
    ]),
  "missed-draining-window": (o) =>
    base(
      o,
      "missed-draining-window",
      "healthy, then no longer registered: the draining state is never seen",
      "awsvpc",
      "EC2",
      [
        { at: 0, state: "healthy" },
        { at: o.drainAtMs, registered: false }
      ]
    ),
  "not-in-service": (o) => {
    const s = base(
      o,
      "not-in-service",
      "a standalone task (RunTask), not part of a service",
      "awsvpc",
      "EC2",
      drains(o)
    )
    return { ...s, task: { ...s.task, serviceName: null } }
  },
  "no-target-groups": (o) => ({
    ...base(o, "no-target-groups", "a service without load balancers", "awsvpc", "EC2", drains(o)),
    service: { loadBalancers: [] }
  }),
  throttling: (o) =>
    base(
      o,
      "throttling",
      "DescribeTargetHealth throttled for a while before the target drains",
      "awsvpc",
      "EC2",
      drains(o),
      [
        {
          api: "elbv2",
          action: "DescribeTargetHealth",
          from: Math.round(o.drainAtMs * 0.1),
          until: Math.round(o.drainAtMs * 0.75),
          kind: "throttle"
        }
      ]
    ),
  "server-errors": (o) =>
    base(
      o,
      "server-errors",
      "ECS answers its first two DescribeServices with 5xx, ELBv2 its first two DescribeTargetHealth",
      "awsvpc",
      "EC2",
      drains(o),
      [
        { api: "ecs", action: "DescribeServices", from: 0, until: forever, kind: "server-error", times: 2 },
        { api: "elbv2", action: "DescribeTargetHealth", from: 0, until: o.drainAtMs, kind: "server-error", times: 2 }
      ]
    ),
  "slow-answers": (o) =>
    base(o, "slow-answers", "every ELBv2 answer takes 700 ms", "awsvpc", "EC2", drains(o), [
      { api: "elbv2", from: 0, until: forever, kind: "slow", delayMs: 700 }
    ]),
  "metadata-not-ready": (o) =>
    base(
      o,
      "metadata-not-ready",
      "the task metadata endpoint resets the first 3 connections (the agent is not up yet)",
      "awsvpc",
      "EC2",
      drains(o),
      [
        { api: "metadata", from: 0, until: forever, kind: "not-ready", times: 3 }
      ]
    ),
  "access-denied": (o) =>
    base(o, "access-denied", "the task role lacks ecs:DescribeServices", "awsvpc", "EC2", drains(o), [
      { api: "ecs", action: "DescribeServices", from: 0, until: forever, kind: "access-denied" }
    ]),
  connections: (o) =>
    base(
      { ...o, protocol: "HTTP" },
      "connections",
      "EC2 awsvpc task behind an Application Load Balancer (HTTP target group), healthy, then draining",
      "awsvpc",
      "EC2",
      drains(o)
    ),
  "earlier-task-draining": (o) =>
    base(
      o,
      "earlier-task-draining",
      "host task on the port of the task it replaces, still draining; then registered, healthy, and its own drain",
      "host",
      "EC2",
      [
        { at: 0, state: "draining" },
        { at: Math.round(o.drainAtMs * 0.5), state: "initial" },
        { at: Math.round(o.drainAtMs * 0.7), state: "healthy" },
        ...drains(o).slice(1)
      ],
      [],
      o.drainAtMs
    ),
  "stale-reading": (o) =>
    base(
      o,
      "stale-reading",
      "one DescribeTargetHealth answer reads the target as not registered, once, while it is healthy",
      "awsvpc",
      "EC2",
      drains(o),
      [
        {
          api: "elbv2",
          action: "DescribeTargetHealth",
          from: Math.round(o.drainAtMs * 0.6),
          until: o.drainAtMs,
          kind: "not-registered",
          times: 1
        }
      ]
    ),
  "uninformative-answers": (o) =>
    base(
      o,
      "uninformative-answers",
      "DescribeTargetHealth answers 200 without the task's target for a while (empty, other targets only, not XML)",
      "awsvpc",
      "EC2",
      drains(o),
      (["empty-answer", "other-targets", "malformed"] as const).map((kind) => ({
        api: "elbv2",
        action: "DescribeTargetHealth",
        from: Math.round(o.drainAtMs * 0.3),
        until: forever,
        kind,
        times: 1
      }))
    ),
  brownout: (o) =>
    base(
      o,
      "brownout",
      "ECS throttles every call for the first 60% of the time before the drain (a regional brownout at startup)",
      "awsvpc",
      "EC2",
      drains(o),
      [
        { api: "ecs", from: 0, until: Math.round(o.drainAtMs * 0.6), kind: "throttle" }
      ]
    ),
  "clock-skew": (o) =>
    base(
      o,
      "clock-skew",
      "the task's clock is 20 minutes behind AWS's: ECS and ELBv2 refuse the first signatures",
      "awsvpc",
      "EC2",
      drains(o),
      [
        { api: "ecs", from: 0, until: forever, kind: "clock-skew", skewMs: 20 * 60_000 },
        { api: "elbv2", from: 0, until: forever, kind: "clock-skew", skewMs: 20 * 60_000 }
      ]
    ),
  "credentials-denied": (o) =>
    base(o, "credentials-denied", "the container credentials endpoint answers 403", "awsvpc", "EC2", drains(o), [
      { api: "credentials", from: 0, until: forever, kind: "access-denied" }
    ]),
  "blue-green": (o) =>
    inGreenGroup(blueGreen(base(
      o,
      "blue-green",
      "native blue/green service (BLUE_GREEN): the task is registered only in the alternate group, where it drains",
      "awsvpc",
      "EC2",
      drains(o)
    ))),
  "blue-green-primary": (o) =>
    withGreenGroup(blueGreen(base(
      o,
      "blue-green-primary",
      "native blue/green service (BLUE_GREEN): the task is registered in the primary group, where it drains",
      "awsvpc",
      "EC2",
      drains(o)
    ))),
  "blue-green-host": (o) =>
    inGreenGroup(
      blueGreen(base(
        o,
        "blue-green-host",
        "host-mode blue/green: the blue task on this instance:port still drains in the primary group while this task registers in the alternate one; then its own drain there",
        "host",
        "EC2",
        [
          { at: Math.round(o.drainAtMs * 0.2), state: "initial" },
          { at: Math.round(o.drainAtMs * 0.4), state: "healthy" },
          ...drains(o).slice(1)
        ]
      )),
      [
        { at: 0, state: "draining" },
        { at: Math.round(o.drainAtMs * 0.6), registered: false }
      ]
    ),
  codedeploy: (o) => {
    // After an earlier deployment the service's own loadBalancers still name web, but the
    // PRIMARY task set (this task's) is on green; the new deployment's replacement is on web.
    const s = inGreenGroup(base(
      o,
      "codedeploy",
      "CODE_DEPLOY service: the task's task set is registered in the group the service's loadBalancers do not name, and drains there",
      "awsvpc",
      "EC2",
      drains(o)
    ))
    const [lb] = s.service?.loadBalancers ?? []
    if (lb === undefined) return s
    const own = taskSetId("blue")
    return {
      ...s,
      task: { ...s.task, taskSet: own },
      service: {
        deploymentController: "CODE_DEPLOY",
        loadBalancers: [lb],
        taskSets: [
          { id: own, status: "PRIMARY", loadBalancers: [{ ...lb, targetGroupArn: greenGroupArn }] },
          { id: taskSetId("green"), status: "ACTIVE", loadBalancers: [lb] }
        ]
      }
    }
  },
  standalone: (o) => {
    const s = base(
      o,
      "standalone",
      "a standalone task in a target group named by TARGET_GROUP_ARNS",
      "awsvpc",
      "EC2",
      drains(o)
    )
    const { service: _, ...rest } = s
    return { ...rest, task: { ...s.task, serviceName: null } }
  }
}

/**
 * Each group's deregistration_delay.timeout_seconds says how long its targets
 * drain: the timing's delay, in whole seconds, within the attribute's 0-3600.
 */
const withDeregistrationDelay = (s: Scenario, { deregistrationDelayMs }: Timing): Scenario => ({
  ...s,
  targetGroups: s.targetGroups.map((g) => ({
    deregistrationDelaySeconds: Math.min(3600, Math.round(deregistrationDelayMs / 1000)),
    ...g
  }))
})

export const scenarioNames: ReadonlyArray<string> = Object.keys(builders)

/** A built-in scenario by name, or a JSON file by path; validated either way. */
export const loadScenario = (nameOrPath: string, options: ScenarioOptions = {}): Scenario => {
  const timing: Timing = {
    drainAtMs: options.drainAtMs ?? defaultDrainAtMs,
    deregistrationDelayMs: options.deregistrationDelayMs ?? defaultDeregistrationDelayMs,
    targetPort: options.targetPort ?? 8080,
    protocol: options.protocol ?? "TCP"
  }
  const build = builders[nameOrPath]
  if (build !== undefined) return decodeScenario(withDeregistrationDelay(build(timing), timing))
  if (nameOrPath.endsWith(".json")) {
    let input: unknown
    try {
      input = JSON.parse(readFileSync(nameOrPath, "utf8"))
    } catch (error) {
      throw new Error(`cannot read scenario ${nameOrPath}: ${error instanceof Error ? error.message : String(error)}`)
    }
    return decodeScenario(input)
  }
  throw new Error(
    `unknown scenario ${JSON.stringify(nameOrPath)}: use one of ${scenarioNames.join(", ")} or a .json file`
  )
}
