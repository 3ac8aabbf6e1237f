// The ELBv2 API as the SDK sees it: awsQuery (form-encoded `Action=…&
// Version=2015-12-01`), answers and errors as XML in the 2015-12-01 namespace.
import { randomUUID } from "node:crypto"
import { type Scenario, stateAt } from "./scenario.ts"

const ns = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

export interface XmlAnswer {
  readonly status: number
  readonly body: string
  readonly errorCode?: string
}

const escape = (v: string | number) =>
  String(v).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll("\"", "&quot;")

const el = (name: string, value: string | number | undefined) => (value === undefined ? "" : `<${name}>${escape(value)}</${name}>`)

const respond = (action: string, result: string): XmlAnswer => ({
  status: 200,
  body: `<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
})

export const elbError = (status: number, code: string, message: string): XmlAnswer => ({
  status,
  body: `<ErrorResponse xmlns="${ns}"><Error><Type>${status >= 500 ? "Receiver" : "Sender"}</Type><Code>${code}</Code><Message>${escape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  errorCode: code
})

/** `Prefix.member.1=a&Prefix.member.2=b` → [a, b]; `Targets.member.1.Id` → [{Id}] */
export const memberList = (params: URLSearchParams, prefix: string): Array<Record<string, string>> => {
  const items = new Map<number, Record<string, string>>()
  for (const [key, value] of params) {
    const m = key.match(new RegExp(`^${prefix}\\.member\\.(\\d+)(?:\\.(.+))?$`))
    if (m === null) continue
    const item = items.get(Number(m[1])) ?? {}
    item[m[2] ?? ""] = value
    items.set(Number(m[1]), item)
  }
  return [...items.entries()].sort(([a], [b]) => a - b).map(([, v]) => v)
}

const describeTargetGroups = (s: Scenario, params: URLSearchParams): XmlAnswer => {
  const arns = memberList(params, "TargetGroupArns").map((m) => m[""] ?? "")
  const groups = arns.length === 0 ? s.targetGroups : arns.map((a) => s.targetGroups.find((g) => g.arn === a))
  if (groups.some((g) => g === undefined)) return elbError(400, "TargetGroupNotFound", "One or more target groups not found")
  const members = groups.map((g) =>
    g === undefined ? "" : `<member>${el("TargetGroupArn", g.arn)}${el("TargetGroupName", g.arn.split("/")[1])}${el("Protocol", g.protocol)}${el("Port", g.port)}${el("VpcId", "vpc-0123456789abcdef0")}${el("HealthCheckProtocol", g.protocol === "UDP" ? "TCP" : g.protocol)}${el("HealthCheckPort", "traffic-port")}<HealthCheckEnabled>true</HealthCheckEnabled>${el("HealthCheckIntervalSeconds", 30)}${el("HealthCheckTimeoutSeconds", 10)}${el("HealthyThresholdCount", 5)}${el("UnhealthyThresholdCount", 2)}<LoadBalancerArns><member>${escape(`arn:aws:elasticloadbalancing:${s.region}:${s.accountId}:loadbalancer/net/web/50dc6c495c0c9188`)}</member></LoadBalancerArns>${el("TargetType", g.targetType)}${el("IpAddressType", g.ipAddressType ?? "ipv4")}</member>`
  )
  return respond("DescribeTargetGroups", `<TargetGroups>${members.join("")}</TargetGroups>`)
}

const healthXml = (id: string, port: number, state: string, reason?: string, description?: string) =>
  `<member><Target>${el("Id", id)}${el("Port", port)}</Target>${el("HealthCheckPort", String(port))}<TargetHealth>${el("State", state)}${el("Reason", reason)}${el("Description", description)}</TargetHealth></member>`

const defaultReasons: Record<string, [string, string] | undefined> = {
  initial: ["Elb.RegistrationInProgress", "Target registration is in progress"],
  draining: ["Target.DeregistrationInProgress", "Target deregistration is in progress"],
  "unhealthy.draining": ["Target.FailedHealthChecks", "Health checks failed"],
  unhealthy: ["Target.FailedHealthChecks", "Health checks failed"]
}

const describeTargetHealth = (s: Scenario, params: URLSearchParams, t: number): XmlAnswer => {
  const group = s.targetGroups.find((g) => g.arn === params.get("TargetGroupArn"))
  if (group === undefined) return elbError(400, "TargetGroupNotFound", `Target group '${params.get("TargetGroupArn")}' not found`)
  const asked = memberList(params, "Targets")
  const describe = (id: string, port: number) => {
    const target = group.targets.find((x) => x.id === id && x.port === port)
    const step = target === undefined ? undefined : stateAt(target.timeline, t)
    if (step === undefined) return healthXml(id, port, "unused", "Target.NotRegistered", "Target is not registered to the target group")
    const [reason, description] = defaultReasons[step.state] ?? []
    return healthXml(id, port, step.state, step.reason ?? reason, step.description ?? description)
  }
  if (asked.length === 0) {
    const registered = group.targets.filter((x) => stateAt(x.timeline, t) !== undefined)
    return respond("DescribeTargetHealth", `<TargetHealthDescriptions>${registered.map((x) => describe(x.id, x.port)).join("")}</TargetHealthDescriptions>`)
  }
  // Instance ids the account does not have are refused outright, as AWS does.
  const knownInstances = new Set([s.task.containerInstance?.ec2InstanceId, ...group.targets.map((x) => x.id)])
  const unknown = asked.find((a) => group.targetType === "instance" && !knownInstances.has(a.Id))
  if (unknown !== undefined) return elbError(400, "InvalidTarget", `The following targets are not valid instances: '${unknown.Id}'`)
  const body = asked.map((a) => describe(a.Id ?? "", Number(a.Port ?? group.port))).join("")
  return respond("DescribeTargetHealth", `<TargetHealthDescriptions>${body}</TargetHealthDescriptions>`)
}

export const handleElbv2 = (s: Scenario, action: string, params: URLSearchParams, t: number): XmlAnswer => {
  switch (action) {
    case "DescribeTargetGroups":
      return describeTargetGroups(s, params)
    case "DescribeTargetHealth":
      return describeTargetHealth(s, params, t)
    default:
      return elbError(400, "InvalidAction", `${action} is not simulated`)
  }
}
