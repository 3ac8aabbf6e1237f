// The container and the task role's policy the construct adds, in each network mode.
import { Duration, Stack } from "aws-cdk-lib"
import { Annotations, Match, type Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { actionsOf } from "../src/permissions.ts"
import { actionsOfStatements, containersOf, sidecarStatements, type TaskKind, withSidecar } from "./stacks.ts"

const sidecarIn = (template: Template) => {
  const sidecar = containersOf(template).find((c) => c.Name === "nlb-sidecar")
  expect(sidecar).toBeDefined()
  return sidecar!
}

const clusterCondition = (stack: Stack) => ({
  ArnEquals: { "ecs:cluster": stack.resolve(`arn:${stack.partition}:ecs:us-east-1:123456789012:cluster/web`) }
})

describe.each<[TaskKind, "awsvpc" | "bridgeOrHost"]>([
  ["fargate", "awsvpc"],
  ["ec2-awsvpc", "awsvpc"],
  ["bridge", "bridgeOrHost"],
  ["host", "bridgeOrHost"]
])("%s task", (kind, mode) => {
  const task = withSidecar(kind, (s) => ({ service: s.service }))
  const template = task.synth()

  it("adds an essential container with 96 MiB, after the application's START, the exec-form health check and awslogs", () => {
    const sidecar = sidecarIn(template)
    expect(sidecar.Essential).toBe(true)
    expect(sidecar.Memory).toBe(96)
    expect(sidecar.DependsOn).toEqual([{ ContainerName: "app", Condition: "START" }])
    expect(sidecar.HealthCheck).toEqual({
      Command: ["CMD", "/usr/local/bin/node", "/app/dist/main.js", "healthcheck"],
      Interval: 30,
      Timeout: 5,
      StartPeriod: 30,
      Retries: 3
    })
    expect(sidecar.LogConfiguration?.LogDriver).toBe("awslogs")
    expect(sidecar.LogConfiguration?.Options).toMatchObject({
      "awslogs-stream-prefix": "nlb-sidecar",
      "awslogs-group": {
        Ref: Object.keys(template.findResources("AWS::Logs::LogGroup", { Properties: { RetentionInDays: 30 } }))[0]
      }
    })
    // (CDK itself adds AWS_REGION to the containers of an EC2 awsvpc task.)
    expect(sidecar.Environment?.filter((e) => e.Name !== "AWS_REGION")).toEqual([
      { Name: "DEREGISTRATION_WAIT", Value: "120" },
      { Name: "DRAIN_STRATEGY", Value: "auto" }
    ])
  })

  it("grants the task role the mode's actions and the optional ones, ECS limited to the cluster", () => {
    const statements = sidecarStatements(template)
    expect(new Set(actionsOfStatements(statements))).toEqual(new Set([...actionsOf(mode), ...actionsOf("optional")]))
    const ecsStatement = statements.find((s) => actionsOfStatements([s]).some((a) => a.startsWith("ecs:")))
    expect(ecsStatement?.Condition).toEqual(clusterCondition(task.stack))
    const elbStatement = statements.find((s) => actionsOfStatements([s]).every((a) => a.startsWith("elastic")))
    expect(elbStatement).toMatchObject({ Resource: "*" })
    expect(elbStatement?.Condition).toBeUndefined()
    template.hasResourceProperties("AWS::IAM::Policy", {
      PolicyName: Match.stringLikeRegexp("^SidecarPolicy"),
      Roles: [{ Ref: Match.stringLikeRegexp("^TaskTaskRole") }]
    })
  })
})

describe("TARGET_GROUP_ARNS", () => {
  it("awsvpc, without the optional actions: DescribeTargetHealth only, and the variable set", () => {
    const task = withSidecar("fargate", (s) => ({
      targetGroupArns: [s.targetGroup.targetGroupArn],
      optionalPermissions: false
    }))
    const template = task.synth()
    expect(actionsOfStatements(sidecarStatements(template))).toEqual(["elasticloadbalancing:DescribeTargetHealth"])
    expect(sidecarIn(template).Environment).toContainEqual({
      Name: "TARGET_GROUP_ARNS",
      Value: task.stack.resolve(task.targetGroup.targetGroupArn)
    })
  })

  it("bridge, with the cluster given: the ECS actions limited to it", () => {
    const task = withSidecar("bridge", (s) => ({
      cluster: s.cluster,
      targetGroupArns: [s.targetGroup.targetGroupArn],
      optionalPermissions: false
    }))
    const statements = sidecarStatements(task.synth())
    expect(new Set(actionsOfStatements(statements))).toEqual(new Set(actionsOf("targetGroupArnsBridgeOrHost")))
    expect(statements.find((s) => s.Condition !== undefined)?.Condition).toEqual(clusterCondition(task.stack))
  })

  it("without a service or cluster: the ECS actions on every cluster, and a warning that says how to limit them", () => {
    const task = withSidecar("host", (s) => ({ targetGroupArns: [s.targetGroup.targetGroupArn] }))
    const statements = sidecarStatements(task.synth())
    expect(statements.some((s) => actionsOfStatements([s]).some((a) => a.startsWith("ecs:")))).toBe(true)
    expect(statements.every((s) => s.Condition === undefined)).toBe(true)
    Annotations.fromStack(task.stack).hasWarning("/Test/Sidecar", Match.stringLikeRegexp("set service or cluster"))
  })
})

describe("memory", () => {
  it("a hard limit below 96 MiB is warned about, naming containerOptions.memoryLimitMiB", () => {
    const task = withSidecar("fargate", () => ({ containerOptions: { memoryLimitMiB: 64 } }))
    expect(sidecarIn(task.synth()).Memory).toBe(64)
    Annotations.fromStack(task.stack).hasWarning(
      "/Test/Sidecar",
      Match.stringLikeRegexp("containerOptions.memoryLimitMiB 64: .* below a hard limit of 96 MiB")
    )
  })
})

describe("settings", () => {
  it("writes drainStrategy, deregistrationWait, targetContainer and other settings into the environment", () => {
    const task = withSidecar("host", (s) => ({
      service: s.service,
      drainStrategy: "connections",
      deregistrationWait: Duration.seconds(280),
      targetContainer: s.app,
      environment: { POLLING_FREQUENCY: "20" }
    }))
    expect(sidecarIn(task.synth()).Environment).toEqual([
      { Name: "DEREGISTRATION_WAIT", Value: "280" },
      { Name: "DRAIN_STRATEGY", Value: "connections" },
      { Name: "TARGET_CONTAINER_NAME", Value: "app" },
      { Name: "POLLING_FREQUENCY", Value: "20" }
    ])
  })
})
