// Two Fargate services with the sidecar, as an adopter writes them: `web` behind an Application
// Load Balancer, exiting once its requests are done, and `tcp` behind a Network Load Balancer.
import { Duration, Stack, type StackProps } from "aws-cdk-lib"
import * as ec2 from "aws-cdk-lib/aws-ec2"
import * as ecs from "aws-cdk-lib/aws-ecs"
import * as ecsPatterns from "aws-cdk-lib/aws-ecs-patterns"
import type { Construct } from "constructs"
import { NlbSidecar } from "../src/index.ts"

export interface ExampleProps extends StackProps {
  /** The sidecar's image in a registry; undefined: built from this repository's Dockerfile. */
  readonly sidecarImage: string | undefined
}

const sidecarImage = (props: ExampleProps) =>
  props.sidecarImage === undefined ? {} : { image: ecs.ContainerImage.fromRegistry(props.sidecarImage) }

/** A VPC of public subnets only (no NAT gateway): the tasks get public IPs to reach ECR and the AWS APIs. */
const publicCluster = (scope: Construct) =>
  new ecs.Cluster(scope, "Cluster", {
    vpc: new ec2.Vpc(scope, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC }]
    }),
    containerInsightsV2: ecs.ContainerInsights.ENABLED
  })

/** Two tasks of the application (nginx on port 80) with public IPs, each a quarter vCPU and 1 GiB. */
const fargateService = (scope: Construct) => ({
  cluster: publicCluster(scope),
  cpu: 256,
  memoryLimitMiB: 1024,
  desiredCount: 2,
  assignPublicIp: true,
  taskSubnets: { subnetType: ec2.SubnetType.PUBLIC },
  taskImageOptions: { image: ecs.ContainerImage.fromRegistry("public.ecr.aws/nginx/nginx:stable"), containerPort: 80 }
})

/** Behind an ALB: the default (`auto`, `connections` on Fargate) exits seconds after the last request (at most 280 s, below the 300 s delay). */
export class AlbFargateStack extends Stack {
  constructor(scope: Construct, id: string, props: ExampleProps) {
    super(scope, id, props)
    const web = new ecsPatterns.ApplicationLoadBalancedFargateService(this, "Web", fargateService(this))
    web.targetGroup.setAttribute("deregistration_delay.timeout_seconds", "300")
    new NlbSidecar(this, "Sidecar", {
      taskDefinition: web.taskDefinition,
      service: web.service,
      deregistrationWait: Duration.seconds(280),
      ...sidecarImage(props)
    })
  }
}

/** Behind an NLB: the default (`connections` on Fargate) with its 120 s floor (the NLB keeps routing new connections for about two minutes). */
export class NlbFargateStack extends Stack {
  constructor(scope: Construct, id: string, props: ExampleProps) {
    super(scope, id, props)
    const tcp = new ecsPatterns.NetworkLoadBalancedFargateService(this, "Tcp", {
      ...fargateService(this),
      listenerPort: 80
    })
    // An NLB without security groups passes the clients' addresses through: the tasks admit them.
    tcp.service.connections.allowFromAnyIpv4(ec2.Port.tcp(80))
    tcp.targetGroup.setAttribute("deregistration_delay.timeout_seconds", "300")
    new NlbSidecar(this, "Sidecar", {
      taskDefinition: tcp.taskDefinition,
      service: tcp.service,
      deregistrationWait: Duration.seconds(240),
      ...sidecarImage(props)
    })
  }
}

/** The examples' stacks in `scope`. */
export const exampleStacks = (scope: Construct, sidecarImage: string | undefined) => [
  new AlbFargateStack(scope, "NlbSidecarAlbExample", { sidecarImage }),
  new NlbFargateStack(scope, "NlbSidecarNlbExample", { sidecarImage })
]
