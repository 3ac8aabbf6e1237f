// The ELBv2 API as the SDK sees it: awsQuery (form-encoded `Action=…&
// Version=2015-12-01`), answers and errors as XML in the 2015-12-01 namespace.
import { hex } from "./ids.ts"
import {
  availabilityZone,
  type Fault,
  type Scenario,
  stateAt,
  type TargetGroup,
  type TargetState,
  vpcId
} from "./scenario.ts"

export const elbv2Namespace = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

export interface XmlAnswer {
  readonly status: number
  readonly body: string
  readonly errorCode?: string
}

const escape = (v: string | number) =>
  String(v).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;")

const el = (
  name: string,
  value: string | number | undefined
) => (value === undefined ? "" : `<${name}>${escape(value)}</${name}>`)

const respond = (action: string, result: string, requestId: string): XmlAnswer => ({
  status: 200,
  body:
    `<${action}Response xmlns="${elbv2Namespace}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
})

export const elbError = (status: number, code: string, message: string, requestId: string): XmlAnswer => ({
  status,
  body: `<ErrorResponse xmlns="${elbv2Namespace}"><Error><Type>${
    status >= 500 ? "Receiver" : "Sender"
  }</Type><Code>${code}</Code><Message>${
    escape(message)
  }</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  errorCode: code
})

/** `Prefix.member.1=a&Prefix.member.2=b` → [{"": a}, {"": b}]; `Targets.member.1.Id=x` → [{Id: x}] */
export const memberList = (params: URLSearchParams, prefix: string): Array<Record<string, string>> => {
  const items = new Map<number, Record<string, string>>()
  for (const [key, value] of params) {
    if (!key.startsWith(`${prefix}.member.`)) continue
    const m = key.slice(prefix.length + ".member.".length).match(/^(\d+)(?:\.(.+))?$/)
    if (m === null) continue
    const item = items.get(Number(m[1])) ?? {}
    item[m[2] ?? ""] = value
    items.set(Number(m[1]), item)
  }
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, v]) => v)
}

const groupName = (g: TargetGroup) => g.arn.split("/")[1] ?? ""
const isHttp = (g: TargetGroup) => g.protocol === "HTTP" || g.protocol === "HTTPS"

const loadBalancerArn = (s: Scenario, g: TargetGroup) =>
  g.loadBalancerArn ??
    `arn:aws:elasticloadbalancing:${s.region}:${s.accountId}:loadbalancer/${isHttp(g) ? "app" : "net"}/${
      groupName(g)
    }-lb/${hex(`lb:${g.arn}`, 16)}`

const groupXml = (s: Scenario, g: TargetGroup) =>
  "<member>" +
  el("TargetGroupArn", g.arn) +
  el("TargetGroupName", groupName(g)) +
  el("Protocol", g.protocol) +
  el("Port", g.port) +
  el("VpcId", vpcId) +
  // NLB groups check health over TCP whatever they carry; ALB groups over their protocol.
  el("HealthCheckProtocol", isHttp(g) ? g.protocol : "TCP") +
  el("HealthCheckPort", "traffic-port") +
  el("HealthCheckEnabled", "true") +
  el("HealthCheckIntervalSeconds", 30) +
  el("HealthCheckTimeoutSeconds", isHttp(g) ? 5 : 10) +
  el("HealthyThresholdCount", 5) +
  el("UnhealthyThresholdCount", 2) +
  (isHttp(g) ? `${el("HealthCheckPath", "/")}<Matcher>${el("HttpCode", "200")}</Matcher>` : "") +
  `<LoadBalancerArns><member>${escape(loadBalancerArn(s, g))}</member></LoadBalancerArns>` +
  el("TargetType", g.targetType) +
  (isHttp(g) ? el("ProtocolVersion", "HTTP1") : "") +
  el("IpAddressType", g.ipAddressType ?? "ipv4") +
  "</member>"

