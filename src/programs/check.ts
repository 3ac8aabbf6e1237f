// `check`: everything the sidecar needs, tried once, as a report an operator
// can read (or a script can parse with --json).
import { Cause, Effect, Exit, Layer } from "effect"
import { type GroupRole, isUnregistered } from "../domain.ts"
import { AwsCallFailed, ExitCode, exitCodeOf } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import type { Settings } from "../layers/Config.ts"
import { Connections } from "../layers/Connections.ts"
import { Ecs } from "../layers/Ecs.ts"
import { Metadata } from "../layers/Metadata.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { withinStartupTimeout } from "../schedules.ts"
import { discoverStandaloneTargets } from "./discoverStandaloneTargets.ts"
import { discoverTargets } from "./discoverTargets.ts"
import { checkDrainStrategy } from "./drainWait.ts"
import { deregistrationDelays, whyStopping } from "./stopReport.ts"
import { pollConcurrency, readGroup, watchedGroups } from "./watchTargets.ts"

export interface PermissionUse {
  readonly action: string
  readonly ok: boolean
  readonly error?: string
  /** Used for what operators see (metrics, stop reasons); the sidecar works without it. */
  readonly optional?: true
}

/** The calls the sidecar can do without (src/programs/stopReport.ts), once discovery no longer needs them. */
const optionalActions: Record<string, string> = {
  "elasticloadbalancing:DescribeTargetGroupAttributes": "the deregistration delay a drain saves against (SecondsSaved)",
  "ecs:DescribeTasks": "why ECS stops the task (stopCode, stoppedReason)"
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
    readonly strategy: string
    readonly ports?: ReadonlyArray<{ readonly port: number; readonly connections: number }>
  }
  /** What to change for the sidecar to do better; never a failure (the exit code does not change). */
  readonly advice: ReadonlyArray<string>
}

const isAlb = (protocol: string | null) => protocol === "HTTP" || protocol === "HTTPS"

/** Advice from the settings, the target groups as AWS describes them, and the permissions that were tried. */
export const advise = (
  settings: Pick<Settings, "deregistrationWaitSeconds" | "drainStrategy" | "drainMinWaitSeconds">,
  groups: CheckReport["targetGroups"],
  permissions: ReadonlyArray<PermissionUse>
): Array<string> => {
  const wait = settings.deregistrationWaitSeconds
  return [
    ...groups.flatMap((g) => [
      ...(g.deregistrationDelaySeconds !== null && wait >= g.deregistrationDelaySeconds
        ? [
          `DEREGISTRATION_WAIT=${wait} is not below the deregistration delay of ${g.arn} (${g.deregistrationDelaySeconds} s): ECS stops the task before the sidecar would, which saves nothing; lower DEREGISTRATION_WAIT or raise the delay`
        ]
        : []),
      ...(!isAlb(g.protocol) && settings.drainStrategy === "connections" &&
          settings.drainMinWaitSeconds !== undefined && settings.drainMinWaitSeconds < 120
        ? [
          `DRAIN_MIN_WAIT=${settings.drainMinWaitSeconds} with the Network Load Balancer group ${g.arn}: an NLB goes on routing new connections to a deregistering target for about two minutes; a floor under 120 s may cut them off`
        ]
        : []),
      ...(isAlb(g.protocol) && settings.drainStrategy === "fixed" && wait > 30
        ? [
          `${g.arn} is an Application Load Balancer group, which stops sending new requests at once: DRAIN_STRATEGY=connections exits when the last request is done instead of after ${wait} s`
        ]
        : [])
    ]),
    ...permissions.filter((p) => p.optional === true && !p.ok).map((p) =>
      `${p.action} failed (${p.error ?? "error"}): grant it to the task role (optional) for ${
        optionalActions[p.action] ?? "more detail"
      }`
    )
  ]
}

/** One action's uses as one line: failed if any use failed, optional only if every use was. */
const mergeUses = (all: ReadonlyArray<PermissionUse>): PermissionUse => {
  const failed = all.find((u) => !u.ok)
  const optional = all.every((u) => u.optional === true) ? { optional: true as const } : {}
  return failed === undefined
    ? { action: all[0]!.action, ok: true, ...optional }
    : { action: failed.action, ok: false, ...(failed.error === undefined ? {} : { error: failed.error }), ...optional }
}

