import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { connectionsStrategy } from "../src/layers/drain/connections.ts"
import { fixedStrategy } from "../src/layers/drain/fixed.ts"
import { check } from "../src/programs/check.ts"
import { advise } from "../src/programs/checkAdvice.ts"
import { formatCheckReport } from "../src/programs/checkReport.ts"
import {
  awsError,
  awsvpcTask,
  ecsService,
  type ecsTest,
  ipGroup,
  testLayer,
  tgArn,
  webLoadBalancer
} from "./support/mocks.ts"

const web = tgArn("web")

const runCheck = (failWith?: Parameters<typeof ecsTest>[0]["failWith"]) =>
  check.pipe(Effect.provide(
    testLayer({
      settings: { startupTimeoutSeconds: 10 },
      ecs: { loadBalancers: [webLoadBalancer], ...(failWith === undefined ? {} : { failWith }) },
      elb: { timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)] }
    }).layer
  ))

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
        role: "primary",
        registered: true,
        targetType: "ip",
        protocol: "TCP",
        deregistrationDelaySeconds: 300,
        targets: [{ id: "10.0.2.106", port: 8080, state: "healthy", reason: null }]
      }])
      assert.deepStrictEqual(report.permissions.map((p) => `${p.action}:${p.ok}`), [
        "ecs:DescribeServices:true",
        "elasticloadbalancing:DescribeTargetGroups:true",
        "elasticloadbalancing:DescribeTargetGroupAttributes:true",
        "ecs:DescribeTasks:true",
        "elasticloadbalancing:DescribeTargetHealth:true"
      ])
      assert.deepStrictEqual(report.advice, [])
      const text = formatCheckReport(report)
      assert.include(text, "OK (exit code 0)")
      assert.include(text, "this task: 10.0.2.106:8080 is healthy")
    }))

  it.effect("names the permission that failed and ends with the exit code `run` would have", () =>
    Effect.gen(function*() {
      const report = yield* runCheck({
        DescribeServices: awsError("ecs:DescribeServices", "AccessDeniedException", false)
      })
      assert.isFalse(report.ok)
      assert.strictEqual(report.exitCode, 5)
      assert.deepStrictEqual(report.permissions, [{
        action: "ecs:DescribeServices",
        ok: false,
        error: "AccessDeniedException"
      }])
      const text = formatCheckReport(report)
      assert.include(text, "FAILED ecs:DescribeServices: AccessDeniedException")
      assert.include(text, "grant the IAM permission ecs:DescribeServices")
    }))
})

describe("check counts the API calls", () => {
  it.effect("this task's calls per hour, at start and at the drain; with the service's desired count, its share of each bucket", () =>
    Effect.gen(function*() {
      const report = yield* check.pipe(Effect.provide(
        testLayer({
          settings: { pollingFrequencySeconds: 30 },
          ecs: { service: { ...ecsService([webLoadBalancer]), desiredCount: 300 } },
          elb: { timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)] }
        }).layer
      ))
      assert.deepStrictEqual(report.calls, {
        pollingFrequencySeconds: 30,
        targetGroups: 1,
        perHour: { "elasticloadbalancing:DescribeTargetHealth": 120 },
        atStart: {
          "elasticloadbalancing:DescribeTargetGroups": 1,
          "ecs:DescribeServices": 1
        },
        atDrain: {
          "elasticloadbalancing:DescribeTargetGroupAttributes": 1,
          "ecs:DescribeTasks": 1
        },
        service: {
          name: "web",
          desiredCount: 300,
          // 300 tasks × 120 an hour = 10 requests a second: all of the ELB buckets' refill.
          shares: { elbNonMutating: 1, elbAccount: 1, ecsClusterReads: 0, ecsServiceReads: 0 }
        }
      })
      const text = formatCheckReport(report)
      assert.include(text, "API calls:    120 an hour while watching")
      assert.include(text, "service web, desired count 300")
      assert.include(text, "100% of ELBv2 non-mutating")
    }))

  it.effect("without a desired count (ECS does not say), the task's own calls only", () =>
    Effect.gen(function*() {
      const report = yield* runCheck()
      assert.strictEqual(report.calls?.perHour["elasticloadbalancing:DescribeTargetHealth"], 120)
      assert.isUndefined(report.calls?.service)
      assert.notInclude(formatCheckReport(report), "desired count")
    }))
})