const describeTargetGroups = (s: Scenario, params: URLSearchParams, requestId: string, pageSize = 400): XmlAnswer => {
  const arns = memberList(params, "TargetGroupArns").map((m) => m[""] ?? "")
  const names = memberList(params, "Names").map((m) => m[""] ?? "")
  const lb = params.get("LoadBalancerArn")
  let groups: ReadonlyArray<TargetGroup | undefined> = s.targetGroups
  if (arns.length > 0) groups = arns.map((a) => s.targetGroups.find((g) => g.arn === a))
  else if (names.length > 0) groups = names.map((n) => s.targetGroups.find((g) => groupName(g) === n))
  else if (lb !== null) groups = s.targetGroups.filter((g) => loadBalancerArn(s, g) === lb)
  const found = groups.filter((g) => g !== undefined)
  if (found.length < groups.length) {
    return elbError(400, "TargetGroupNotFound", "One or more target groups not found", requestId)
  }
  const from = Number(params.get("Marker") ?? 0) || 0
  const page = found.slice(from, from + pageSize)
  const next = from + pageSize < found.length ? el("NextMarker", String(from + pageSize)) : ""
  return respond(
    "DescribeTargetGroups",
    `<TargetGroups>${page.map((g) => groupXml(s, g)).join("")}</TargetGroups>${next}`,
    requestId
  )
}

// The reason and description ELBv2 gives with each state (the ELB user guides' reason-code table).
const defaultReasons: Partial<Record<TargetState, readonly [string, string]>> = {
  initial: ["Elb.RegistrationInProgress", "Target registration is in progress"],
  unhealthy: ["Target.FailedHealthChecks", "Health checks failed"],
  "unhealthy.draining": ["Target.FailedHealthChecks", "Health checks failed"],
  unused: ["Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"],
  draining: ["Target.DeregistrationInProgress", "Target deregistration is in progress"],
  unavailable: ["Target.HealthCheckDisabled", "Health checks are disabled"]
}

const targetXml = (id: string, port: number, az: string | undefined) =>
  `<Target>${el("Id", id)}${el("Port", port)}${el("AvailabilityZone", az)}</Target>`

const registeredXml = (
  id: string,
  port: number,
  az: string | undefined,
  state: TargetState,
  reason?: string,
  description?: string
) =>
  `<member>${targetXml(id, port, az)}${el("HealthCheckPort", port)}` +
  `<TargetHealth>${el("State", state)}${el("Reason", reason)}${el("Description", description)}</TargetHealth>` +
  `<AdministrativeOverride>${el("State", "no_override")}${el("Reason", "AdministrativeOverride.NoOverride")}${
    el("Description", "No override is currently active on target")
  }</AdministrativeOverride></member>`

// A target that is asked about but not registered has no health check port.
const notRegisteredXml = (id: string, port: number) =>
  `<member>${targetXml(id, port, undefined)}<TargetHealth>${el("State", "unused")}${
    el("Reason", "Target.NotRegistered")
  }${el("Description", "Target is not registered to the target group")}</TargetHealth></member>`

/** The group a request names in TargetGroupArn, or the error ELBv2 answers when there is none. */
const namedGroup = (s: Scenario, params: URLSearchParams, requestId: string): TargetGroup | XmlAnswer => {
  const arn = params.get("TargetGroupArn")
  if (arn === null || arn === "") {
    return elbError(
      400,
      "ValidationError",
      "1 validation error detected: Value null at 'targetGroupArn' failed to satisfy constraint: Member must not be null",
      requestId
    )
  }
  return s.targetGroups.find((g) => g.arn === arn) ??
    elbError(400, "TargetGroupNotFound", `Target groups '${arn}' not found`, requestId)
}

