import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { check, formatCheckReport } from "../src/programs/check.ts"
import { awsError, type ecsTest, ipGroup, testLayer, tgArn } from "./support/mocks.ts"

const web = tgArn("web")
const loadBalancers = [{ targetGroupArn: web, loadBalancerName: undefined, containerName: "app", containerPort: 8080 }]

const runCheck = (failWith?: Parameters<typeof ecsTest>[0]["failWith"]) =>
  check.pipe(Effect.provide(testLayer({
    settings: { startupTimeoutSeconds: 10 },
    ecs: { loadBalancers, ...(failWith === undefined ? {} : { failWith }) },
    elb: { timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)] }
  }).layer))

describe("check", () => {
  it.effect("reports the task, each target group with this task's target and state, and the IAM actions used", () =>
    Effect.gen(function*() {
      const report = yield* runCheck()
      assert.isTrue(report.ok)
      assert.strictEqual(report.exitCode, 0)
      assert.strictEqual(report.service, "web")
      assert.strictEqual(report.networkMode, "awsvpc")
      assert.deepStrictEqual(report.targetGroups, [{
        arn: web,
        targetType: "ip",
        protocol: "TCP",
        targets: [{ id: "10.0.2.106", port: 8080, state: "healthy", reason: null }]
      }])
      assert.deepStrictEqual(report.permissions.map((p) => `${p.action}:${p.ok}`), [
        "ecs:DescribeServices:true",
        "elasticloadbalancing:DescribeTargetGroups:true",
        "elasticloadbalancing:DescribeTargetHealth:true"
      ])
      const text = formatCheckReport(report)
      assert.include(text, "OK (exit code 0)")
      assert.include(text, "this task: 10.0.2.106:8080 is healthy")
    }))

  it.effect("names the permission that failed and ends with the exit code `run` would have", () =>
    Effect.gen(function*() {
      const report = yield* runCheck({ DescribeServices: awsError("ecs:DescribeServices", "AccessDeniedException", false) })
      assert.isFalse(report.ok)
      assert.strictEqual(report.exitCode, 5)
      assert.deepStrictEqual(report.permissions, [{ action: "ecs:DescribeServices", ok: false, error: "AccessDeniedException" }])
      const text = formatCheckReport(report)
      assert.include(text, "FAILED ecs:DescribeServices: AccessDeniedException")
      assert.include(text, "grant the IAM permission ecs:DescribeServices")
    }))
})

describe("check through an AWS brownout", () => {
  it.effect("gives up at its timeout with exit 6 and the last failure, where `run` would go on trying", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(runCheck({ DescribeServices: awsError("ecs:DescribeServices", "ThrottlingException", true) }))
      yield* TestClock.adjust("9 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      assert.isFalse(report.ok)
      assert.strictEqual(report.exitCode, 6)
      assert.include(report.error ?? "", "ThrottlingException")
      assert.deepStrictEqual(report.permissions.map((p) => [p.action, p.ok, p.error]), [["ecs:DescribeServices", false, "ThrottlingException"]])
    }))
})