/** Wraps the AWS services so that every call's IAM action and outcome is recorded. */
const recording = (uses: Array<PermissionUse>, discovered: () => boolean) => {
  const record = <A, E, R>(action: string, call: Effect.Effect<A, E, R>) =>
    call.pipe(Effect.onExit((exit) =>
      Effect.sync(() => {
        // A call cut off by the check's own timeout says nothing about the permission.
        if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return
        const failure = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
        const error = failure?._tag === "Fail" && failure.error instanceof AwsCallFailed ? failure.error : undefined
        // InvalidTarget and the like are answers, not refusals; only AWS failures count against a permission.
        // Discovery needs ecs:DescribeTasks where the metadata lacks the service (Fargate, older agents).
        const optional = discovered() && action in optionalActions ? { optional: true as const } : {}
        uses.push(
          error === undefined
            ? { action, ok: true, ...optional }
            : { action, ok: false, error: error.code, ...optional }
        )
      })
    ))
  const ecs = Layer.effect(
    Ecs,
    Effect.gen(function*() {
      const live = yield* Ecs
      return Ecs.of({
        describeTask: (...a) => record("ecs:DescribeTasks", live.describeTask(...a)),
        describeService: (...a) => record("ecs:DescribeServices", live.describeService(...a)),
        describeEc2InstanceId: (...a) => record("ecs:DescribeContainerInstances", live.describeEc2InstanceId(...a))
      })
    })
  )
  const elb = Layer.effect(
    TargetHealth,
    Effect.gen(function*() {
      const live = yield* TargetHealth
      return TargetHealth.of({
        describeTargetGroups: (...a) =>
          record("elasticloadbalancing:DescribeTargetGroups", live.describeTargetGroups(...a)),
        poll: (...a) => record("elasticloadbalancing:DescribeTargetHealth", live.poll(...a)),
        describeDeregistrationDelay: (...a) =>
          record("elasticloadbalancing:DescribeTargetGroupAttributes", live.describeDeregistrationDelay(...a)),
        listTargets: (...a) => record("elasticloadbalancing:DescribeTargetHealth", live.listTargets(...a))
      })
    })
  )
  return Layer.mergeAll(ecs, elb)
}

/** Discovery plus one DescribeTargetHealth per group; never fails, reports instead. */
export const check = Effect.gen(function*() {
  const settings = yield* Config
  const uses: Array<PermissionUse> = []
  let discovered = false

  const program = Effect.gen(function*() {
    const discovery = yield* (settings.targetGroupArns.length > 0 ? discoverStandaloneTargets : discoverTargets)
    const elb = yield* TargetHealth
    discovered = true
    // The optional calls, as the sidecar makes them: their permissions are reported, their failures advised on.
    const delays = yield* deregistrationDelays(discovery.targetGroups)
    yield* whyStopping((yield* Ecs).describeTask(discovery.cluster, discovery.taskArn))
    const targetGroups = yield* Effect.forEach(
      watchedGroups(discovery.targets, discovery.searches),
      (watched) =>
        readGroup(elb, watched).pipe(Effect.map(({ observations }) => {
          const group = discovery.targetGroups.find((g) => g.arn === watched.targetGroupArn)
          return {
            arn: watched.targetGroupArn,
            role: watched.targets[0]?.role ?? null,
            registered: observations.some((o) => !isUnregistered(o)),
            targetType: group?.targetType ?? "",
            protocol: group?.protocol ?? null,
            deregistrationDelaySeconds: delays.get(watched.targetGroupArn) ?? null,
            targets: observations.map((o) => ({
              id: o.target.id,
              port: o.target.port,
              state: o.state,
              reason: o.reason ?? null
            }))
          }
        })),
      { concurrency: pollConcurrency }
    )
    // The drain strategy's own startup check, then what a `connections` wait would count now.
    yield* checkDrainStrategy(discovery.networkMode)
    const ports = [...new Set(targetGroups.flatMap((g) => g.targets.map((t) => t.port)))]
    const counted = settings.drainStrategy === "connections"
      ? yield* (yield* Connections).count(ports).pipe(Effect.orElseSucceed(() => new Map<number, number>()))
      : undefined
    const drain = {
      strategy: settings.drainStrategy,
      ...(counted === undefined ? {} : { ports: ports.map((port) => ({ port, connections: counted.get(port) ?? 0 })) })
    }
    return { discovery, targetGroups, drain }
  }).pipe(
    Effect.provide(recording(uses, () => discovered)),
    // The sidecar keeps trying through an AWS brownout; a check reports it.
    withinStartupTimeout((last, seconds) =>
      last?.error ?? new AwsCallFailed({
        action: "startup",
        code: "RequestTimeout",
        detail: `no answer within ${seconds}s`,
        retryable: true
      })
    )
  )

  const exit = yield* Effect.exit(program)
  const metadata = yield* Effect.exit((yield* Metadata).task)
  const task = Exit.isSuccess(metadata) ? metadata.value : undefined
  const dedup = [...Map.groupBy(uses, (u) => u.action).values()].map(mergeUses)
  const common = {
    permissions: dedup,
    ...(task === undefined ? {} : { cluster: task.Cluster, taskArn: task.TaskARN })
  }
  if (Exit.isSuccess(exit)) {
    const { discovery, targetGroups, drain } = exit.value
    return {
      ok: true,
      exitCode: ExitCode.drained,
      ...common,
      service: discovery.serviceName ?? null,
      deploymentController: discovery.deploymentController ?? null,
      taskSet: discovery.taskSet ?? null,
      networkMode: discovery.networkMode,
      targetGroups,
      drain,
      advice: advise(settings, targetGroups, dedup)
    } satisfies CheckReport
  }
  return { ...failedCheck(exit), ...common }
})

/** The report when the check could not run to the end (or not even start). */
export const failedCheck = (exit: Exit.Exit<unknown, unknown>): CheckReport => {
  const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
  const error = reason?._tag === "Fail" && reason.error instanceof Error ? reason.error.message : String(reason)
  return { ok: false, exitCode: exitCodeOf(exit), error, targetGroups: [], permissions: [], advice: [] }
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
      `  drain:        DRAIN_STRATEGY=${r.drain.strategy}`,
      ...(r.drain.ports ?? []).map((p) =>
        `                port ${p.port}: ${p.connections} connection${p.connections === 1 ? "" : "s"} open now`
      )
    ]),
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