const describeTargetHealth = (s: Scenario, params: URLSearchParams, t: number, requestId: string): XmlAnswer => {
  const group = namedGroup(s, params, requestId)
  if ("status" in group) return group
  const asked = memberList(params, "Targets")
  if (asked.some((a) => a.Id === undefined || a.Id === "")) {
    return elbError(
      400,
      "ValidationError",
      "1 validation error detected: Value null at 'targets.member.id' failed to satisfy constraint: Member must not be null",
      requestId
    )
  }
  // ip targets carry their Availability Zone; instance targets do not.
  const az = (target: { readonly availabilityZone?: string }) =>
    target.availabilityZone ?? (group.targetType === "ip" ? availabilityZone(s) : undefined)
  const describe = (id: string, port: number) => {
    const target = group.targets.find((x) => x.id === id && x.port === port)
    const step = target === undefined ? undefined : stateAt(target.timeline, t)
    if (target === undefined || step === undefined) return notRegisteredXml(id, port)
    const [reason, description] = step.state === "healthy" ? [] : defaultReasons[step.state] ?? []
    return registeredXml(id, port, az(target), step.state, step.reason ?? reason, step.description ?? description)
  }
  if (asked.length === 0) {
    const registered = group.targets.filter((x) => stateAt(x.timeline, t) !== undefined)
    return respond(
      "DescribeTargetHealth",
      `<TargetHealthDescriptions>${registered.map((x) => describe(x.id, x.port)).join("")}</TargetHealthDescriptions>`,
      requestId
    )
  }
  if (group.targetType === "instance") {
    // Instance ids the account does not have are refused outright, not reported as unused.
    const knownInstances = new Set([
      s.task.containerInstance?.ec2InstanceId,
      ...s.targetGroups.flatMap((g) => g.targets.map((x) => x.id))
    ])
    const unknown = asked.map((a) => a.Id ?? "").filter((id) => !knownInstances.has(id))
    if (unknown.length > 0) {
      return elbError(
        400,
        "InvalidTarget",
        `The following targets are not valid instances: ${unknown.map((id) => `'${id}'`).join(", ")}`,
        requestId
      )
    }
  }
  const body = asked.map((a) => describe(a.Id ?? "", a.Port === undefined ? group.port : Number(a.Port))).join("")
  return respond("DescribeTargetHealth", `<TargetHealthDescriptions>${body}</TargetHealthDescriptions>`, requestId)
}

const udp = (g: TargetGroup) => g.protocol === "UDP" || g.protocol === "TCP_UDP"

/**
 * What DescribeTargetGroupAttributes lists for a group, with ELBv2's defaults
 * (the TargetGroupAttribute keys of the ELBv2 API reference): the attributes
 * of every group, then those of an Application Load Balancer's group (HTTP,
 * HTTPS) or of a Network Load Balancer's (TCP, TLS, UDP, TCP_UDP), then those
 * both have.
 */
const targetGroupAttributes = (g: TargetGroup): ReadonlyArray<readonly [string, string]> => [
  ["stickiness.enabled", "false"],
  ["deregistration_delay.timeout_seconds", String(g.deregistrationDelaySeconds ?? 300)],
  ...(isHttp(g)
    ? [
      ["stickiness.type", "lb_cookie"],
      ["stickiness.lb_cookie.duration_seconds", "86400"],
      ["slow_start.duration_seconds", "0"],
      ["stickiness.app_cookie.cookie_name", ""],
      ["stickiness.app_cookie.duration_seconds", "86400"],
      ["load_balancing.algorithm.type", "round_robin"],
      ["load_balancing.algorithm.anomaly_mitigation", "off"]
    ] as const
    : [
      ["stickiness.type", "source_ip"],
      // UDP and TCP_UDP groups close connections at the end of the delay by default.
      ["deregistration_delay.connection_termination.enabled", String(udp(g))],
      // Off by default only for ip targets over TCP or TLS; UDP cannot turn it off.
      [
        "preserve_client_ip.enabled",
        String(!(g.targetType === "ip" && (g.protocol === "TCP" || g.protocol === "TLS")))
      ],
      ["proxy_protocol_v2.enabled", "false"],
      // Cannot be enabled for UDP and TCP_UDP groups.
      ["target_health_state.unhealthy.connection_termination.enabled", String(!udp(g))],
      ["target_health_state.unhealthy.draining_interval_seconds", "0"]
    ] as const),
  ["load_balancing.cross_zone.enabled", "use_load_balancer_configuration"],
  ["target_group_health.dns_failover.minimum_healthy_targets.count", "1"],
  ["target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"],
  ["target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1"],
  ["target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off"]
]

const describeTargetGroupAttributes = (s: Scenario, params: URLSearchParams, requestId: string): XmlAnswer => {
  const group = namedGroup(s, params, requestId)
  if ("status" in group) return group
  const members = targetGroupAttributes(group).map(([key, value]) =>
    `<member>${el("Key", key)}${el("Value", value)}</member>`
  )
  return respond("DescribeTargetGroupAttributes", `<Attributes>${members.join("")}</Attributes>`, requestId)
}

