// The few shapes the programs reason about; the AWS SDK types stay in src/layers.

/** ELBv2 TargetHealthStateEnum, kept open: AWS adds states over time. */
export type TargetState =
  | "initial"
  | "healthy"
  | "unhealthy"
  | "unhealthy.draining"
  | "unused"
  | "draining"
  | "unavailable"
  | (string & {})

export interface TargetGroup {
  readonly arn: string
  readonly targetType: string
  readonly protocol: string | undefined
  readonly ipAddressType: string | undefined
}

/** One `{Id, Port}` of one target group that belongs to this task. */
export interface WatchedTarget {
  readonly targetGroupArn: string
  readonly id: string
  readonly port: number
  readonly containerName: string
  readonly containerPort: number
  /** Already seen registered during discovery (TARGET_GROUP_ARNS finds targets that way). */
  readonly registered?: boolean
}

/** What one DescribeTargetHealth said about one target. */
export interface TargetObservation {
  readonly target: WatchedTarget
  /** `not-found` stands for ELBv2's InvalidTarget error: the target is not (or no longer) known. */
  readonly state: TargetState | "not-found"
  readonly reason: string | undefined
  readonly description: string | undefined
}

export const targetKey = (t: Pick<WatchedTarget, "targetGroupArn" | "id" | "port">): string =>
  `${t.targetGroupArn}|${t.id}|${t.port}`
