// A simulator scenario: the task, its service and target groups, how each
// target's state changes over time, and which faults to inject. Plain data
// (JSON-able), checked with Schema when loaded; a bad scenario fails with a
// message naming the field.
import { Schema } from "effect"

const Ms = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))
const Port = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))
const IPv4 = Schema.String.check(
  Schema.isPattern(/^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/)
)

/** The states the ELBv2 model lists for TargetHealth.State. */
export const TargetState = Schema.Literals([
  "initial",
  "healthy",
  "unhealthy",
  "unhealthy.draining",
  "unused",
  "draining",
  "unavailable"
])
export type TargetState = typeof TargetState.Type

const StateStep = Schema.Struct({
  at: Ms,
  state: TargetState,
  /** Defaults per state (see elbv2.ts); `healthy` has none. */
  reason: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String)
})
/** Not registered from `at` on: not yet, or deregistered after draining. */
const Unregistered = Schema.Struct({ at: Ms, registered: Schema.Literal(false) })
export const TimelineStep = Schema.Union([StateStep, Unregistered])
export type TimelineStep = typeof TimelineStep.Type

const Target = Schema.Struct({
  /** An IPv4 address for `ip` groups, an EC2 instance id for `instance` groups. */
  id: Schema.String,
  port: Port,
  availabilityZone: Schema.optionalKey(Schema.String),
  /** Ordered by `at`; before the first step the target is not registered. */
  timeline: Schema.Array(TimelineStep)
})

const TargetGroup = Schema.Struct({
  arn: Schema.String.check(
    Schema.isPattern(
      /^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[A-Za-z0-9-]{1,32}\/[0-9a-f]{16}$/
    )
  ),
  targetType: Schema.Literals(["ip", "instance"]),
  protocol: Schema.Literals(["TCP", "UDP", "TCP_UDP", "TLS", "HTTP", "HTTPS"]),
  port: Port,
  ipAddressType: Schema.optionalKey(Schema.Literals(["ipv4", "ipv6"])),
  loadBalancerArn: Schema.optionalKey(Schema.String),
  /** The attribute deregistration_delay.timeout_seconds (0-3600); ELBv2's default, 300, when absent. */
  deregistrationDelaySeconds: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3600 }))),
  targets: Schema.Array(Target)
})
export type TargetGroup = typeof TargetGroup.Type

const PortMapping = Schema.Struct({
  containerPort: Port,
  /** Required in bridge mode (the port Docker picked); equal to containerPort otherwise. */
  hostPort: Schema.optionalKey(Port),
  protocol: Schema.Literals(["tcp", "udp"])
})

const Container = Schema.Struct({
  name: Schema.NonEmptyString,
  image: Schema.NonEmptyString,
  /** CPU units and MiB, as in the task definition. */
  cpu: Schema.optionalKey(Schema.Int),
  memory: Schema.optionalKey(Schema.Int),
  ports: Schema.Array(PortMapping)
})
export type Container = typeof Container.Type

