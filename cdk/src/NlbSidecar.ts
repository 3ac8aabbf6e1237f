// The sidecar in an ECS task definition, set up as the README's task definitions show it: an
// essential container that starts after the application, its memory, exec-form health check
// and awslogs; the task role's IAM actions for its network mode and nothing more; and checks,
// at synthesis, of the settings that would make it save nothing or stop the task for nothing.
import { Annotations, Duration, Token, Validations } from "aws-cdk-lib"
import * as ecs from "aws-cdk-lib/aws-ecs"
import * as iam from "aws-cdk-lib/aws-iam"
import * as logs from "aws-cdk-lib/aws-logs"
import { Construct } from "constructs"
import { imageFromRepository } from "./image.ts"
import { actionsFor } from "./permissions.ts"
import { type KnownTargetGroup, nameOfArn, namesGroup, resolveArn, serviceTargetGroups } from "./serviceTargetGroups.ts"

export type DrainStrategy = "auto" | "fixed" | "connections"

export interface NlbSidecarProps {
  /** The task definition to add the sidecar to; its application container must be added first. */
  readonly taskDefinition: ecs.TaskDefinition
  /**
   * The service that runs the task. Its cluster limits the ECS actions (`ecs:cluster`); its target
   * groups, where defined in the same stack, check `deregistrationWait` and `targetGroupArns`.
   */
  readonly service?: ecs.BaseService
  /** The cluster, for a task without `service` (`TARGET_GROUP_ARNS`): limits the ECS actions. */
  readonly cluster?: ecs.ICluster
  /** Default: this repository's Dockerfile, built by `cdk deploy` for the task's CPU architecture. */
  readonly image?: ecs.ContainerImage
  /** `DRAIN_STRATEGY`. Default `auto`: `connections` in awsvpc and host mode, `fixed` in bridge mode. */
  readonly drainStrategy?: DrainStrategy
  /** `DEREGISTRATION_WAIT`, whole seconds from 0 to 86400. Default 120 s. */
  readonly deregistrationWait?: Duration
  /** `TARGET_GROUP_ARNS`: skip service discovery, watch these groups (at most 10). */
  readonly targetGroupArns?: ReadonlyArray<string>
  /** `TARGET_CONTAINER_NAME`: watch only the load balancers that name this container. */
  readonly targetContainer?: ecs.ContainerDefinition
  /** The container the sidecar starts after (`dependsOn` START). Default: the task's default container. */
  readonly applicationContainer?: ecs.ContainerDefinition
  /** Other settings (`POLLING_FREQUENCY`, `DRY_RUN`, `LOG_LEVEL`, …), as environment variables. */
  readonly environment?: Readonly<Record<string, string>>
  /**
   * Grant the optional actions too: `elasticloadbalancing:DescribeTargetGroupAttributes`
   * (`SecondsSaved`) and `ecs:DescribeTasks` (why ECS stops the task). Default true.
   */
  readonly optionalPermissions?: boolean
  /** The sidecar's log group. Default: a new one, kept for a month. */
  readonly logGroup?: logs.ILogGroup
  /** The container's name. Default `nlb-sidecar`. */
  readonly containerName?: string
  /** Anything else of the container definition (for example `readonlyRootFilesystem`, `cpu`). */
  readonly containerOptions?: Partial<Omit<ecs.ContainerDefinitionOptions, "image" | "environment">>
}

/** The settings the construct writes from its own properties, and the property for each. */
const settingOf: Readonly<Record<string, string>> = {
  DEREGISTRATION_WAIT: "deregistrationWait",
  DRAIN_STRATEGY: "drainStrategy",
  TARGET_GROUP_ARNS: "targetGroupArns",
  TARGET_CONTAINER_NAME: "targetContainer"
}

export const defaultDeregistrationWait = Duration.seconds(120)
/** The README's hard limit: under 64 MiB, but at 64 MiB the kernel keeps re-reading node's code. */
export const defaultMemoryLimitMiB = 96
export const healthCheckCommand = ["CMD", "/usr/local/bin/node", "/app/dist/main.js", "healthcheck"]
const maxTargetGroupArns = 10
const maxWaitSeconds = 86_400

