// A deployment's worth of sidecars in one process, on virtual time, sharing
// one ELBv2 API token bucket per account and region (40 burst, 10/s refill).
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Exit, Fiber, Layer, Logger, Random } from "effect"
import { TestClock } from "effect/testing"
import type { TargetObservation } from "../src/domain.ts"
import { Drained } from "../src/errors.ts"
import { DrainStrategy } from "../src/layers/DrainStrategy.ts"
import { TargetHealth } from "../src/layers/TargetHealth.ts"
import { sidecar } from "../src/programs/sidecar.ts"
import { PollTiming } from "../src/schedules.ts"
import { awsError, awsvpcTask, configTest, ecsTest, ipGroup, metadataTest, tgArn } from "./support/mocks.ts"
import { partialService } from "./support/partialService.ts"

const fleetSize = 300
const drainAt = 600_000
const web = tgArn("web")

const tokenBucket = (burst: number, perSecond: number) => {
  let tokens = burst
  let last = 0
  return (now: number): boolean => {
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond)
    last = now
    if (tokens < 1) return false
    tokens -= 1
    return true
  }
}

interface FleetReport {
  readonly polls: number
  readonly throttledShare: number
  readonly p50: number
  readonly p95: number
  readonly max: number
  readonly earlyExits: number
  readonly exitedAfterWait: number
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN

type Timing = typeof PollTiming.Service

const runFleet = (timing: Timing | undefined) =>
  Effect.gen(function*() {
    // Each fleet runs on its own stretch of virtual time, starting at t0.
    const t0 = yield* Clock.currentTimeMillis
    const bucket = tokenBucket(40, 10)
    const take = (now: number) => bucket(now - t0)
    let polls = 0
    let throttled = 0
    const elb = TargetHealth.layerTest(partialService(TargetHealth, {
      describeTargetGroups: () =>
        Clock.currentTimeMillis.pipe(Effect.flatMap((now) =>
          take(now)
            ? Effect.succeed([ipGroup(web)])
            : Effect.fail(awsError("elasticloadbalancing:DescribeTargetGroups", "Throttling", true))
        )),
      poll: (_, targets) =>
        Clock.currentTimeMillis.pipe(Effect.flatMap((now) => {
          polls++
          if (!take(now)) {
            throttled++
            return Effect.fail(awsError("elasticloadbalancing:DescribeTargetHealth", "Throttling", true))
          }
          const state = now - t0 >= drainAt ? "draining" : "healthy"
          return Effect.succeed(targets.map((target): TargetObservation => ({ target, state, reason: undefined })))
        })),
      listTargets: () => Effect.succeed([]),
      describeDeregistrationDelay: () => Effect.succeed(300)
    }))

    const fibers = []
    for (let i = 0; i < fleetSize; i++) {
      const task = awsvpcTask({
        Containers: [{
          Name: "app",
          Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: [`10.0.${i >> 8}.${i & 255}`] }]
        }]
      })
      const layer = Layer.mergeAll(
        DrainStrategy.layer.pipe(
          Layer.provideMerge(
            configTest({ pollingFrequencySeconds: 30, deregistrationWaitSeconds: 120, drainStrategy: "fixed" })
          )
        ),
        metadataTest(task),
        ecsTest({
          loadBalancers: [{
            targetGroupArn: web,
            loadBalancerName: undefined,
            containerName: "app",
            containerPort: 8080
          }]
        }),
        elb,
        Logger.layer([]),
        ...(timing === undefined ? [] : [Layer.succeed(PollTiming, timing)])
      )
      const program = sidecar.pipe(
        Effect.provide(layer),
        Random.withSeed(`task-${i}`),
        Effect.exit,
        Effect.flatMap((exit) => Clock.currentTimeMillis.pipe(Effect.map((at) => ({ exit, at }))))
      )
      fibers.push(yield* Effect.forkChild(program))
    }

    yield* TestClock.adjust(drainAt - 1)
    const earlyExits = fibers.filter((f) => f.pollUnsafe() !== undefined).length
    yield* TestClock.adjust("15 minutes")
    const ends = yield* Fiber.joinAll(fibers)
    const detected = ends.flatMap(({ exit, at }) =>
      Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail" && exit.cause.reasons[0].error instanceof Drained
        ? [at - t0 - 120_000 - drainAt]
        : []
    ).sort((a, b) => a - b)
    const report: FleetReport = {
      polls,
      throttledShare: throttled / polls,
      p50: percentile(detected, 50) / 1000,
      p95: percentile(detected, 95) / 1000,
      max: (detected.at(-1) ?? NaN) / 1000,
      earlyExits,
      exitedAfterWait: detected.length
    }
    return report
  })

const naive: Timing = { firstDelayMillis: () => 0, scale: () => 1 }

describe(`fleet: ${fleetSize} sidecars started together, all draining at t=600 s`, () => {
  it.effect(
    "no early exit, every sidecar exits after its drain wait; jitter and backoff cut throttling",
    () =>
      Effect.gen(function*() {
        const designed = yield* runFleet(undefined)
        const lockStep = yield* runFleet(naive)
        const row = (name: string, r: FleetReport) =>
          `${name.padEnd(24)} ${String(r.polls).padStart(6)} ${(r.throttledShare * 100).toFixed(1).padStart(9)}% ${
            r.p50.toFixed(1).padStart(7)
          } ${r.p95.toFixed(1).padStart(7)} ${r.max.toFixed(1).padStart(7)} ${String(r.earlyExits).padStart(6)} ${
            String(r.exitedAfterWait).padStart(6)
          }`
        console.log([
          `fleet simulation: ${fleetSize} sidecars, POLLING_FREQUENCY=30, ELBv2 bucket 40 burst / 10 per s; detection latency in s after draining starts`,
          `${"polling".padEnd(24)} ${"polls".padStart(6)} ${"throttled".padStart(10)} ${"p50".padStart(7)} ${
            "p95".padStart(7)
          } ${"max".padStart(7)} ${"early".padStart(6)} ${"exited".padStart(6)}`,
          row("jitter + backoff", designed),
          row("fixed interval, no jitter", lockStep)
        ].join("\n"))

        for (const r of [designed, lockStep]) {
          assert.strictEqual(r.earlyExits, 0, "no sidecar may exit before its target drains")
          assert.strictEqual(r.exitedAfterWait, fleetSize, "every sidecar exits after its drain wait")
          assert.isAtLeast(r.p50, 0)
        }
        assert.isBelow(designed.throttledShare, lockStep.throttledShare)
        // Even throttled, detection stays within the backoff cap (4 × 30 s + 10%) of the drain.
        assert.isBelow(designed.max, 4 * 30 * 1.1 + 1)
      }),
    { timeout: 120_000 }
  )
})