const Task = Schema.Struct({
  launchType: Schema.Literals(["FARGATE", "EC2"]),
  networkMode: Schema.Literals(["awsvpc", "bridge", "host"]),
  /** The cluster's short name. */
  cluster: Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,255}$/)),
  family: Schema.NonEmptyString,
  revision: Schema.String.check(Schema.isPattern(/^\d+$/)),
  taskId: Schema.String.check(Schema.isPattern(/^[0-9a-f]{32}$/)),
  /** The task ENI's address (awsvpc) or the instance's private address. */
  privateIPv4: IPv4,
  /** `null`: a standalone task (DescribeTasks group `family:…`). */
  serviceName: Schema.NullOr(Schema.String),
  /** ECS agent 1.63.1+ on EC2 adds ServiceName and VPCID; Fargate never does. */
  serviceNameInMetadata: Schema.Boolean,
  /**
   * ECS agents before 1.41.1 built Ports from the task definition: no dynamic
   * HostPort, one entry per mapping; those agents also predate LaunchType,
   * LogDriver, LogOptions and ContainerARN (1.45.0).
   */
  omitHostPorts: Schema.Boolean,
  /** CODE_DEPLOY and EXTERNAL: the id of the service's task set that started this task. */
  taskSet: Schema.optionalKey(Schema.String),
  containerInstance: Schema.optionalKey(Schema.Struct({
    arn: Schema.String.check(Schema.isPattern(/^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:container-instance\/.+$/)),
    ec2InstanceId: Schema.String.check(Schema.isPattern(/^i-[0-9a-f]{8,17}$/))
  })),
  /** The container whose `/v4/<id>` answers the container metadata. */
  sidecarContainer: Schema.String,
  /**
   * ECS stops the task from `at` on: DescribeTasks says desiredStatus STOPPED,
   * lastStatus DEACTIVATING, with the stop code and reason, while its targets drain.
   */
  stop: Schema.optionalKey(Schema.Struct({
    at: Ms,
    stopCode: Schema.Literals([
      "ServiceSchedulerInitiated",
      "UserInitiated",
      "SpotInterruption",
      "TaskFailedToStart",
      "EssentialContainerExited"
    ]),
    stoppedReason: Schema.String
  })),
  containers: Schema.Array(Container)
})
export type Task = typeof Task.Type

const LoadBalancer = Schema.Struct({
  targetGroupArn: Schema.optionalKey(Schema.String),
  /** Classic Load Balancers only. */
  loadBalancerName: Schema.optionalKey(Schema.String),
  containerName: Schema.String,
  containerPort: Port,
  /** Blue/green (and canary, linear) deployments of the ECS controller: where new revisions are registered. */
  advancedConfiguration: Schema.optionalKey(Schema.Struct({
    alternateTargetGroupArn: Schema.String,
    productionListenerRule: Schema.optionalKey(Schema.String),
    testListenerRule: Schema.optionalKey(Schema.String),
    roleArn: Schema.optionalKey(Schema.String)
  }))
})

/** A task set of a CODE_DEPLOY or EXTERNAL service. */
const TaskSet = Schema.Struct({
  /** `ecs-svc/` and 19 digits, as ECS names them; its tasks' DescribeTasks `startedBy`. */
  id: Schema.String.check(Schema.isPattern(/^ecs-svc\/\d{19}$/)),
  status: Schema.Literals(["PRIMARY", "ACTIVE", "DRAINING"]),
  loadBalancers: Schema.Array(LoadBalancer)
})

const Service = Schema.Struct({
  loadBalancers: Schema.Array(LoadBalancer),
  /** `ECS` when absent. */
  deploymentController: Schema.optionalKey(Schema.Literals(["ECS", "CODE_DEPLOY", "EXTERNAL"])),
  /** The ECS controller's `deploymentConfiguration.strategy`; `ROLLING` when absent. */
  strategy: Schema.optionalKey(Schema.Literals(["ROLLING", "BLUE_GREEN"])),
  taskSets: Schema.optionalKey(Schema.Array(TaskSet))
})

