// ELBv2: which target groups exist and what state this task's targets are in.
import {
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client
} from "@aws-sdk/client-elastic-load-balancing-v2"
import { Context, Effect, Layer } from "effect"
import type { TargetGroup, TargetObservation, WatchedTarget } from "../domain.ts"
import type { AwsCallFailed } from "../errors.ts"
import { AwsCredentials } from "./AwsCredentials.ts"
import { AwsRegion } from "./AwsRegion.ts"
import { callAws, sdkClientConfig } from "./aws.ts"

export interface RegisteredTarget {
  readonly id: string
  readonly port: number
  readonly state: string
  readonly reason: string | undefined
}

export class TargetHealth extends Context.Service<TargetHealth, {
  readonly describeTargetGroups: (arns: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<TargetGroup>, AwsCallFailed>
  /**
   * One DescribeTargetHealth naming exactly these targets (all of one group).
   * An InvalidTarget answer means the targets are not known to the group:
   * they come back as `not-found`, not as an error.
   */
  readonly poll: (
    targetGroupArn: string,
    targets: ReadonlyArray<WatchedTarget>
  ) => Effect.Effect<ReadonlyArray<TargetObservation>, AwsCallFailed>
  /** Every target registered in the group (unfiltered DescribeTargetHealth). */
  readonly listTargets: (targetGroupArn: string) => Effect.Effect<ReadonlyArray<RegisteredTarget>, AwsCallFailed>
}>()("nlb-sidecar/TargetHealth") {
  static readonly layer = Layer.effect(
    TargetHealth,
    Effect.gen(function*() {
      const { region } = yield* AwsRegion
      const { provider } = yield* AwsCredentials
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new ElasticLoadBalancingV2Client(sdkClientConfig(region, provider))),
        (c) => Effect.sync(() => c.destroy())
      )

      const describeTargetGroups = (arns: ReadonlyArray<string>) =>
        callAws(
          "elasticloadbalancing:DescribeTargetGroups",
          (abortSignal) => client.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [...arns] }), { abortSignal })
        ).pipe(Effect.map((out) =>
          (out.TargetGroups ?? []).map((tg): TargetGroup => ({
            arn: tg.TargetGroupArn ?? "",
            targetType: tg.TargetType ?? "",
            protocol: tg.Protocol,
            ipAddressType: tg.IpAddressType
          }))
        ))

      const poll = (targetGroupArn: string, targets: ReadonlyArray<WatchedTarget>) =>
        callAws(
          "elasticloadbalancing:DescribeTargetHealth",
          (abortSignal) =>
            client.send(
              new DescribeTargetHealthCommand({
                TargetGroupArn: targetGroupArn,
                Targets: targets.map((t) => ({ Id: t.id, Port: t.port }))
              }),
              { abortSignal }
            )
        ).pipe(
          Effect.map((out) =>
            targets.flatMap((target): Array<TargetObservation> => {
              const found = (out.TargetHealthDescriptions ?? []).find((d) =>
                d.Target?.Id === target.id && (d.Target.Port === undefined || d.Target.Port === target.port)
              )
              return found === undefined ? [] : [{
                target,
                state: found.TargetHealth?.State ?? "unknown",
                reason: found.TargetHealth?.Reason,
                description: found.TargetHealth?.Description
              }]
            })
          ),
          Effect.catchIf(
            (error) => error.code === "InvalidTarget",
            (error) =>
              Effect.succeed(targets.map((target): TargetObservation => ({
                target,
                state: "not-found",
                reason: error.code,
                description: error.detail
              })))
          )
        )

      const listTargets = (targetGroupArn: string) =>
        callAws(
          "elasticloadbalancing:DescribeTargetHealth",
          (abortSignal) => client.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }), { abortSignal })
        ).pipe(Effect.map((out) =>
          (out.TargetHealthDescriptions ?? []).flatMap((d): Array<RegisteredTarget> =>
            d.Target?.Id === undefined ? [] : [{
              id: d.Target.Id,
              port: d.Target.Port ?? 0,
              state: d.TargetHealth?.State ?? "unknown",
              reason: d.TargetHealth?.Reason
            }]
          )
        ))

      return TargetHealth.of({ describeTargetGroups, poll, listTargets })
    })
  )

  static readonly layerTest = (service: TargetHealth["Service"]) => Layer.succeed(TargetHealth, TargetHealth.of(service))
}
