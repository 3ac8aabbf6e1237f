// `check`: everything the sidecar needs, tried once, as a report an operator
// can read (or a script can parse with --json).
import { Effect, Exit } from "effect"
import { AwsCallLog, type AwsCallRecord } from "../aws/callAws.ts"
import { isUnregistered } from "../domain.ts"
import { AwsCallFailed, ExitCode, exitCodeOf } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import { Connections } from "../layers/Connections.ts"
import { DrainStrategy } from "../layers/DrainStrategy.ts"
import { Ecs } from "../layers/Ecs.ts"
import { Metadata } from "../layers/Metadata.ts"
import { withinStartupTimeout } from "../layers/Startup.ts"
import { TargetHealth } from "../layers/TargetHealth.ts"
import { advise, loopbackAdvice } from "./checkAdvice.ts"
import { callsReport } from "./checkCalls.ts"
import { permissionsUsed } from "./checkPermissions.ts"
import type { CheckReport } from "./checkReport.ts"
import { discoverStandaloneTargets } from "./discoverStandaloneTargets.ts"
import { discoverTargets } from "./discoverTargets.ts"
import { deregistrationDelays, whyStopping } from "./stopReport.ts"
import { pollConcurrency, readGroup, watchedGroups } from "./watchTargets.ts"

/** Discovery plus one DescribeTargetHealth per group; never fails, reports instead. */
export const check = Effect.gen(function*() {
  const settings = yield* Config
  const calls: Array<AwsCallRecord> = []
  let discoveredAt: number | undefined

  const program = Effect.gen(function*() {
    const discovery = yield* (settings.targetGroupArns.length > 0 ? discoverStandaloneTargets : discoverTargets)
    const elb = yield* TargetHealth
    discoveredAt = calls.length
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
    // The drain strategy's own startup check (`auto` decides here), then what a `connections` wait would count now.
    const chosen = yield* (yield* DrainStrategy).decide(discovery.networkMode)
    const ports = [...new Set(targetGroups.flatMap((g) => g.targets.map((t) => t.port)))]
    const counted = chosen.strategy === "connections"
      ? yield* (yield* Connections).sample(ports).pipe(Effect.orElseSucceed(() => undefined))
      : undefined
    const strategyAdvice = chosen.advise(targetGroups)
    const drain = {
      strategy: chosen.strategy,
      why: chosen.why,
      ...(counted === undefined ? {} : {
        ports: ports.map((port) => ({
          port,
          connections: counted.open.get(port) ?? 0,
          loopbackPeers: [...(counted.loopbackPeers.get(port) ?? [])].sort()
        }))
      })
    }
    // Discovery read the service already: its desired count is one more DescribeServices.
    const viaService = settings.targetGroupArns.length === 0
    const desiredCount = viaService && discovery.serviceName !== undefined
      ? yield* (yield* Ecs).describeService(discovery.cluster, discovery.serviceName).pipe(
        Effect.map((service) => service?.desiredCount),
        Effect.orElseSucceed(() => undefined)
      )
      : undefined
    const apiCalls = callsReport({
      pollingFrequencySeconds: settings.pollingFrequencySeconds,
      targetGroups: targetGroups.length,
      networkMode: discovery.networkMode,
      serviceName: discovery.serviceName,
      serviceInMetadata: (yield* (yield* Metadata).task).ServiceName !== undefined,
      viaService,
      desiredCount
    })
    return { discovery, targetGroups, drain, strategyAdvice, apiCalls }
  }).pipe(
    Effect.provideService(AwsCallLog, calls),
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
  const permissions = permissionsUsed(calls, discoveredAt, settings.targetGroupArns.length > 0)
  const common = {
    permissions,
    ...(task === undefined ? {} : { cluster: task.Cluster, taskArn: task.TaskARN })
  }
  if (Exit.isSuccess(exit)) {
    const { discovery, targetGroups, drain, strategyAdvice, apiCalls } = exit.value
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
      calls: apiCalls,
      advice: [...advise(settings, targetGroups, permissions), ...strategyAdvice, ...loopbackAdvice(drain)]
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