export const Fault = Schema.Struct({
  api: Schema.Literals(["metadata", "ecs", "elbv2", "credentials"]),
  /** An operation (`DescribeTargetHealth`) or, for metadata, `task` / `container`; all when absent. */
  action: Schema.optionalKey(Schema.String),
  from: Ms,
  until: Ms,
  /**
   * - throttle: ECS ThrottlingException 400, ELBv2 Throttling 400, metadata 429 (the agent's rate limiter)
   * - server-error: ECS ServerException 500, ELBv2 ServiceUnavailable 503 (InternalFailure with status 500), metadata 500
   * - slow: answers after delayMs (default 1000), combinable with any other kind
   * - access-denied: ECS AccessDeniedException 400, ELBv2 AccessDenied 403
   * - not-ready: the connection is reset without an answer, as when the
   *   agent is (re)starting and nothing listens behind 169.254.170.2
   * - not-found: ECS ClusterNotFoundException, ELBv2 TargetGroupNotFound,
   *   metadata 404 (the agent does not know the endpoint id)
   * - not-registered: ELBv2 DescribeTargetHealth reads the asked targets as
   *   `unused` / `Target.NotRegistered` (a stale, eventually consistent read)
   * - empty-answer, other-targets, malformed: DescribeTargetHealth answers 200
   *   with no targets, with only the targets not asked about, or with a body
   *   that is not XML
   * - clock-skew: ECS and ELBv2 run `skewMs` ahead of the caller's clock (their
   *   Date header says so) and refuse requests signed more than 5 minutes off it:
   *   ECS InvalidSignatureException, ELBv2 SignatureDoesNotMatch ("Signature expired")
   * - duplicate-target: DescribeTargetHealth lists each asked target twice,
   *   first as `draining`, then as it is
   * - paged: DescribeTargetGroups answers one group per page, with NextMarker
   * - for credentials, access-denied answers 403 with the agent's JSON error body
   * - drip (metadata only): 200 and the usual body, one byte every delayMs (default 1000)
   * - oversized (metadata only): 200 and a valid body padded to `bytes` (default 20 MiB), chunked
   * - signature-mismatch: ECS InvalidSignatureException 400, ELBv2 SignatureDoesNotMatch 403, quoting
   *   the canonical request (session token included) as AWS does
   */
  kind: Schema.Literals([
    "throttle",
    "server-error",
    "slow",
    "access-denied",
    "not-ready",
    "not-found",
    "not-registered",
    "empty-answer",
    "other-targets",
    "malformed",
    "duplicate-target",
    "paged",
    "clock-skew",
    "drip",
    "oversized",
    "signature-mismatch"
  ]),
  delayMs: Schema.optionalKey(Ms),
  status: Schema.optionalKey(Schema.Literals([500, 503])),
  skewMs: Schema.optionalKey(Schema.Finite),
  bytes: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))),
  /** Every n-th matching request in the window is let through (a saturated token bucket lets some by). */
  passEvery: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(2))),
  /** At most this many requests see the fault (each matching request counts); all in the window when absent. */
  times: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)))
})
export type Fault = typeof Fault.Type

type Issue = { readonly path: ReadonlyArray<PropertyKey>; readonly issue: string }

