// Settings that would make the sidecar save nothing, or stop the task for nothing, fail the
// synthesis with a message naming the setting.
import { Duration } from "aws-cdk-lib"
import * as ecs from "aws-cdk-lib/aws-ecs"
import { describe, expect, it } from "vitest"
import { NlbSidecar } from "../src/index.ts"
import { image, type TaskKind, taskStack, withSidecar } from "./stacks.ts"

describe("deregistrationWait against the target groups' deregistration delay", () => {
  it("a wait at the service's target group's delay fails, naming deregistrationWait and the group", () => {
    const task = withSidecar("fargate", (s) => ({ service: s.service }), { deregistrationDelay: Duration.seconds(120) })
    expect(task.synth).toThrow(
      /deregistrationWait \(DEREGISTRATION_WAIT=120\) is not below the deregistration delay of target group Test\/TargetGroup \(120 s\)/
    )
  })

  it("a wait above ELBv2's default delay of 300 s fails when the group sets none; below it passes", () => {
    const above = withSidecar("fargate", (s) => ({ service: s.service, deregistrationWait: Duration.seconds(301) }))
    expect(above.synth).toThrow(/DEREGISTRATION_WAIT=301\) is not below .* \(300 s\)/)
    const below = withSidecar("fargate", (s) => ({ service: s.service, deregistrationWait: Duration.seconds(299) }))
    expect(below.synth).not.toThrow()
  })

  it("checks the groups attached to the service after the sidecar was added", () => {
    const task = withSidecar("bridge", (s) => ({ service: s.service, deregistrationWait: Duration.seconds(150) }), {
      deregistrationDelay: Duration.seconds(200)
    })
    task.otherTargetGroup.setAttribute("deregistration_delay.timeout_seconds", "60")
    task.otherTargetGroup.addTarget(task.service as ecs.Ec2Service)
    expect(task.synth).toThrow(/DEREGISTRATION_WAIT=150\) is not below .* Test\/OtherTargetGroup \(60 s\)/)
  })

  it("a wait that is not whole seconds from 0 to 86400 is refused, naming deregistrationWait", () => {
    for (const wait of [Duration.millis(1500), Duration.seconds(86_401)]) {
      expect(() => withSidecar("fargate", () => ({ deregistrationWait: wait }))).toThrow(
        /deregistrationWait \(DEREGISTRATION_WAIT\) is .*: whole seconds from 0 to 86400/
      )
    }
  })
})

describe("the container", () => {
  it("a non-essential sidecar fails, naming containerOptions.essential", () => {
    const task = withSidecar("fargate", () => ({ containerOptions: { essential: false } }))
    expect(task.synth).toThrow(/containerOptions\.essential is false: the sidecar must be essential/)
  })

  it("a task without an application container yet is refused", () => {
    const setup = taskStack("fargate")
    const empty = new ecs.FargateTaskDefinition(setup.stack, "Empty")
    expect(() => new NlbSidecar(setup.stack, "Sidecar", { taskDefinition: empty, image })).toThrow(
      /taskDefinition has no application container yet/
    )
  })

  it("a service that runs another task definition is refused", () => {
    const setup = taskStack("fargate")
    const other = new ecs.FargateTaskDefinition(setup.stack, "Other")
    other.addContainer("app", { image })
    expect(() => new NlbSidecar(setup.stack, "Sidecar", { taskDefinition: other, service: setup.service, image }))
      .toThrow(/service Test\/Service runs task definition Test\/Task, not Test\/Other/)
  })

  it("a setting the construct writes is refused in environment, naming the property to use", () => {
    expect(() => withSidecar("fargate", () => ({ environment: { DEREGISTRATION_WAIT: "60" } }))).toThrow(
      /environment DEREGISTRATION_WAIT: set the property deregistrationWait instead/
    )
  })
})

describe("drainStrategy connections", () => {
  it.each<TaskKind>(["fargate", "ec2-awsvpc", "host"])("%s: allowed", (kind) => {
    expect(withSidecar(kind, () => ({ drainStrategy: "connections" })).synth).not.toThrow()
  })

  it("bridge: fails, naming drainStrategy", () => {
    expect(withSidecar("bridge", () => ({ drainStrategy: "connections" })).synth).toThrow(
      /drainStrategy "connections" \(DRAIN_STRATEGY\) cannot see the application's connections in bridge mode/
    )
  })

  it("bridge with the default (auto): allowed, since the sidecar falls back to fixed there", () => {
    expect(withSidecar("bridge", () => ({})).synth).not.toThrow()
  })
})

describe("targetGroupArns against the service's target groups", () => {
  it("a group that is not the service's fails, naming targetGroupArns and the service's groups", () => {
    const task = withSidecar("fargate", (s) => ({
      service: s.service,
      targetGroupArns: [s.otherTargetGroup.targetGroupArn]
    }))
    expect(task.synth).toThrow(
      /targetGroupArns \(TARGET_GROUP_ARNS\) names Test\/OtherTargetGroup, not a target group of service Test\/Service \(its groups: Test\/TargetGroup\)/
    )
  })

  it("the service's own group passes", () => {
    const task = withSidecar(
      "fargate",
      (s) => ({ service: s.service, targetGroupArns: [s.targetGroup.targetGroupArn] })
    )
    expect(task.synth).not.toThrow()
  })

  it("an empty list, or more than 10 ARNs, is refused", () => {
    for (const count of [0, 11]) {
      expect(() =>
        withSidecar("fargate", (s) => ({
          targetGroupArns: Array.from({ length: count }, () => s.targetGroup.targetGroupArn)
        }))
      ).toThrow(new RegExp(`targetGroupArns \\(TARGET_GROUP_ARNS\\) has ${count} ARNs: 1 to 10`))
    }
  })
})
