// The calls a sidecar makes, and what share of the account's API budgets a
// service of them takes. Every ELBv2 and ECS caller of an account and region
// draws on the same token buckets (numbers from "Request throttling for the
// Elastic Load Balancing API" and "Request throttling for the Amazon ECS API").

/** A token bucket: `burst` requests at once, refilled at `perSecond`. */
export interface BucketLimit {
  readonly burst: number
  readonly perSecond: number
  readonly what: string
}

export const accountBuckets = {
  elbNonMutating: {
    burst: 40,
    perSecond: 10,
    what: "ELBv2 non-mutating (DescribeTargetHealth, DescribeTargetGroups, DescribeTargetGroupAttributes)"
  },
  elbAccount: { burst: 40, perSecond: 10, what: "ELB account-level limit (every Elastic Load Balancing action)" },
  ecsClusterReads: {
    burst: 100,
    perSecond: 20,
    what: "ECS cluster-resource reads (DescribeTasks, DescribeContainerInstances)"
  },
  ecsServiceReads: { burst: 100, perSecond: 20, what: "ECS service reads (DescribeServices)" }
} as const satisfies Record<string, BucketLimit>
export type BucketName = keyof typeof accountBuckets
export const bucketNames = Object.keys(accountBuckets) as ReadonlyArray<BucketName>

/** Which buckets one call of an action is charged to. */
export const bucketsOf = {
  "elasticloadbalancing:DescribeTargetHealth": ["elbNonMutating", "elbAccount"],
  "elasticloadbalancing:DescribeTargetGroups": ["elbNonMutating", "elbAccount"],
  "elasticloadbalancing:DescribeTargetGroupAttributes": ["elbNonMutating", "elbAccount"],
  "ecs:DescribeTasks": ["ecsClusterReads"],
  "ecs:DescribeContainerInstances": ["ecsClusterReads"],
  "ecs:DescribeServices": ["ecsServiceReads"]
} as const satisfies Record<string, ReadonlyArray<BucketName>>
export type BucketedAction = keyof typeof bucketsOf

export type Calls = Partial<Record<BucketedAction, number>>

export interface TaskCalls {
  /** While the task runs, per hour (when no call fails: ±10% jitter averages out). */
  readonly perHour: Calls
  /** Once, when the sidecar starts. */
  readonly atStart: Calls
  /**
   * Once, at the drain: why ECS stops the task, and each group's deregistration delay where nothing
   * needed it before (a throttle reads it earlier, for the detection budget: still once).
   */
  readonly atDrain: Calls
}

/** One DescribeTargetHealth per watched target group per POLLING_FREQUENCY. */
export const taskCalls = (input: {
  readonly pollingFrequencySeconds: number
  readonly targetGroups: number
  /** Discovered through the ECS service (DescribeServices), and whether the metadata named it (else DescribeTasks). */
  readonly viaService: boolean
  readonly serviceInMetadata: boolean
  /** bridge/host: the container instance is looked up. */
  readonly instanceLookup: boolean
}): TaskCalls => ({
  perHour: { "elasticloadbalancing:DescribeTargetHealth": (input.targetGroups * 3600) / input.pollingFrequencySeconds },
  atStart: {
    "elasticloadbalancing:DescribeTargetGroups": 1,
    ...(input.viaService ? { "ecs:DescribeServices": 1 } : {}),
    ...((input.viaService && !input.serviceInMetadata) || input.instanceLookup ? { "ecs:DescribeTasks": 1 } : {}),
    ...(input.instanceLookup ? { "ecs:DescribeContainerInstances": 1 } : {})
  },
  atDrain: {
    "elasticloadbalancing:DescribeTargetGroupAttributes": input.targetGroups,
    "ecs:DescribeTasks": 1
  }
})

/** Requests per second into each bucket from `tasks` tasks making `perHour` calls each. */
const bucketRates = (perHour: Calls, tasks: number): Record<BucketName, number> => {
  const rates = Object.fromEntries(bucketNames.map((b) => [b, 0])) as Record<BucketName, number>
  for (const [action, calls] of Object.entries(perHour) as Array<[BucketedAction, number]>) {
    for (const bucket of bucketsOf[action]) rates[bucket] += (calls * tasks) / 3600
  }
  return rates
}

/** Each bucket's refill taken by `tasks` such tasks (1 = all of it). */
export const bucketShares = (perHour: Calls, tasks: number): Record<BucketName, number> => {
  const rates = bucketRates(perHour, tasks)
  return Object.fromEntries(bucketNames.map((b) => [b, rates[b] / accountBuckets[b].perSecond])) as Record<
    BucketName,
    number
  >
}