const crossChecks = (s: {
  readonly task: Task
  readonly service?: typeof Service.Type
  readonly targetGroups: ReadonlyArray<TargetGroup>
  readonly faults: ReadonlyArray<Fault>
}): Array<Issue> => {
  const issues: Array<Issue> = []
  const { task } = s
  if (task.launchType === "FARGATE" && task.networkMode !== "awsvpc") {
    issues.push({ path: ["task", "networkMode"], issue: "Fargate tasks use awsvpc" })
  }
  if (task.launchType === "EC2" && task.containerInstance === undefined) {
    issues.push({ path: ["task", "containerInstance"], issue: "an EC2 task runs on a container instance" })
  }
  if (task.launchType === "FARGATE" && task.containerInstance !== undefined) {
    issues.push({ path: ["task", "containerInstance"], issue: "Fargate tasks have no container instance" })
  }
  if (task.launchType === "FARGATE" && task.serviceNameInMetadata) {
    issues.push({ path: ["task", "serviceNameInMetadata"], issue: "Fargate's metadata has no ServiceName" })
  }
  if (task.omitHostPorts && task.serviceNameInMetadata) {
    issues.push({
      path: ["task", "serviceNameInMetadata"],
      issue: "an agent before 1.41.1 (omitHostPorts) predates ServiceName (1.63.1)"
    })
  }
  const names = task.containers.map((c) => c.name)
  if (!names.includes(task.sidecarContainer)) {
    issues.push({ path: ["task", "sidecarContainer"], issue: `not one of the containers (${names.join(", ")})` })
  }
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) {
      issues.push({ path: ["task", "containers", i, "name"], issue: `duplicate container name ${n}` })
    }
  })
  task.containers.forEach((c, i) =>
    c.ports.forEach((p, j) => {
      const path = ["task", "containers", i, "ports", j, "hostPort"]
      if (task.networkMode === "bridge" && p.hostPort === undefined) {
        issues.push({ path, issue: "bridge mode needs the host port Docker assigned" })
      }
      if (task.networkMode !== "bridge" && p.hostPort !== undefined && p.hostPort !== p.containerPort) {
        issues.push({ path, issue: `${task.networkMode} mode: the host port is the container port` })
      }
    })
  )
  s.service?.loadBalancers.forEach((lb, i) => {
    if (!names.includes(lb.containerName)) {
      issues.push({
        path: ["service", "loadBalancers", i, "containerName"],
        issue: `not one of the containers (${names.join(", ")})`
      })
    }
  })
  const controller = s.service?.deploymentController ?? "ECS"
  const taskSets = s.service?.taskSets ?? []
  if (controller === "ECS" && taskSets.length > 0) {
    issues.push({ path: ["service", "taskSets"], issue: "only CODE_DEPLOY and EXTERNAL services have task sets" })
  }
  if (controller !== "ECS" && s.service?.strategy !== undefined) {
    issues.push({ path: ["service", "strategy"], issue: "a deployment strategy belongs to the ECS controller" })
  }
  s.service?.loadBalancers.forEach((lb, i) => {
    if (lb.advancedConfiguration !== undefined && s.service?.strategy !== "BLUE_GREEN") {
      issues.push({
        path: ["service", "loadBalancers", i, "advancedConfiguration"],
        issue: "an alternate target group needs the BLUE_GREEN strategy"
      })
    }
  })
  if (task.taskSet !== undefined && !taskSets.some((ts) => ts.id === task.taskSet)) {
    issues.push({ path: ["task", "taskSet"], issue: "not one of the service's task sets" })
  }
  if (task.taskSet === undefined && taskSets.length > 0) {
    issues.push({ path: ["task", "taskSet"], issue: "a task of a service with task sets belongs to one" })
  }
  s.targetGroups.forEach((g, i) =>
    g.targets.forEach((target, j) => {
      const validId = g.targetType === "ip" ? /^[\d.]+$/.test(target.id) : /^i-[0-9a-f]{8,17}$/.test(target.id)
      if (!validId) {
        issues.push({
          path: ["targetGroups", i, "targets", j, "id"],
          issue: `not an ${g.targetType === "ip" ? "IPv4 address" : "EC2 instance id"}`
        })
      }
      target.timeline.forEach((step, k) => {
        const previous = target.timeline[k - 1]
        if (previous !== undefined && step.at < previous.at) {
          issues.push({
            path: ["targetGroups", i, "targets", j, "timeline", k, "at"],
            issue: "steps must be in time order"
          })
        }
      })
    })
  )
  s.faults.forEach((f, i) => {
    if (f.until <= f.from) issues.push({ path: ["faults", i, "until"], issue: "must be after from" })
    if (f.api === "metadata" && (f.kind === "access-denied" || f.kind === "signature-mismatch")) {
      issues.push({ path: ["faults", i, "kind"], issue: `the metadata endpoint has no ${f.kind} answer` })
    }
    if (f.api !== "metadata" && (f.kind === "drip" || f.kind === "oversized")) {
      issues.push({ path: ["faults", i, "kind"], issue: `${f.kind} is a metadata fault` })
    }
    const elbAnswers = ["not-registered", "empty-answer", "other-targets", "malformed", "duplicate-target"]
    if (
      elbAnswers.includes(f.kind) &&
      (f.api !== "elbv2" || (f.action ?? "DescribeTargetHealth") !== "DescribeTargetHealth")
    ) {
      issues.push({ path: ["faults", i, "kind"], issue: `${f.kind} is an answer of ELBv2 DescribeTargetHealth` })
    }
    if (f.kind === "paged" && (f.api !== "elbv2" || (f.action ?? "DescribeTargetGroups") !== "DescribeTargetGroups")) {
      issues.push({ path: ["faults", i, "kind"], issue: "paged is an answer of ELBv2 DescribeTargetGroups" })
    }
    if (f.kind === "clock-skew" && f.api !== "ecs" && f.api !== "elbv2") {
      issues.push({ path: ["faults", i, "kind"], issue: "only signed APIs (ecs, elbv2) refuse a skewed clock" })
    }
    if (f.kind === "clock-skew" && f.skewMs === undefined) {
      issues.push({ path: ["faults", i, "skewMs"], issue: "a clock-skew fault needs skewMs" })
    }
    if (
      f.api === "credentials" && f.kind !== "access-denied" && f.kind !== "not-ready" && f.kind !== "slow" &&
      f.kind !== "server-error"
    ) {
      issues.push({
        path: ["faults", i, "kind"],
        issue: "the credentials endpoint answers access-denied, server-error, slow or not-ready"
      })
    }
  })
  return issues
}

