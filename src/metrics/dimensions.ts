// The dimensions of the sidecar's metrics, read out of ECS and ELBv2 ARNs.
import { dimensionValue } from "./emf.ts"

/**
 * Dimension names. `ServiceName` is the ECS service's name; a task outside a
 * service (TARGET_GROUP_ARNS, RunTask) has none and is counted under its
 * `Cluster` instead.
 */
export const Dimension = { service: "ServiceName", cluster: "Cluster", targetGroup: "TargetGroup" } as const

/** `arn:aws:ecs:eu-west-1:123456789012:cluster/prod` → `prod`; a name stays as it is. */
const clusterName = (cluster: string): string =>
  cluster.startsWith("arn:") ? cluster.slice(cluster.indexOf(":cluster/") + ":cluster/".length) : cluster

/**
 * `arn:aws:elasticloadbalancing:…:targetgroup/web/73e2d6bc24d8a067` →
 * `targetgroup/web/73e2d6bc24d8a067`: the value the load balancers' own
 * metrics (AWS/NetworkELB, AWS/ApplicationELB) carry in their `TargetGroup`
 * dimension, "the final portion of the target group ARN". The sidecar's
 * metrics then line up with the group's HealthyHostCount and the like in one
 * graph, alarm or metric math expression, and the id keeps two groups of the
 * same name (another region or load balancer) apart, which the name alone
 * would not. The whole ARN would repeat the region and account the metric
 * already belongs to.
 */
export const targetGroupDimension = (targetGroupArn: string): string => {
  const at = targetGroupArn.indexOf(":targetgroup/")
  return at === -1 ? targetGroupArn : targetGroupArn.slice(at + 1)
}

/** The dimensions of every record about one target group: the service (else the cluster), then the group. */
export const sidecarDimensions = (task: {
  readonly serviceName: string | undefined
  /** The cluster's name or ARN. */
  readonly cluster: string
}, targetGroupArn: string): Record<string, string> => ({
  ...(task.serviceName === undefined || dimensionValue(task.serviceName) === undefined
    ? { [Dimension.cluster]: clusterName(task.cluster) }
    : { [Dimension.service]: task.serviceName }),
  [Dimension.targetGroup]: targetGroupDimension(targetGroupArn)
})