describe("check: the connections a drain would wait for", () => {
  it.effect("lists the loopback peers connected to a target port, and advises a port of their own for them", () =>
    Effect.gen(function*() {
      const report = yield* check.pipe(Effect.provide(
        testLayer({
          settings: { startupTimeoutSeconds: 10, drainStrategy: "connections" },
          ecs: { loadBalancers: [webLoadBalancer] },
          elb: { timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)] },
          connections: (ports) =>
            Effect.succeed({
              open: new Map(ports.map((p) => [p, 3])),
              loopbackPeers: new Map(ports.map((p) => [p, new Set(["::1", "127.0.0.1"])]))
            })
        }).layer
      ))
      assert.deepStrictEqual(report.drain, {
        strategy: "connections",
        why: "DRAIN_STRATEGY=connections",
        ports: [{ port: 8080, connections: 3, loopbackPeers: ["127.0.0.1", "::1"] }]
      })
      assert.include(formatCheckReport(report), "port 8080: 3 connections open now, from loopback peers 127.0.0.1, ::1")
      assert.strictEqual(report.advice.length, 1)
      assert.include(report.advice[0], "port 8080 has connections from loopback peers (127.0.0.1, ::1)")
      assert.include(report.advice[0], "serve those on a port of their own")
    }))
})

describe("check on blue/green services", () => {
  const green = tgArn("web-green", "5c1f0e8a9b7d3e21")
  const checkWith = (world: Pick<NonNullable<Parameters<typeof testLayer>[0]>, "ecs" | "elb">) =>
    check.pipe(Effect.provide(testLayer({ settings: { startupTimeoutSeconds: 10 }, ...world }).layer))

  it.effect("lists each group with its role and whether the task is registered there; the group it is not in costs a poll all the same", () =>
    Effect.gen(function*() {
      const report = yield* checkWith({
        ecs: {
          service: {
            deploymentController: "ECS",
            loadBalancers: [{ ...webLoadBalancer, alternateTargetGroupArn: green }],
            taskSets: []
          }
        },
        elb: {
          timelines: {
            [web]: [{ at: 0, state: "unused", reason: "Target.NotRegistered" }],
            [green]: [{ at: 0, state: "healthy" }]
          },
          groups: [ipGroup(web), ipGroup(green)]
        }
      })
      assert.deepStrictEqual(report.targetGroups.map((g) => [g.arn, g.role, g.registered]), [
        [web, "primary", false],
        [green, "alternate", true]
      ])
      assert.strictEqual(report.deploymentController, "ECS")
      const text = formatCheckReport(report)
      assert.include(text, `target group: ${web} (primary)`)
      assert.include(text, `target group: ${green} (alternate)`)
      assert.strictEqual(
        text.split("\n").filter((l) =>
          l.includes("not registered here now: watched all the same, at one DescribeTargetHealth per poll")
        ).length,
        1
      )
    }))

  it.effect("a CODE_DEPLOY task: its task set, and the task set's group", () =>
    Effect.gen(function*() {
      const report = yield* checkWith({
        ecs: {
          task: {
            group: "service:web",
            startedBy: "ecs-svc/1234567890123456789",
            containerInstanceArn: undefined,
            containers: []
          },
          service: {
            deploymentController: "CODE_DEPLOY",
            loadBalancers: [webLoadBalancer],
            taskSets: [{
              id: "ecs-svc/1234567890123456789",
              taskSetArn: "arn:aws:ecs:us-east-1:111122223333:task-set/default/web/ecs-svc/1234567890123456789",
              status: "PRIMARY",
              loadBalancers: [{ ...webLoadBalancer, targetGroupArn: green }]
            }]
          }
        },
        elb: { timelines: { [green]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web), ipGroup(green)] }
      })
      assert.deepStrictEqual(report.targetGroups.map((g) => [g.arn, g.role, g.registered]), [[green, "task set", true]])
      assert.include(
        formatCheckReport(report),
        "deployments:  CODE_DEPLOY, this task's task set ecs-svc/1234567890123456789"
      )
      // DescribeTasks is what names the task set: needed here, not optional.
      assert.deepInclude(report.permissions, { action: "ecs:DescribeTasks", ok: true })
    }))
})

describe("check through an AWS brownout", () => {
  it.effect("gives up at its timeout with exit 6 and the last failure, where `run` would go on trying", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(
        runCheck({ DescribeServices: awsError("ecs:DescribeServices", "ThrottlingException", true) })
      )
      yield* TestClock.adjust("9 seconds")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 second")
      const report = yield* Fiber.join(fiber)
      assert.isFalse(report.ok)
      assert.strictEqual(report.exitCode, 6)
      assert.include(report.error ?? "", "ThrottlingException")
      assert.deepStrictEqual(report.permissions.map((p) => [p.action, p.ok, p.error]), [[
        "ecs:DescribeServices",
        false,
        "ThrottlingException"
      ]])
    }))
})

