import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { check, formatCheckReport } from "../src/programs/check.ts"
import { captureLogs } from "./support/logs.ts"
import { awsError, awsvpcTask, configTest, ecsTest, fixedRandom, ipGroup, metadataTest, scriptedTargetHealth, tgArn } from "./support/mocks.ts"

const web = tgArn("web")
const loadBalancers = [{ targetGroupArn: web, loadBalancerName: undefined, containerName: "app", containerPort: 8080 }]

const runCheck = (failWith?: Parameters<typeof ecsTest>[0]["failWith"]) =>
  check.pipe(Effect.provide(Layer.mergeAll(
    configTest(),
    metadataTest(awsvpcTask()),
    ecsTest({ loadBalancers, ...(failWith === undefined ? {} : { failWith }) }),
    scriptedTargetHealth({ timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)], calls: [] }),
    fixedRandom(0),
    captureLogs().layer
  )))

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
