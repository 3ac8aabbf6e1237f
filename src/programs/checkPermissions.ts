// The IAM actions `check` used, from the calls callAws noted: one line per
// action, and which ones the sidecar can do without.
import type { AwsCallRecord } from "../aws/callAws.ts"
import type { PermissionUse } from "./checkReport.ts"

/** The calls the sidecar can do without (src/programs/stopReport.ts), once discovery no longer needs them. */
export const optionalActions: Record<string, string> = {
  "elasticloadbalancing:DescribeTargetGroupAttributes": "the deregistration delay a drain saves against (SecondsSaved)",
  "ecs:DescribeTasks": "why ECS stops the task (stopCode, stoppedReason)",
  "elasticloadbalancing:DescribeTargetGroups":
    "the target groups' protocol with TARGET_GROUP_ARNS (an ALB group has no 120 s floor under DRAIN_STRATEGY=connections)"
}

/** One action's uses as one line: failed if any use failed, optional only if every use was. */
const mergeUses = (all: ReadonlyArray<PermissionUse>): PermissionUse => {
  const failed = all.find((u) => !u.ok)
  const optional = all.every((u) => u.optional === true) ? { optional: true as const } : {}
  return failed === undefined
    ? { action: all[0]!.action, ok: true, ...optional }
    : { action: failed.action, ok: false, ...(failed.error === undefined ? {} : { error: failed.error }), ...optional }
}

/** The calls callAws noted, as uses of their IAM actions; those made after discovery that it can do without are optional. */
const permissionUses = (calls: ReadonlyArray<AwsCallRecord>, discoveredAt: number | undefined, standalone: boolean) =>
  calls.map(({ action, error }, i): PermissionUse => ({
    action,
    ok: error === undefined,
    ...(error === undefined ? {} : { error }),
    // Discovery needs ecs:DescribeTasks where the metadata lacks the service (Fargate, older agents); with
    // TARGET_GROUP_ARNS, DescribeTargetGroups only tells the groups' protocol.
    ...((discoveredAt !== undefined && i >= discoveredAt ||
        standalone && action === "elasticloadbalancing:DescribeTargetGroups") && action in optionalActions
      ? { optional: true as const }
      : {})
  }))

/** The report's permissions: one line per IAM action, in the order first used. */
export const permissionsUsed = (
  calls: ReadonlyArray<AwsCallRecord>,
  discoveredAt: number | undefined,
  standalone = false
): Array<PermissionUse> =>
  [...Map.groupBy(permissionUses(calls, discoveredAt, standalone), (u) => u.action).values()].map(mergeUses)