describe("check advises", () => {
  const group = (protocol: string, deregistrationDelaySeconds: number | null) => ({
    arn: web,
    role: "primary" as const,
    registered: true,
    targetType: "ip",
    protocol,
    deregistrationDelaySeconds,
    targets: []
  })
  const fixed = { deregistrationWaitSeconds: 120 }

  it("when DEREGISTRATION_WAIT is not below the group's deregistration delay: it saves nothing", () => {
    const [advice] = advise(fixed, [group("TCP", 120)], [])
    assert.include(advice, "DEREGISTRATION_WAIT=120 is not below the deregistration delay")
    assert.deepStrictEqual(advise(fixed, [group("TCP", 300)], []), [])
  })

  it("when an NLB group has DRAIN_STRATEGY=connections with DRAIN_MIN_WAIT under 120", () => {
    const connections = (drainMinWaitSeconds: number) =>
      connectionsStrategy({ deregistrationWaitSeconds: 280, drainIdleSeconds: 5, drainMinWaitSeconds })
    const [advice] = connections(30).advise([group("TLS", 300)], true)
    assert.include(advice, "DRAIN_MIN_WAIT=30 with the Network Load Balancer group")
    assert.deepStrictEqual(connections(120).advise([group("TLS", 300)], true), [])
    assert.deepStrictEqual(connections(30).advise([group("HTTP", 300)], true), [])
  })

  it("when an ALB group waits a fixed time over 30 s: suggests connections", () => {
    const [advice] = fixedStrategy(fixed).advise([group("HTTPS", 300)], true)
    assert.include(advice, "DRAIN_STRATEGY=connections exits when the last request is done instead of after 120 s")
    assert.deepStrictEqual(fixedStrategy({ deregistrationWaitSeconds: 30 }).advise([group("HTTPS", 300)], true), [])
  })

  it("when an optional permission is missing, naming it and what it is for", () => {
    const [advice] = advise(fixed, [], [{
      action: "ecs:DescribeTasks",
      ok: false,
      error: "AccessDeniedException",
      optional: true
    }])
    assert.include(
      advice,
      "ecs:DescribeTasks failed (AccessDeniedException): grant it to the task role (optional) for why ECS stops the task"
    )
  })

  it.effect("a denied optional call leaves the check OK, exit 0, with the advice", () =>
    Effect.gen(function*() {
      const report = yield* check.pipe(Effect.provide(
        testLayer({
          settings: { startupTimeoutSeconds: 10 },
          ecs: {
            loadBalancers: [webLoadBalancer],
            failWith: { DescribeTasks: awsError("ecs:DescribeTasks", "AccessDeniedException", false) }
          },
          elb: {
            timelines: { [web]: [{ at: 0, state: "healthy" }] },
            groups: [ipGroup(web)],
            deregistrationDelay: { [web]: { error: "AccessDenied" } }
          }
        }).layer
      ))
      assert.isTrue(report.ok)
      assert.strictEqual(report.exitCode, 0)
      assert.deepStrictEqual(report.advice.map((a) => a.split(" ")[0]), [
        "elasticloadbalancing:DescribeTargetGroupAttributes",
        "ecs:DescribeTasks"
      ])
      assert.include(
        formatCheckReport(report),
        "FAILED elasticloadbalancing:DescribeTargetGroupAttributes: AccessDenied (optional)"
      )
    }))

  it.effect("where discovery needs ecs:DescribeTasks (no service in the metadata, as on Fargate), denying it fails the check, not optional", () =>
    Effect.gen(function*() {
      const { ServiceName: _, ...fargateLike } = awsvpcTask()
      const report = yield* check.pipe(Effect.provide(
        testLayer({
          settings: { startupTimeoutSeconds: 10 },
          task: fargateLike,
          ecs: {
            loadBalancers: [webLoadBalancer],
            failWith: { DescribeTasks: awsError("ecs:DescribeTasks", "AccessDeniedException", false) }
          },
          elb: { timelines: { [web]: [{ at: 0, state: "healthy" }] }, groups: [ipGroup(web)] }
        }).layer
      ))
      assert.isFalse(report.ok)
      assert.strictEqual(report.exitCode, 5)
      assert.deepStrictEqual(report.permissions, [{
        action: "ecs:DescribeTasks",
        ok: false,
        error: "AccessDeniedException"
      }])
      const text = formatCheckReport(report)
      assert.include(text, "FAILED ecs:DescribeTasks: AccessDeniedException")
      assert.notInclude(text, "(optional)")
    }))
})
