// Tasks in each network mode, in a stack of their own, for the construct to be added to.
import { App, Duration, Stack } from "aws-cdk-lib"
import { Template } from "aws-cdk-lib/assertions"
import * as ec2 from "aws-cdk-lib/aws-ec2"
import * as ecs from "aws-cdk-lib/aws-ecs"
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2"
import { NlbSidecar, type NlbSidecarProps } from "../src/index.ts"

export const image = ecs.ContainerImage.fromRegistry("ghcr.io/example/nlb-sidecar-for-ecs:0.1.0")

export type TaskKind = "fargate" | "ec2-awsvpc" | "bridge" | "host"

export interface TaskStack {
  readonly stack: Stack
  readonly cluster: ecs.ICluster
  readonly taskDefinition: ecs.TaskDefinition
  readonly app: ecs.ContainerDefinition
  readonly service: ecs.BaseService
  /** An NLB target group the service is registered in (deregistration delay as given, else ELBv2's 300 s). */
  readonly targetGroup: elbv2.NetworkTargetGroup
  /** A group of the stack that the service is not in. */
  readonly otherTargetGroup: elbv2.NetworkTargetGroup
}

export const taskStack = (kind: TaskKind, options: { readonly deregistrationDelay?: Duration } = {}): TaskStack => {
  const stack = new Stack(new App(), "Test", { env: { account: "123456789012", region: "us-east-1" } })
  const vpc = ec2.Vpc.fromVpcAttributes(stack, "Vpc", {
    vpcId: "vpc-0123456789abcdef0",
    availabilityZones: ["us-east-1a"],
    publicSubnetIds: ["subnet-0123456789abcdef0"]
  })
  const cluster = ecs.Cluster.fromClusterAttributes(stack, "Cluster", {
    clusterName: "web",
    vpc,
    hasEc2Capacity: kind !== "fargate",
    securityGroups: []
  })
  const taskDefinition = kind === "fargate"
    ? new ecs.FargateTaskDefinition(stack, "Task", { cpu: 256, memoryLimitMiB: 512 })
    : new ecs.Ec2TaskDefinition(stack, "Task", {
      networkMode: kind === "ec2-awsvpc"
        ? ecs.NetworkMode.AWS_VPC
        : kind === "bridge"
        ? ecs.NetworkMode.BRIDGE
        : ecs.NetworkMode.HOST
    })
  const app = taskDefinition.addContainer("app", {
    image: ecs.ContainerImage.fromRegistry("public.ecr.aws/nginx/nginx:1.27"),
    memoryLimitMiB: 256,
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: "app" }),
    portMappings: [{ containerPort: 8080, ...(kind === "bridge" ? { hostPort: 0 } : {}) }]
  })
  const service = kind === "fargate"
    ? new ecs.FargateService(stack, "Service", { cluster, taskDefinition, assignPublicIp: true })
    : new ecs.Ec2Service(stack, "Service", { cluster, taskDefinition })
  const targetType = kind === "fargate" || kind === "ec2-awsvpc" ? elbv2.TargetType.IP : elbv2.TargetType.INSTANCE
  const targetGroup = new elbv2.NetworkTargetGroup(stack, "TargetGroup", {
    vpc,
    port: 8080,
    targetType,
    ...(options.deregistrationDelay === undefined ? {} : { deregistrationDelay: options.deregistrationDelay })
  })
  targetGroup.addTarget(service as ecs.FargateService)
  const otherTargetGroup = new elbv2.NetworkTargetGroup(stack, "OtherTargetGroup", { vpc, port: 9090, targetType })
  return { stack, cluster, taskDefinition, app, service, targetGroup, otherTargetGroup }
}

/** A task of `kind` with the sidecar (id `Sidecar`, the test image), and what `props` adds given the task. */
export const withSidecar = (
  kind: TaskKind,
  props: (setup: TaskStack) => Partial<NlbSidecarProps> = () => ({}),
  options: { readonly deregistrationDelay?: Duration } = {}
) => {
  const setup = taskStack(kind, options)
  const sidecar = new NlbSidecar(setup.stack, "Sidecar", {
    taskDefinition: setup.taskDefinition,
    image,
    ...props(setup)
  })
  return { ...setup, sidecar, synth: () => Template.fromStack(setup.stack) }
}

export interface ContainerDefinition {
  readonly Name: string
  readonly Essential?: boolean
  readonly Memory?: number
  readonly Environment?: ReadonlyArray<{ readonly Name: string; readonly Value: string }>
  readonly DependsOn?: ReadonlyArray<{ readonly ContainerName: string; readonly Condition: string }>
  readonly HealthCheck?: Record<string, unknown>
  readonly LogConfiguration?: { readonly LogDriver: string; readonly Options: Record<string, unknown> }
}

/** The container definitions of the template's one task definition. */
export const containersOf = (template: Template): ReadonlyArray<ContainerDefinition> => {
  const [definition, ...more] = Object.values(template.findResources("AWS::ECS::TaskDefinition"))
  if (definition === undefined || more.length > 0) throw new Error("expected one task definition")
  return (definition as { Properties: { ContainerDefinitions: ReadonlyArray<ContainerDefinition> } }).Properties
    .ContainerDefinitions
}

export interface PolicyStatement {
  readonly Action: string | ReadonlyArray<string>
  readonly Resource: unknown
  readonly Condition?: unknown
}

/** The statements of the sidecar's policy (the one AWS::IAM::Policy whose logical id starts with the construct's id). */
export const sidecarStatements = (template: Template, id = "Sidecar"): ReadonlyArray<PolicyStatement> => {
  const policies = Object.entries(template.findResources("AWS::IAM::Policy")).filter(([logicalId]) =>
    logicalId.startsWith(`${id}Policy`)
  )
  if (policies.length !== 1) throw new Error(`expected one policy of ${id}, found ${policies.length}`)
  return (policies[0]![1] as { Properties: { PolicyDocument: { Statement: ReadonlyArray<PolicyStatement> } } })
    .Properties.PolicyDocument.Statement
}

export const actionsOfStatements = (statements: ReadonlyArray<PolicyStatement>): ReadonlyArray<string> =>
  statements.flatMap((s) => (typeof s.Action === "string" ? [s.Action] : s.Action))
