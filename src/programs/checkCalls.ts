// `check`'s account of API calls: what this task asks per hour, at start and at the drain,
// and what its whole service takes of each of the account's buckets.
import {
  accountBuckets,
  type BucketedAction,
  type BucketName,
  bucketNames,
  bucketShares,
  type Calls,
  taskCalls
} from "../callBudget.ts"

export interface CallsReport {
  readonly pollingFrequencySeconds: number
  readonly targetGroups: number
  readonly perHour: Calls
  readonly atStart: Calls
  readonly atDrain: Calls
  /** With the service's desiredCount: each bucket's refill its tasks take while watching (1 = all). */
  readonly service?: {
    readonly name: string
    readonly desiredCount: number
    readonly shares: Record<BucketName, number>
  }
}

export const callsReport = (input: {
  readonly pollingFrequencySeconds: number
  readonly targetGroups: number
  readonly networkMode: string
  readonly serviceName: string | undefined
  readonly serviceInMetadata: boolean
  readonly viaService: boolean
  readonly desiredCount: number | undefined
}): CallsReport => {
  const calls = taskCalls({
    pollingFrequencySeconds: input.pollingFrequencySeconds,
    targetGroups: input.targetGroups,
    viaService: input.viaService,
    serviceInMetadata: input.serviceInMetadata,
    instanceLookup: input.networkMode === "bridge" || input.networkMode === "host"
  })
  return {
    pollingFrequencySeconds: input.pollingFrequencySeconds,
    targetGroups: input.targetGroups,
    ...calls,
    ...(input.serviceName === undefined || input.desiredCount === undefined ? {} : {
      service: {
        name: input.serviceName,
        desiredCount: input.desiredCount,
        shares: bucketShares(calls.perHour, input.desiredCount)
      }
    })
  }
}

const total = (calls: Calls) => Object.values(calls).reduce((a, b) => a + b, 0)
const listed = (calls: Calls) =>
  (Object.entries(calls) as Array<[BucketedAction, number]>).map(([action, n]) => `${n} ${action}`).join(", ")
const percent = (share: number) => `${(share * 100).toFixed(share < 0.1 ? 1 : 0)}%`

export const formatCalls = (c: CallsReport): Array<string> => [
  `  API calls:    ${total(c.perHour)} an hour while watching (${listed(c.perHour)}: ${c.targetGroups} target group${
    c.targetGroups === 1 ? "" : "s"
  } every ${c.pollingFrequencySeconds} s); at start ${listed(c.atStart)}; at the drain ${listed(c.atDrain)}`,
  ...(c.service === undefined ? [] : [
    `                service ${c.service.name}, desired count ${c.service.desiredCount}, of the account's buckets:`,
    ...bucketNames.map((b) =>
      `                  ${percent(c.service!.shares[b]).padStart(5)} of ${accountBuckets[b].what}: ${
        accountBuckets[b].perSecond
      }/s`
    )
  ])
]