export const Scenario = Schema.Struct({
  name: Schema.NonEmptyString,
  description: Schema.String,
  region: Schema.String.check(Schema.isPattern(/^[a-z]{2}(?:-[a-z]+)+-\d$/)),
  accountId: Schema.String.check(Schema.isPattern(/^\d{12}$/)),
  task: Task,
  /** The service named by task.serviceName, when there is one. */
  service: Schema.optionalKey(Service),
  targetGroups: Schema.Array(TargetGroup),
  faults: Schema.Array(Fault)
}).check(Schema.makeFilter(crossChecks))
export type Scenario = typeof Scenario.Type

// `at ["task"]["containers"][0]["name"]` → `task.containers[0].name`
const fieldPath = (at: string) => at.replace(/\["([^"]*)"\]/g, ".$1").replace(/^\./, "")

const readable = (message: string) =>
  message.split("\n").reduce<Array<string>>((lines, line) => {
    const at = line.match(/^\s+at (.*)$/)
    if (at === null || lines.length === 0) return [...lines, line]
    return [...lines.slice(0, -1), `${fieldPath(at[1] ?? "")}: ${lines.at(-1)}`]
  }, []).join("; ")

const decode = Schema.decodeUnknownSync(Scenario)

/** Validates a scenario; the error names each offending field (`task.networkMode: …`). */
export const decodeScenario = (input: unknown): Scenario => {
  try {
    return decode(input, { errors: "all", onExcessProperty: "error" })
  } catch (error) {
    throw new Error(`invalid scenario: ${readable(error instanceof Error ? error.message : String(error))}`)
  }
}

/** The step in force at `t`, or `undefined` while the target is not registered. */
export const stateAt = (timeline: ReadonlyArray<TimelineStep>, t: number) => {
  const step = timeline.findLast((s) => s.at <= t)
  return step === undefined || "registered" in step ? undefined : step
}

export const clusterArn = (s: Scenario) => `arn:aws:ecs:${s.region}:${s.accountId}:cluster/${s.task.cluster}`
export const taskArn = (s: Scenario) => `arn:aws:ecs:${s.region}:${s.accountId}:task/${s.task.cluster}/${s.task.taskId}`
export const taskDefinitionArn = (s: Scenario) =>
  `arn:aws:ecs:${s.region}:${s.accountId}:task-definition/${s.task.family}:${s.task.revision}`
export const serviceArn = (s: Scenario, name: string) =>
  `arn:aws:ecs:${s.region}:${s.accountId}:service/${s.task.cluster}/${name}`
export const taskSetArn = (s: Scenario, service: string, id: string) =>
  `arn:aws:ecs:${s.region}:${s.accountId}:task-set/${s.task.cluster}/${service}/${id}`
export const availabilityZone = (s: Scenario) => `${s.region}a`
export const vpcId = "vpc-0c2d8e4f6a1b3c5d7"