export const handleElbv2 = (
  s: Scenario,
  action: string,
  params: URLSearchParams,
  t: number,
  requestId: string
): XmlAnswer => {
  switch (action) {
    case "DescribeTargetGroups":
      return describeTargetGroups(s, params, requestId)
    case "DescribeTargetHealth":
      return describeTargetHealth(s, params, t, requestId)
    case "DescribeTargetGroupAttributes":
      return describeTargetGroupAttributes(s, params, requestId)
    default:
      return elbError(400, "InvalidAction", `Could not find operation ${action} for version 2015-12-01`, requestId)
  }
}

/** DescribeTargetHealth answers that are well-formed (or not) but say nothing true about the asked targets. */
const misleadingTargetHealth = (
  s: Scenario,
  kind: Fault["kind"],
  params: URLSearchParams,
  t: number,
  requestId: string
): XmlAnswer | undefined => {
  const group = s.targetGroups.find((g) => g.arn === params.get("TargetGroupArn"))
  const asked = memberList(params, "Targets").map((a) => ({
    id: a.Id ?? "",
    port: a.Port === undefined ? group?.port ?? 0 : Number(a.Port)
  }))
  const list = (members: string) =>
    respond("DescribeTargetHealth", `<TargetHealthDescriptions>${members}</TargetHealthDescriptions>`, requestId)
  switch (kind) {
    case "not-registered":
      return list(asked.map((a) => notRegisteredXml(a.id, a.port)).join(""))
    case "empty-answer":
      return list("")
    case "other-targets": {
      const others = (group?.targets ?? []).filter((x) => !asked.some((a) => a.id === x.id && a.port === x.port))
      return list(
        others.flatMap((x) => {
          const step = stateAt(x.timeline, t)
          return step === undefined ? [] : [registeredXml(x.id, x.port, x.availabilityZone, step.state)]
        }).join("")
      )
    }
    case "malformed":
      return {
        status: 200,
        body: `<DescribeTargetHealthResponse xmlns="${elbv2Namespace}"><DescribeTargetHealthResult><TargetHealthDe`
      }
    case "duplicate-target": {
      const truthful = describeTargetHealth(s, params, t, requestId)
      const draining = asked.map((a) =>
        registeredXml(a.id, a.port, undefined, "draining", ...(defaultReasons.draining ?? []))
      ).join("")
      return {
        ...truthful,
        body: truthful.body.replace("<TargetHealthDescriptions>", `<TargetHealthDescriptions>${draining}`)
      }
    }
    default:
      return undefined
  }
}

/** The answer for an injected fault; `undefined` for kinds that do not answer (not-ready) or only delay (slow). */
export const elbFault = (
  s: Scenario,
  fault: Fault,
  action: string,
  params: URLSearchParams,
  t: number,
  requestId: string
): XmlAnswer | undefined => {
  switch (fault.kind) {
    case "not-registered":
    case "empty-answer":
    case "other-targets":
    case "malformed":
    case "duplicate-target":
      return misleadingTargetHealth(s, fault.kind, params, t, requestId)
    case "paged":
      return describeTargetGroups(s, params, requestId, 1)
    case "throttle":
      return elbError(400, "Throttling", "Rate exceeded", requestId)
    case "server-error":
      return fault.status === 500
        ? elbError(
          500,
          "InternalFailure",
          "The request processing has failed because of an unknown error, exception or failure.",
          requestId
        )
        : elbError(503, "ServiceUnavailable", "Service Unavailable", requestId)
    case "access-denied": {
      const permission = `elasticloadbalancing:${action}`
      return elbError(
        403,
        "AccessDenied",
        `User: arn:aws:sts::${s.accountId}:assumed-role/${s.task.family}-task/${s.task.taskId} is not authorized to perform: ${permission} because no identity-based policy allows the ${permission} action`,
        requestId
      )
    }
    case "not-found": {
      const arn = params.get("TargetGroupArn")
      return elbError(
        400,
        "TargetGroupNotFound",
        arn === null ? "One or more target groups not found" : `Target groups '${arn}' not found`,
        requestId
      )
    }
    default:
      return undefined
  }
}
