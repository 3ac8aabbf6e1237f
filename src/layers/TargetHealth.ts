// ELBv2: which target groups exist and what state this task's targets are in.
import {
  DescribeTargetGroupAttributesCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  paginateDescribeTargetGroups,
  type TargetHealthDescription
} from "@aws-sdk/client-elastic-load-balancing-v2"
import { Context, Effect, Layer, Schema } from "effect"
import { callAws, sdkClientConfig } from "../aws/callAws.ts"
import {
  readTargets,
  type TargetGroup,
  type TargetHealthEntry,
  type TargetObservation,
  type WatchedTarget
} from "../domain.ts"
import { AwsCallFailed } from "../errors.ts"
import { AwsCredentials } from "./AwsCredentials.ts"
import { AwsRegion } from "./AwsRegion.ts"

/** ELBv2's answer that the targets asked about are not registered in the group: an answer, not a failure. */
class InvalidTarget extends Schema.TaggedError<InvalidTarget>()("InvalidTarget", {}) {}

export interface RegisteredTarget extends TargetHealthEntry {
  readonly port: number
}

/** One DescribeTargetHealth entry as the sidecar reads it; none for an entry without a target id. */
const entryOf = (d: TargetHealthDescription): Array<TargetHealthEntry> =>
  d.Target?.Id === undefined ? [] : [{
    id: d.Target.Id,
    port: d.Target.Port,
    state: d.TargetHealth?.State ?? "unknown",
    reason: d.TargetHealth?.Reason
  }]

export class TargetHealth extends Context.Service<TargetHealth, {
  readonly describeTargetGroups: (
    arns: ReadonlyArray<string>
  ) => Effect.Effect<ReadonlyArray<TargetGroup>, AwsCallFailed>
  /**
   * One DescribeTargetHealth naming exactly these targets (all of one group).
   * An InvalidTarget answer means the targets are not known to the group:
   * they come back as `not-found`, not as an error. An answer that leaves one
   * of them out fails (`TargetNotInAnswer`, retryable).
   */
  readonly poll: (
    targetGroupArn: string,
    targets: ReadonlyArray<WatchedTarget>
  ) => Effect.Effect<ReadonlyArray<TargetObservation>, AwsCallFailed>
  /** Every target registered in the group (unfiltered DescribeTargetHealth). */
  readonly listTargets: (targetGroupArn: string) => Effect.Effect<ReadonlyArray<RegisteredTarget>, AwsCallFailed>
  /**
   * The group's deregistration_delay.timeout_seconds (one
   * DescribeTargetGroupAttributes); `undefined` when the group has none (a
   * Lambda group) or its value is not a whole number of seconds.
   */
  readonly describeDeregistrationDelay: (targetGroupArn: string) => Effect.Effect<number | undefined, AwsCallFailed>
}>()("nlb-sidecar/TargetHealth") {
  /** Needs AwsRegion and AwsCredentials: tests give it fixed ones. */
  static readonly layerNoDeps = Layer.effect(
    TargetHealth,
    Effect.gen(function*() {
      const { region } = yield* AwsRegion
      const { provider } = yield* AwsCredentials
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new ElasticLoadBalancingV2Client(sdkClientConfig(region, provider))),
        (c) => Effect.sync(() => c.destroy())
      )

      // Asked by ARN there is one page; the SDK's paginator follows a NextMarker all the same.
      const describeTargetGroups = Effect.fn("TargetHealth.describeTargetGroups")((arns: ReadonlyArray<string>) =>
        callAws("elasticloadbalancing:DescribeTargetGroups", async (abortSignal) => {
          const found: Array<TargetGroup> = []
          const pages = paginateDescribeTargetGroups({ client, stopOnSameToken: true }, {
            TargetGroupArns: [...arns]
          }, { abortSignal })
          for await (const page of pages) {
            for (const tg of page.TargetGroups ?? []) {
              found.push({
                arn: tg.TargetGroupArn ?? "",
                targetType: tg.TargetType ?? "",
                protocol: tg.Protocol,
                ipAddressType: tg.IpAddressType
              })
            }
          }
          return found
        })
      )

      const poll = Effect.fn("TargetHealth.poll")((targetGroupArn: string, targets: ReadonlyArray<WatchedTarget>) =>
        callAws(
          "elasticloadbalancing:DescribeTargetHealth",
          (abortSignal) =>
            client.send(
              new DescribeTargetHealthCommand({
                TargetGroupArn: targetGroupArn,
                Targets: targets.map((t) => ({ Id: t.id, Port: t.port }))
              }),
              { abortSignal }
            ),
          { InvalidTarget: () => new InvalidTarget() }
        ).pipe(
          Effect.flatMap((out) => {
            const { observations, missing } = readTargets(
              targets,
              (out.TargetHealthDescriptions ?? []).flatMap(entryOf)
            )
            return missing.length === 0
              ? Effect.succeed(observations)
              : Effect.fail(
                new AwsCallFailed({
                  action: "elasticloadbalancing:DescribeTargetHealth",
                  code: "TargetNotInAnswer",
                  detail: `the answer does not mention ${missing.map((t) => `${t.id}:${t.port}`).join(", ")}`,
                  retryable: true,
                  ...(out.$metadata.requestId === undefined ? {} : { requestId: out.$metadata.requestId })
                })
              )
          }),
          Effect.catchTag("InvalidTarget", () =>
            Effect.succeed(
              targets.map((target): TargetObservation => ({ target, state: "not-found", reason: "InvalidTarget" }))
            ))
        )
      )

      const listTargets = Effect.fn("TargetHealth.listTargets")((targetGroupArn: string) =>
        callAws(
          "elasticloadbalancing:DescribeTargetHealth",
          (abortSignal) =>
            client.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }), { abortSignal })
        ).pipe(Effect.map((out) =>
          (out.TargetHealthDescriptions ?? []).flatMap(entryOf).map((e): RegisteredTarget => ({
            ...e,
            port: e.port ?? 0
          }))
        ))
      )

      const describeDeregistrationDelay = Effect.fn("TargetHealth.describeDeregistrationDelay")((
        targetGroupArn: string
      ) =>
        callAws(
          "elasticloadbalancing:DescribeTargetGroupAttributes",
          (abortSignal) =>
            client.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: targetGroupArn }), { abortSignal })
        ).pipe(Effect.map((out) => {
          const value = out.Attributes?.find((a) => a.Key === "deregistration_delay.timeout_seconds")?.Value
          return value !== undefined && /^\d{1,9}$/.test(value) ? Number(value) : undefined
        }))
      )

      return TargetHealth.of({ describeTargetGroups, poll, listTargets, describeDeregistrationDelay })
    })
  )

  /** The live client, in the region and with the credentials the task has (one credentials fetch shared by every client). */
  static readonly layer = TargetHealth.layerNoDeps.pipe(Layer.provide([AwsRegion.layer, AwsCredentials.layer]))

  /** A test's own implementation (test/support/partialService.ts lets it implement only the methods it needs). */
  static readonly layerTest = (service: TargetHealth["Service"]) =>
    Layer.succeed(TargetHealth, TargetHealth.of(service))
}