export class NlbSidecar extends Construct {
  /** The sidecar's container definition. */
  readonly container: ecs.ContainerDefinition
  /** The policy on the task role with the sidecar's actions. */
  readonly policy: iam.Policy
  /** `DEREGISTRATION_WAIT` in seconds. */
  readonly deregistrationWaitSeconds: number
  readonly drainStrategy: DrainStrategy

  constructor(scope: Construct, id: string, props: NlbSidecarProps) {
    super(scope, id)
    const { taskDefinition } = props
    const network = networkOf(taskDefinition.networkMode)
    if (network === undefined) {
      throw new Error(
        `${this.node.path}: taskDefinition networkMode ${taskDefinition.networkMode} is not supported (awsvpc, bridge or host)`
      )
    }
    const application = props.applicationContainer ?? taskDefinition.defaultContainer
    if (application === undefined) {
      throw new Error(
        `${this.node.path}: taskDefinition has no application container yet: add it before the sidecar, or set applicationContainer`
      )
    }
    if (props.service !== undefined && props.service.taskDefinition !== taskDefinition) {
      throw new Error(
        `${this.node.path}: service ${props.service.node.path} runs task definition ${props.service.taskDefinition.node.path}, not ${taskDefinition.node.path}`
      )
    }
    for (const name of Object.keys(props.environment ?? {})) {
      const property = settingOf[name]
      if (property !== undefined) {
        throw new Error(`${this.node.path}: environment ${name}: set the property ${property} instead`)
      }
    }
    this.drainStrategy = props.drainStrategy ?? "auto"
    this.deregistrationWaitSeconds = wholeSeconds(this, props.deregistrationWait ?? defaultDeregistrationWait)
    const targetGroupArns = props.targetGroupArns
    if (
      targetGroupArns !== undefined && (targetGroupArns.length === 0 || targetGroupArns.length > maxTargetGroupArns)
    ) {
      throw new Error(
        `${this.node.path}: targetGroupArns (TARGET_GROUP_ARNS) has ${targetGroupArns.length} ARNs: 1 to ${maxTargetGroupArns}`
      )
    }

    const image = props.image ?? imageFromRepository(taskDefinition)
    const logGroup = props.logGroup ??
      new logs.LogGroup(this, "Logs", { retention: logs.RetentionDays.ONE_MONTH })
    this.container = taskDefinition.addContainer(props.containerName ?? "nlb-sidecar", {
      image,
      essential: true,
      memoryLimitMiB: defaultMemoryLimitMiB,
      environment: {
        DEREGISTRATION_WAIT: String(this.deregistrationWaitSeconds),
        DRAIN_STRATEGY: this.drainStrategy,
        ...(targetGroupArns === undefined ? {} : { TARGET_GROUP_ARNS: targetGroupArns.join(",") }),
        ...(props.targetContainer === undefined ? {} : { TARGET_CONTAINER_NAME: props.targetContainer.containerName }),
        ...props.environment
      },
      // Lenient on purpose: an essential container that fails it marks the whole task unhealthy.
      healthCheck: {
        command: healthCheckCommand,
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        startPeriod: Duration.seconds(30)
      },
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: "nlb-sidecar" }),
      ...props.containerOptions
    })
    const memory = props.containerOptions?.memoryLimitMiB
    if (memory !== undefined && memory < defaultMemoryLimitMiB) {
      Annotations.of(this).addWarningV2(
        "nlb-sidecar:memoryLimitBelow96MiB",
        `containerOptions.memoryLimitMiB ${memory}: the sidecar runs under 64 MiB, but below a hard limit of ${defaultMemoryLimitMiB} MiB the kernel keeps re-reading node's code and each poll costs many times the CPU; set ${defaultMemoryLimitMiB}, or memoryReservationMiB 64 without a hard limit`
      )
    }
    this.container.addContainerDependencies({
      container: application,
      condition: ecs.ContainerDependencyCondition.START
    })

    const actions = actionsFor(network, {
      targetGroupArns: targetGroupArns !== undefined,
      optional: props.optionalPermissions ?? true
    })
    const cluster = props.service?.cluster ?? props.cluster
    if (cluster === undefined && actions.some((a) => a.startsWith("ecs:"))) {
      Annotations.of(this).addWarningV2(
        "nlb-sidecar:ecsActionsOnEveryCluster",
        "the task role's ECS actions apply to every cluster: set service or cluster to limit them with ecs:cluster"
      )
    }
    this.policy = new iam.Policy(this, "Policy", { statements: statements(actions, cluster) })
    taskDefinition.taskRole.attachInlinePolicy(this.policy)
    // cdk-nag (AwsSolutions): the one wildcard is where IAM allows nothing narrower.
    Validations.of(this.policy).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "ELBv2 Describe* actions take no resource-level permissions; the ECS Describe* actions are limited to the cluster with the ecs:cluster condition"
    })

    this.node.addValidation({ validate: () => this.problems(props) })
  }

  /** The checks at synthesis, once the service's load balancers are attached. */
  private problems(props: NlbSidecarProps): Array<string> {
    const problems: Array<string> = []
    if (!this.container.essential) {
      problems.push(
        "containerOptions.essential is false: the sidecar must be essential, or its exit does not stop the task"
      )
    }
    if (this.drainStrategy === "connections" && isBridge(props.taskDefinition)) {
      problems.push(
        "drainStrategy \"connections\" (DRAIN_STRATEGY) cannot see the application's connections in bridge mode: each container has a network namespace of its own; use \"fixed\", or awsvpc or host networking"
      )
    }
    const groups = props.service === undefined ? [] : serviceTargetGroups(props.service)
    problems.push(...this.waitProblems(groups))
    if (props.service !== undefined && props.targetGroupArns !== undefined && groups.length > 0) {
      for (const arn of props.targetGroupArns) {
        if (namesGroup(resolveArn(this, arn), groups) === false) {
          problems.push(
            `targetGroupArns (TARGET_GROUP_ARNS) names ${
              nameOfArn(this, arn)
            }, not a target group of service ${props.service.node.path} (its groups: ${
              groups.map((g) => g.name).join(", ")
            }): the task is never registered there`
          )
        }
      }
    }
    return problems
  }

  private waitProblems(groups: ReadonlyArray<KnownTargetGroup>): Array<string> {
    return groups.flatMap((group) =>
      group.deregistrationDelaySeconds !== undefined &&
        this.deregistrationWaitSeconds >= group.deregistrationDelaySeconds
        ? [
          `deregistrationWait (DEREGISTRATION_WAIT=${this.deregistrationWaitSeconds}) is not below the deregistration delay of target group ${group.name} (${group.deregistrationDelaySeconds} s): ECS stops the task first and the sidecar saves nothing; lower deregistrationWait or raise deregistration_delay.timeout_seconds`
        ]
        : []
    )
  }
}

