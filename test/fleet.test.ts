// Fleets of sidecars in one process, on virtual time, in one simulated account
// (simulator/fleet.ts): every call charged to its AWS bucket, tasks started in
// deployment waves, drains at random times, a background ELBv2 caller at 2/s.
// The account-scale sizes are `npm run bench:fleet`; these are the small ones.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type FleetReport, runFleet } from "../simulator/fleet.ts"
import { firstPollDelayMillis, pollScale } from "../src/pollSchedule.ts"

const unpaced = { firstDelayMillis: firstPollDelayMillis, scale: pollScale, paced: false }

const summary = (name: string, r: FleetReport) =>
  `${name}: ${r.tasks} tasks, ELBv2 throttled ${(r.throttledShare * 100).toFixed(1)}%, detection p50/p95/max ${
    r.detection.p50.toFixed(1)
  }/${r.detection.p95.toFixed(1)}/${
    r.detection.max.toFixed(1)
  } s, ${r.actedBeforeD} of ${r.drains} drains acted on before D, ${r.missed} missed, ${r.earlyExits} early exits, ${
    r.callsPerTaskHour.elb.toFixed(0)
  } ELBv2 calls per task-hour`

describe("fleet: one service of 10 tasks, D=300 s, DEREGISTRATION_WAIT=120 s, POLLING_FREQUENCY=30", () => {
  it.effect("never throttled; every drain seen within one polling interval and acted on before D", () =>
    Effect.gen(function*() {
      const r = yield* runFleet({ tasks: 10 })
      console.log(summary("10 tasks", r))
      assert.strictEqual(r.drains, 10)
      assert.strictEqual(r.earlyExits, 0)
      assert.strictEqual(r.actedBeforeD, 10)
      assert.strictEqual(r.missed, 0)
      assert.strictEqual(r.buckets.elbNonMutating.throttled, 0)
      assert.strictEqual(r.backgroundThrottledShare, 0)
      // POLLING_FREQUENCY=30 with ±10% jitter: a drain is seen at the next poll.
      assert.isAtMost(r.detection.max, 33)
      // 120 polls an hour, plus a start's DescribeTargetGroups and a drain's DescribeTargetGroupAttributes.
      assert.isAtLeast(r.callsPerTaskHour.elb, 120)
      assert.isAtMost(r.callsPerTaskHour.elb, 130)
    }))
})

describe("fleet: three services of 100 tasks, one bucket's worth of polling, with drains and replacements", () => {
  it.effect(
    "pacing: no early exit, every drain acted on before D, fewer throttles than polling unpaced (the 4x back-off alone)",
    () =>
      Effect.gen(function*() {
        const paced = yield* runFleet({ tasks: 300 })
        const before = yield* runFleet({ tasks: 300, timing: unpaced })
        console.log(summary("paced", paced))
        console.log(summary("unpaced", before))
        for (const r of [paced, before]) {
          assert.strictEqual(r.earlyExits, 0, "no sidecar may exit before its target drains")
          assert.strictEqual(r.actedBeforeD + r.missed, r.drains, "every drained task ends by D")
        }
        assert.strictEqual(paced.missed, 0)
        assert.isAbove(before.missed, 0, "unpaced, some drains are seen too late")
        assert.isBelow(paced.throttledShare, before.throttledShare / 2)
        assert.isBelow(paced.backgroundThrottledShare, before.backgroundThrottledShare)
      }),
    { timeout: 60_000 }
  )
})
