// `check`: everything the sidecar needs, tried once, as a report an operator
// can read (or a script can parse with --json).
import { Cause, Effect, Exit, Layer } from "effect"
import { AwsCallFailed, ExitCode, exitCodeOf } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import { Ecs } from "../layers/Ecs.ts"
import { Metadata } from "../layers/Metadata.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { discoverStandaloneTargets } from "./discoverStandaloneTargets.ts"
import { discoverTargets } from "./discoverTargets.ts"
import { Connections } from "../layers/Connections.ts"
import { withinStartupTimeout } from "../schedules.ts"
import { checkDrainStrategy } from "./drainWait.ts"
import { pollConcurrency, readGroup, watchedGroups } from "./watchTargets.ts"

export interface PermissionUse {
  readonly action: string
  readonly ok: boolean
  readonly error?: string
}

export interface CheckReport {
  readonly ok: boolean
  readonly exitCode: number
  readonly error?: string
  readonly cluster?: string
  readonly taskArn?: string
  readonly service?: string | null
  readonly networkMode?: string
  readonly targetGroups: ReadonlyArray<{
    readonly arn: string
    readonly targetType: string
    readonly protocol: string | null
    readonly targets: ReadonlyArray<{ readonly id: string; readonly port: number; readonly state: string; readonly reason: string | null }>
  }>
  readonly permissions: ReadonlyArray<PermissionUse>
  /** DRAIN_STRATEGY, and for `connections` the open connections on each target port now (what the wait would see). */
  readonly drain?: {
    readonly strategy: string
    readonly ports?: ReadonlyArray<{ readonly port: number; readonly connections: number }>
  }
}

/** Wraps the AWS services so that every call's IAM action and outcome is recorded. */
const recording = (uses: Array<PermissionUse>) => {
  const record = <A, E, R>(action: string, call: Effect.Effect<A, E, R>) =>
    call.pipe(Effect.onExit((exit) =>
      Effect.sync(() => {
        // A call cut off by the check's own timeout says nothing about the permission.
        if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return
        const failure = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
        const error = failure?._tag === "Fail" && failure.error instanceof AwsCallFailed ? failure.error : undefined
        // InvalidTarget and the like are answers, not refusals; only AWS failures count against a permission.
        uses.push(error === undefined ? { action, ok: true } : { action, ok: false, error: error.code })
      })
    ))
  const ecs = Layer.effect(Ecs, Effect.gen(function*() {
    const live = yield* Ecs
    return Ecs.of({
    describeTask: (...a) => record("ecs:DescribeTasks", live.describeTask(...a)),
    describeServiceLoadBalancers: (...a) => record("ecs:DescribeServices", live.describeServiceLoadBalancers(...a)),
    describeEc2InstanceId: (...a) => record("ecs:DescribeContainerInstances", live.describeEc2InstanceId(...a))
    })
  }))
  const elb = Layer.effect(TargetHealth, Effect.gen(function*() {
    const live = yield* TargetHealth
    return TargetHealth.of({
    describeTargetGroups: (...a) => record("elasticloadbalancing:DescribeTargetGroups", live.describeTargetGroups(...a)),
    poll: (...a) => record("elasticloadbalancing:DescribeTargetHealth", live.poll(...a)),
    describeDeregistrationDelay: (...a) => record("elasticloadbalancing:DescribeTargetGroupAttributes", live.describeDeregistrationDelay(...a)),
    listTargets: (...a) => record("elasticloadbalancing:DescribeTargetHealth", live.listTargets(...a))
    })
  }))
  return Layer.mergeAll(ecs, elb)
}

/** Discovery plus one DescribeTargetHealth per group; never fails, reports instead. */
export const check = Effect.gen(function*() {
  const settings = yield* Config
  const uses: Array<PermissionUse> = []

  const program = Effect.gen(function*() {
    const discovery = yield* (settings.targetGroupArns.length > 0 ? discoverStandaloneTargets : discoverTargets)
    const elb = yield* TargetHealth
    const targetGroups = yield* Effect.forEach(watchedGroups(discovery.targets, discovery.searches), (watched) =>
      readGroup(elb, watched).pipe(Effect.map(({ observations }) => {
        const group = discovery.targetGroups.find((g) => g.arn === watched.targetGroupArn)
        return {
          arn: watched.targetGroupArn,
          targetType: group?.targetType ?? "",
          protocol: group?.protocol ?? null,
          targets: observations.map((o) => ({ id: o.target.id, port: o.target.port, state: o.state, reason: o.reason ?? null }))
        }
      })), { concurrency: pollConcurrency })
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
    Effect.provide(recording(uses)),
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
  const dedup = [...new Map(uses.map((u) => [u.action, u])).values()]
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
      networkMode: discovery.networkMode,
      targetGroups,
      drain
    } satisfies CheckReport
  }
  return { ...failedCheck(exit), ...common }
})

/** The report when the check could not run to the end (or not even start). */
export const failedCheck = (exit: Exit.Exit<unknown, unknown>): CheckReport => {
  const reason = Exit.isFailure(exit) ? exit.cause.reasons[0] : undefined
  const error = reason?._tag === "Fail" && reason.error instanceof Error ? reason.error.message : String(reason)
  return { ok: false, exitCode: exitCodeOf(exit), error, targetGroups: [], permissions: [] }
}

export const formatCheckReport = (r: CheckReport): string => {
  const lines = [
    `nlb-sidecar-for-ecs check: ${r.ok ? "OK" : "FAILED"} (exit code ${r.exitCode})`,
    ...(r.error === undefined ? [] : [`  problem:      ${r.error}`]),
    ...(r.cluster === undefined ? [] : [`  cluster:      ${r.cluster}`, `  task:         ${r.taskArn}`]),
    ...(r.service === undefined ? [] : [`  service:      ${r.service ?? "(none: TARGET_GROUP_ARNS)"}`]),
    ...(r.networkMode === undefined ? [] : [`  network mode: ${r.networkMode}`]),
    ...r.targetGroups.flatMap((g) => [
      `  target group: ${g.arn}`,
      `                type ${g.targetType}${g.protocol === null ? "" : `, protocol ${g.protocol}`}`,
      ...g.targets.map((t) => `                this task: ${t.id}:${t.port} is ${t.state}${t.reason === null ? "" : ` (${t.reason})`}`)
    ]),
    ...(r.drain === undefined ? [] : [
      `  drain:        DRAIN_STRATEGY=${r.drain.strategy}`,
      ...(r.drain.ports ?? []).map((p) => `                port ${p.port}: ${p.connections} connection${p.connections === 1 ? "" : "s"} open now`)
    ]),
    "  IAM permissions used:",
    ...(r.permissions.length === 0 ? ["    (none reached)"] : r.permissions.map((p) => `    ${p.ok ? "ok    " : "FAILED"} ${p.action}${p.error === undefined ? "" : `: ${p.error}`}`))
  ]
  return lines.join("\n")
}