const networkOf = (mode: ecs.NetworkMode): "awsvpc" | "bridgeOrHost" | undefined =>
  mode === ecs.NetworkMode.AWS_VPC
    ? "awsvpc"
    : mode === ecs.NetworkMode.BRIDGE || mode === ecs.NetworkMode.HOST
    ? "bridgeOrHost"
    : undefined

const isBridge = (taskDefinition: ecs.TaskDefinition) => taskDefinition.networkMode === ecs.NetworkMode.BRIDGE

const wholeSeconds = (scope: Construct, wait: Duration): number => {
  const seconds = wait.toSeconds({ integral: false })
  if (Token.isUnresolved(seconds) || !Number.isInteger(seconds) || seconds < 0 || seconds > maxWaitSeconds) {
    throw new Error(
      `${scope.node.path}: deregistrationWait (DEREGISTRATION_WAIT) is ${wait.toHumanString()}: whole seconds from 0 to ${maxWaitSeconds}`
    )
  }
  return seconds
}

/** ELBv2 actions on `*` (they take no resource); ECS actions limited to the cluster when it is known. */
const statements = (actions: ReadonlyArray<string>, cluster: ecs.ICluster | undefined) => {
  const elb = actions.filter((a) => a.startsWith("elasticloadbalancing:"))
  const ecsActions = actions.filter((a) => a.startsWith("ecs:"))
  return [
    ...(elb.length > 0 ? [new iam.PolicyStatement({ actions: elb, resources: ["*"] })] : []),
    ...(ecsActions.length > 0
      ? [
        new iam.PolicyStatement({
          actions: ecsActions,
          resources: ["*"],
          ...(cluster === undefined ? {} : { conditions: { ArnEquals: { "ecs:cluster": cluster.clusterArn } } })
        })
      ]
      : [])
  ]
}
