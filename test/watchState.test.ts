// The poll loop's step, driven directly: one state value in, the next out,
// with the lines to log; no clock, no AWS.
import { describe, expect, it } from "vitest"
import type { TargetObservation, WatchedTarget } from "../src/domain.ts"
import { AwsCallFailed } from "../src/errors.ts"
import {
  advance,
  askEcsAgainAfterMillis,
  type GroupRead,
  initialWatchState,
  needsEcsWord,
  watchedGroups
} from "../src/programs/watchTargets.ts"

const target: WatchedTarget = {
  targetGroupArn: "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/0123456789abcdef",
  id: "10.0.2.106",
  port: 8080,
  containerName: "app",
  containerPort: 8080
}
const [group] = watchedGroups([target])
const read = (state: string, reason?: string): GroupRead => ({
  group: group!,
  observations: [{ target, state, reason } satisfies TargetObservation]
})
const failed: GroupRead = {
  group: group!,
  error: new AwsCallFailed({
    action: "elasticloadbalancing:DescribeTargetHealth",
    code: "Throttling",
    detail: "x",
    retryable: true
  })
}

describe("the poll loop's step (advance)", () => {
  it("carries memory from poll to poll: draining after an own state is leaving, logged once at info", () => {
    const first = advance(initialWatchState([group!]), [read("healthy")], 0)
    expect(first.result.done).toBe(false)
    expect(first.state.inServiceAt.get(`${target.targetGroupArn}|${target.id}|${target.port}`)).toBe(0)
    const second = advance(first.state, [read("draining")], 30_000)
    expect(second.result.leaving.map((o) => o.state)).toEqual(["draining"])
    expect(second.logs.map((l) => [l.level, l.message])).toEqual([["Info", "target is deregistering"]])
    const third = advance(second.state, [read("draining")], 60_000)
    expect(third.logs.map((l) => [l.level, l.message])).toEqual([["Debug", "target state unchanged"]])
  })

  it("counts failed polls in a row and starts again from zero after a poll that read every group", () => {
    const once = advance(initialWatchState([group!]), [failed], 0)
    const twice = advance(once.state, [failed], 30_000)
    expect(twice.result.consecutiveFailures).toBe(2)
    expect(twice.logs[0]).toMatchObject({ level: "Warning", message: "poll failed" })
    expect(twice.logs[0]?.annotations).toMatchObject({ consecutiveFailures: 2, error: "Throttling" })
    expect(advance(twice.state, [read("healthy")], 60_000).result.consecutiveFailures).toBe(0)
  })

  it("a drain before any own state needs ECS's word; its word holds for a minute, then is asked again", () => {
    const start = initialWatchState([group!])
    expect(needsEcsWord(start, [read("healthy")], 0)).toBe(false)
    expect(needsEcsWord(start, [read("draining")], 0)).toBe(true)
    const running = advance(start, [read("draining")], 0, {
      at: 0,
      stopping: false,
      said: "ECS says this task is running"
    })
    expect(running.result.done).toBe(false)
    expect(running.logs[0]?.annotations).toMatchObject({ evidence: "ECS says this task is running" })
    expect(needsEcsWord(running.state, [read("draining")], askEcsAgainAfterMillis - 1)).toBe(false)
    expect(needsEcsWord(running.state, [read("draining")], askEcsAgainAfterMillis)).toBe(true)
    const stopping = advance(running.state, [read("draining")], askEcsAgainAfterMillis, {
      at: askEcsAgainAfterMillis,
      stopping: true,
      said: "ECS is stopping this task"
    })
    expect(stopping.result.done).toBe(true)
  })

  it("no answer from ECS keeps no word: the next poll asks again", () => {
    const start = initialWatchState([group!])
    const unanswered = advance(start, [read("draining")], 0, "noAnswer")
    expect(unanswered.state.ecsWord).toBeUndefined()
    expect(unanswered.logs[0]?.annotations).toMatchObject({
      evidence: "ECS did not answer: asked again at the next poll"
    })
    expect(needsEcsWord(unanswered.state, [read("draining")], 1_000)).toBe(true)
  })
})
