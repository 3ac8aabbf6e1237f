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

/**
 * Why a group is watched: the service's `loadBalancers[].targetGroupArn`
 * (`primary`), its blue/green `alternateTargetGroupArn` (`alternate`), or the
 * load balancers of the task's task set (`task set`, CODE_DEPLOY and EXTERNAL).
 * A blue/green task is registered in one of primary and alternate, which one
 * changing with every deployment: both are watched.
 */
export type GroupRole = "primary" | "alternate" | "task set"

/** One `{Id, Port}` of one target group that belongs to this task. */
export interface WatchedTarget {
  readonly targetGroupArn: string
  readonly id: string
  readonly port: number
  readonly containerName: string
  readonly containerPort: number
  /** Absent with TARGET_GROUP_ARNS. */
  readonly role?: GroupRole
}

/**
 * TARGET_GROUP_ARNS: a group where this task's target is not known in advance.
 * The poll loop lists the group's registrations until it finds one of the task's.
 */
export interface TargetSearch {
  readonly targetGroupArn: string
  readonly containerName: string
  /** Whether a registration `{Id, Port}` is this task's (its IP; its instance and a host port). */
  readonly isOurs: (id: string, port: number) => boolean
}

/** What one DescribeTargetHealth said about one target. */
export interface TargetObservation {
  readonly target: WatchedTarget
  /** `not-found` stands for ELBv2's InvalidTarget error: the target is not (or no longer) known. */
  readonly state: TargetState | "not-found"
  readonly reason: string | undefined
}

export const targetKey = (t: Pick<WatchedTarget, "targetGroupArn" | "id" | "port">): string =>
  `${t.targetGroupArn}|${t.id}|${t.port}`

/** ELBv2's two ways of saying "not registered": `unused` / `Target.NotRegistered`, or InvalidTarget. */
export const isUnregistered = (o: Pick<TargetObservation, "state" | "reason">): boolean =>
  o.state === "not-found" || (o.state === "unused" && o.reason === "Target.NotRegistered")

/** The rank of a reading when ELBv2 lists one target twice: the higher keeps the task running. */
export const keepRunningRank = (o: Pick<TargetObservation, "state" | "reason">): number =>
  isUnregistered(o) ? 0 : o.state === "draining" ? 1 : 2

/** One entry of a DescribeTargetHealth answer; `port` is left out by ELBv2 for a Lambda target. */
export interface TargetHealthEntry {
  readonly id: string
  readonly port: number | undefined
  readonly state: string
  readonly reason: string | undefined
}

/**
 * What an answer says about each target: its entries (the same id, and the
 * same port where the entry names one). A target listed twice reads as the
 * entry that keeps the task running, so that a duplicate alone can never end
 * it. `missing`: the targets the answer does not mention.
 */
export const readTargets = (
  targets: ReadonlyArray<WatchedTarget>,
  entries: ReadonlyArray<TargetHealthEntry>
): { readonly observations: ReadonlyArray<TargetObservation>; readonly missing: ReadonlyArray<WatchedTarget> } => {
  const observations: Array<TargetObservation> = []
  const missing: Array<WatchedTarget> = []
  for (const target of targets) {
    const best = entries.filter((e) => e.id === target.id && (e.port === undefined || e.port === target.port))
      .map((e): TargetObservation => ({ target, state: e.state, reason: e.reason }))
      .toSorted((a, b) => keepRunningRank(b) - keepRunningRank(a))[0]
    if (best === undefined) missing.push(target)
    else observations.push(best)
  }
  return { observations, missing }
}
