// Built-in scenarios. Each is a function of its timing so tests can keep
// them short; `npm run demo -- --scenario NAME` runs any of them.
import { readFileSync } from "node:fs"
import { decodeScenario, type Fault, type Scenario, type TargetGroup, type TimelineStep } from "./scenario.ts"

export interface ScenarioOptions {
  /** When the watched target starts draining, in ms after the simulator starts. */
  readonly drainAtMs?: number
}

const region = "us-east-1"
const accountId = "111122223333"
const tgArn = (name: string, id: string) => `arn:aws:elasticloadbalancing:${region}:${accountId}:targetgroup/${name}/${id}`
export const webGroupArn = tgArn("web", "73e2d6bc24d8a067")
export const adminGroupArn = tgArn("admin", "2453ed029918f21f")
const instanceId = "i-0598c7d356eba48d7"

const healthyThenDraining = (drainAtMs: number): ReadonlyArray<TimelineStep> => [
  { at: 0, state: "healthy" },
  { at: drainAtMs, state: "draining" }
]

type Mode = Scenario["task"]["networkMode"]

const base = (name: string, description: string, mode: Mode, launchType: "EC2" | "FARGATE", timeline: ReadonlyArray<TimelineStep>, faults: ReadonlyArray<Fault> = []): Scenario => {
  const ip = "10.0.1.23"
  const hostPort = mode === "bridge" ? 32768 : 8080
  const group: TargetGroup = {
    arn: webGroupArn,
    targetType: mode === "awsvpc" ? "ip" : "instance",
    protocol: "TCP",
    port: 8080,
    targets: [
      // A neighbour task in the same group, which never changes.
      { id: mode === "awsvpc" ? "10.0.2.77" : "i-0f1e2d3c4b5a69788", port: mode === "awsvpc" ? 8080 : hostPort, timeline: [{ at: 0, state: "healthy" }] },
      { id: mode === "awsvpc" ? ip : instanceId, port: mode === "awsvpc" ? 8080 : hostPort, timeline }
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
      privateIPv4: ip,
      serviceName: "web",
      serviceNameInMetadata: true,
      omitHostPorts: false,
      ...(launchType === "EC2" ? { containerInstance: { arn: `arn:aws:ecs:${region}:${accountId}:container-instance/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6`, ec2InstanceId: instanceId } } : {}),
      sidecarContainer: "nlb-sidecar",
      containers: [
        { name: "app", image: "public.ecr.aws/nginx/nginx:1.27", ports: [{ containerPort: 8080, protocol: "tcp", ...(mode === "awsvpc" ? {} : { hostPort }) }] },
        { name: "nlb-sidecar", image: "nlb-sidecar-for-ecs:latest", ports: [] }
      ]
    },
    service: { loadBalancers: [{ targetGroupArn: webGroupArn, containerName: "app", containerPort: 8080 }] },
    targetGroups: [group],
    faults
  }
}

