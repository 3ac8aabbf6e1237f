// What `check` reports, and the report as an operator reads it (`--json`
// prints the CheckReport itself).
import type { GroupRole } from "../domain.ts"
import { type CallsReport, formatCalls } from "./checkCalls.ts"

export interface PermissionUse {
  readonly action: string
  readonly ok: boolean
  readonly error?: string
  /** Used for what operators see (metrics, stop reasons); the sidecar works without it. */
  readonly optional?: true
}

export interface CheckReport {
  readonly ok: boolean
  readonly exitCode: number
  readonly error?: string
  readonly cluster?: string
  readonly taskArn?: string
  readonly service?: string | null
  /** `ECS`, `CODE_DEPLOY` or `EXTERNAL` (null with TARGET_GROUP_ARNS), and this task's task set under the last two. */
  readonly deploymentController?: string | null
  readonly taskSet?: string | null
  readonly networkMode?: string
  readonly targetGroups: ReadonlyArray<{
    readonly arn: string
    /** primary, alternate (blue/green) or task set; null with TARGET_GROUP_ARNS. */
    readonly role: GroupRole | null
    /**
     * Whether this task is registered there now. A blue/green task is in one of
     * its primary and alternate groups; both are watched, each at one
     * DescribeTargetHealth per poll.
     */
    readonly registered: boolean
    readonly targetType: string
    readonly protocol: string | null
    /** deregistration_delay.timeout_seconds, when it could be read. */
    readonly deregistrationDelaySeconds: number | null
    readonly targets: ReadonlyArray<
      { readonly id: string; readonly port: number; readonly state: string; readonly reason: string | null }
    >
  }>
  readonly permissions: ReadonlyArray<PermissionUse>
  /** DRAIN_STRATEGY, and for `connections` the open connections on each target port now (what the wait would see). */
  readonly drain?: {
    /** What DRAIN_STRATEGY is (`auto`: what it resolved to), and why. */
    readonly strategy: string
    readonly why: string
    readonly ports?: ReadonlyArray<{
      readonly port: number
      readonly connections: number
      /** Peers on loopback (inside the task, or on the instance in host mode): they hold the port like clients. */
      readonly loopbackPeers: ReadonlyArray<string>
    }>
  }
  /** The API calls this task makes, and its service's share of the account's buckets. */
  readonly calls?: CallsReport
  /** What to change for the sidecar to do better; never a failure (the exit code does not change). */
  readonly advice: ReadonlyArray<string>
}

export const formatCheckReport = (r: CheckReport): string => {
  const lines = [
    `nlb-sidecar-for-ecs check: ${r.ok ? "OK" : "FAILED"} (exit code ${r.exitCode})`,
    ...(r.error === undefined ? [] : [`  problem:      ${r.error}`]),
    ...(r.cluster === undefined ? [] : [`  cluster:      ${r.cluster}`, `  task:         ${r.taskArn}`]),
    ...(r.service === undefined ? [] : [`  service:      ${r.service ?? "(none: TARGET_GROUP_ARNS)"}`]),
    ...(r.deploymentController === undefined || r.deploymentController === null
      ? []
      : [
        `  deployments:  ${r.deploymentController}${
          (r.taskSet ?? null) === null ? "" : `, this task's task set ${r.taskSet}`
        }`
      ]),
    ...(r.networkMode === undefined ? [] : [`  network mode: ${r.networkMode}`]),
    ...r.targetGroups.flatMap((g) => [
      `  target group: ${g.arn}${g.role === null ? "" : ` (${g.role})`}`,
      `                type ${g.targetType}${g.protocol === null ? "" : `, protocol ${g.protocol}`}${
        g.deregistrationDelaySeconds === null ? "" : `, deregistration delay ${g.deregistrationDelaySeconds} s`
      }`,
      ...g.targets.map((t) =>
        `                this task: ${t.id}:${t.port} is ${t.state}${t.reason === null ? "" : ` (${t.reason})`}`
      ),
      ...(g.registered || g.role === null ? [] : [
        "                this task is not registered here now: watched all the same, at one DescribeTargetHealth per poll"
      ])
    ]),
    ...(r.drain === undefined ? [] : [
      `  drain:        ${
        r.drain.why === `DRAIN_STRATEGY=${r.drain.strategy}` ? r.drain.why : `${r.drain.strategy} (${r.drain.why})`
      }`,
      ...(r.drain.ports ?? []).map((p) =>
        `                port ${p.port}: ${p.connections} connection${p.connections === 1 ? "" : "s"} open now${
          p.loopbackPeers.length === 0 ? "" : `, from loopback peers ${p.loopbackPeers.join(", ")}`
        }`
      )
    ]),
    ...(r.calls === undefined ? [] : formatCalls(r.calls)),
    "  IAM permissions used:",
    ...(r.permissions.length === 0
      ? ["    (none reached)"]
      : r.permissions.map((p) =>
        `    ${p.ok ? "ok    " : "FAILED"} ${p.action}${p.error === undefined ? "" : `: ${p.error}`}${
          p.optional === true ? " (optional)" : ""
        }`
      )),
    ...(r.advice.length === 0 ? [] : ["  advice:", ...r.advice.map((a) => `    - ${a}`)])
  ]
  return lines.join("\n")
}