const builders: Record<string, (o: Required<ScenarioOptions>) => Scenario> = {
  awsvpc: ({ drainAtMs }) => base("awsvpc", "EC2 awsvpc task, healthy, then draining", "awsvpc", "EC2", healthyThenDraining(drainAtMs)),
  fargate: ({ drainAtMs }) => base("fargate", "Fargate task, healthy, then draining", "awsvpc", "FARGATE", healthyThenDraining(drainAtMs)),
  bridge: ({ drainAtMs }) => base("bridge", "EC2 bridge task on a dynamic host port, healthy, then draining", "bridge", "EC2", healthyThenDraining(drainAtMs)),
  host: ({ drainAtMs }) => base("host", "EC2 host-mode task, healthy, then draining", "host", "EC2", healthyThenDraining(drainAtMs)),
  "old-agent-bridge": ({ drainAtMs }) => {
    const s = base("old-agent-bridge", "bridge task on an old agent: no ServiceName, no dynamic HostPort in the metadata", "bridge", "EC2", healthyThenDraining(drainAtMs))
    return { ...s, task: { ...s.task, serviceNameInMetadata: false, omitHostPorts: true } }
  },
  "two-target-groups": ({ drainAtMs }) => {
    const s = base("two-target-groups", "awsvpc task in two target groups; only the second drains", "awsvpc", "EC2", [{ at: 0, state: "healthy" }])
    const admin: TargetGroup = { arn: adminGroupArn, targetType: "ip", protocol: "TCP", port: 9090, targets: [{ id: s.task.privateIPv4, port: 9090, timeline: healthyThenDraining(drainAtMs) }] }
    return {
      ...s,
      task: { ...s.task, containers: s.task.containers.map((c) => c.name === "app" ? { ...c, ports: [...c.ports, { containerPort: 9090, protocol: "tcp" as const }] } : c) },
      service: { loadBalancers: [...(s.service?.loadBalancers ?? []), { targetGroupArn: adminGroupArn, containerName: "app", containerPort: 9090 }] },
      targetGroups: [...s.targetGroups, admin]
    }
  },
  "late-registration": ({ drainAtMs }) =>
    base("late-registration", "not registered at first, then initial, healthy, draining", "awsvpc", "EC2", [
      { at: 0, registered: false },
      { at: Math.round(drainAtMs * 0.5), state: "initial" },
      { at: Math.round(drainAtMs * 0.7), state: "healthy" },
      { at: drainAtMs, state: "draining" }
    ]),
  "unhealthy-draining": ({ drainAtMs }) =>
    base("unhealthy-draining", "healthy, unhealthy.draining, healthy again: never deregistered", "awsvpc", "EC2", [
      { at: 0, state: "healthy" },
      { at: Math.round(drainAtMs * 0.2), state: "unhealthy.draining" },
      { at: drainAtMs, state: "healthy" }
    ]),
  "missed-draining-window": ({ drainAtMs }) =>
    base("missed-draining-window", "healthy, then deregistered without draining ever being seen", "awsvpc", "EC2", [
      { at: 0, state: "healthy" },
      { at: drainAtMs, registered: false }
    ]),
  "not-in-service": ({ drainAtMs }) => {
    const s = base("not-in-service", "a standalone task (RunTask), not part of a service", "awsvpc", "EC2", healthyThenDraining(drainAtMs))
    return { ...s, task: { ...s.task, serviceName: null } }
  },
  "no-target-groups": ({ drainAtMs }) => ({
    ...base("no-target-groups", "a service without load balancers", "awsvpc", "EC2", healthyThenDraining(drainAtMs)),
    service: { loadBalancers: [] }
  }),
  throttling: ({ drainAtMs }) =>
    base("throttling", "DescribeTargetHealth throttled for a while before the target drains", "awsvpc", "EC2", healthyThenDraining(drainAtMs), [
      { api: "elbv2", action: "DescribeTargetHealth", from: Math.round(drainAtMs * 0.1), until: Math.round(drainAtMs * 0.75), kind: "throttle" }
    ]),
  "server-errors": ({ drainAtMs }) =>
    base("server-errors", "ELBv2 and ECS answer 5xx at times", "awsvpc", "EC2", healthyThenDraining(drainAtMs), [
      { api: "ecs", action: "DescribeServices", from: 0, until: 700, kind: "server-error" },
      { api: "elbv2", action: "DescribeTargetHealth", from: 0, until: Math.round(drainAtMs * 0.8), kind: "server-error" }
    ]),
  "slow-answers": ({ drainAtMs }) =>
    base("slow-answers", "every ELBv2 answer takes 700 ms", "awsvpc", "EC2", healthyThenDraining(drainAtMs), [
      { api: "elbv2", from: 0, until: 3_600_000, kind: "slow", delayMs: 700 }
    ]),
  "metadata-not-ready": ({ drainAtMs }) =>
    base("metadata-not-ready", "the task metadata endpoint drops connections for the first 1.5 s", "awsvpc", "EC2", healthyThenDraining(drainAtMs), [
      { api: "metadata", from: 0, until: 1500, kind: "not-ready" }
    ]),
  "access-denied": ({ drainAtMs }) =>
    base("access-denied", "the task role lacks ecs:DescribeServices", "awsvpc", "EC2", healthyThenDraining(drainAtMs), [
      { api: "ecs", action: "DescribeServices", from: 0, until: 3_600_000, kind: "access-denied" }
    ]),
  standalone: ({ drainAtMs }) => {
    const s = base("standalone", "a standalone task in a target group named by TARGET_GROUP_ARNS", "awsvpc", "EC2", healthyThenDraining(drainAtMs))
    return { ...s, task: { ...s.task, serviceName: null }, service: { loadBalancers: [] } }
  }
}

export const scenarioNames = Object.keys(builders)

/** A built-in scenario by name, or a JSON file by path. */
export const loadScenario = (nameOrPath: string, options: ScenarioOptions = {}): Scenario => {
  const build = builders[nameOrPath]
  if (build !== undefined) return decodeScenario(build({ drainAtMs: options.drainAtMs ?? 5000 }))
  if (nameOrPath.endsWith(".json")) return decodeScenario(JSON.parse(readFileSync(nameOrPath, "utf8")))
  throw new Error(`unknown scenario ${JSON.stringify(nameOrPath)}: use one of ${scenarioNames.join(", ")} or a .json file`)
}
