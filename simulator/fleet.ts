// A whole account's fleet of sidecars in one process, on virtual time: the real
// sidecar program for every task, on mock layers that charge each call to the
// token bucket AWS documents for it. Tasks start in deployment waves, drain at
// random times (rolling deployments, scale-in) and are replaced; a background
// caller (Terraform, a console, a controller) asks ELBv2 twice a second.
// What it measures is in FleetReport; `npm run bench:fleet` prints it.
import { Clock, Effect, Exit, Fiber, Layer, Logger, Option, Random } from "effect"
import { TestClock } from "effect/testing"
import { accountBuckets, type BucketedAction, type BucketName, bucketNames, bucketsOf } from "../src/callBudget.ts"
import type { TargetObservation } from "../src/domain.ts"
import { AwsCallFailed, Drained } from "../src/errors.ts"
import { Config } from "../src/layers/Config.ts"
import { DrainStrategy } from "../src/layers/DrainStrategy.ts"
import { Ecs, type TaskDescription } from "../src/layers/Ecs.ts"
import { Metadata, type TaskMetadata } from "../src/layers/Metadata.ts"
import { Startup } from "../src/layers/Startup.ts"
import { TargetHealth } from "../src/layers/TargetHealth.ts"
import { PollTiming } from "../src/pollSchedule.ts"
import { sidecar } from "../src/programs/sidecar.ts"

const bucketLimits = accountBuckets
type Action = Exclude<BucketedAction, "ecs:DescribeContainerInstances">

export interface FleetOptions {
  readonly tasks: number
  readonly tasksPerService?: number
  /** The target groups' deregistration delay, D. */
  readonly delaySeconds?: number
  /** DEREGISTRATION_WAIT, W. */
  readonly waitSeconds?: number
  readonly pollingFrequencySeconds?: number
  /** ELBv2 requests per second from callers other than the sidecars. */
  readonly backgroundPerSecond?: number
  /** One service's deployment starts this long after the previous one's. */
  readonly waveSpacingSeconds?: number
  /** One deployment's tasks start within this of each other. */
  readonly startSpreadSeconds?: number
  /** Drains come at random in a window this long, once every task has started and settled. */
  readonly drainWindowSeconds?: number
  readonly seed?: number
  /** Another poll timing, to compare (the shipped one otherwise). */
  readonly timing?: typeof PollTiming.Service
}

/** Per bucket: the sidecars' requests as a share of its refill over 60 s windows, and how many were throttled. */
export interface BucketReport {
  readonly meanShare: number
  readonly p95Share: number
  readonly requests: number
  readonly throttled: number
}

export interface FleetReport {
  readonly tasks: number
  readonly services: number
  readonly virtualSeconds: number
  readonly buckets: Record<BucketName, BucketReport>
  /** Of the sidecars' ELBv2 requests. */
  readonly throttledShare: number
  /** Of all the sidecars' requests (ELBv2 and ECS, startup included). */
  readonly requestsThrottledShare: number
  /** Of their DescribeTargetHealth polls. */
  readonly pollsThrottledShare: number
  readonly backgroundThrottledShare: number
  /** Seconds from a drain's start to the sidecar seeing it. */
  readonly detection: { readonly p50: number; readonly p95: number; readonly max: number }
  readonly drains: number
  /** Drains the sidecar acted on (exited after W) before ECS stopped the task at D. */
  readonly actedBeforeD: number
  /** Drains after which the sidecar was still running at D (nothing saved). */
  readonly missed: number
  /** Sidecars that ended with no drain of their own behind it (or failed). */
  readonly earlyExits: number
  /** ELBv2 non-mutating, minute by minute: the sidecars' requests and how many were throttled. */
  readonly elbPerMinute: ReadonlyArray<readonly [number, number]>
  /** Requests per task and hour, over the whole run (startup included). */
  readonly callsPerTaskHour: { readonly elb: number; readonly ecs: number }
  /** The sidecars' requests and throttles, action by action. */
  readonly byAction: Partial<Record<Action, { readonly requests: number; readonly throttled: number }>>
  /**
   * Each drain missed: seconds from its start to the first answer that showed it (ECS saying
   * STOPPED, ELBv2 saying draining), null where no call of the sidecar's got one before D.
   */
  readonly missedDrains: ReadonlyArray<
    { readonly ecsStoppedAfter: number | null; readonly elbDrainingAfter: number | null }
  >
}

/** A refilling token bucket; a request is let through only with a whole token. */
const tokenBucket = (burst: number, perSecond: number) => {
  let tokens = burst
  let last = 0
  return {
    has: (now: number) => {
      tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond)
      last = now
      return tokens >= 1
    },
    take: () => {
      tokens -= 1
    }
  }
}

/** mulberry32: the schedule of starts and drains, the same for a seed. */
const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

interface Window {
  sidecar: number
  sidecarThrottled: number
  background: number
  backgroundThrottled: number
}

/** The account: its buckets and, per bucket, what each 60 s window asked of it. */
const makeAccount = () => {
  const buckets = Object.fromEntries(
    bucketNames.map((name) => [name, tokenBucket(bucketLimits[name].burst, bucketLimits[name].perSecond)])
  ) as Record<BucketName, ReturnType<typeof tokenBucket>>
  const windows = Object.fromEntries(bucketNames.map((name) => [name, new Map<number, Window>()])) as Record<
    BucketName,
    Map<number, Window>
  >
  /** Charges one request to every bucket of its action: let through only if each has a token. */
  const charge = (now: number, action: Action, who: "sidecar" | "background"): boolean => {
    const names = bucketsOf[action]
    const ok = names.every((name) => buckets[name].has(now))
    for (const name of names) {
      if (ok) buckets[name].take()
      const index = Math.floor(now / 60_000)
      const w = windows[name].get(index) ?? { sidecar: 0, sidecarThrottled: 0, background: 0, backgroundThrottled: 0 }
      windows[name].set(index, w)
      w[who]++
      if (!ok) w[who === "sidecar" ? "sidecarThrottled" : "backgroundThrottled"]++
    }
    return ok
  }
  return { charge, windows }
}

interface SimTask {
  readonly index: number
  readonly service: number
  readonly ip: string
  readonly taskArn: string
  readonly startAt: number
  /** When its target starts draining (ECS's desiredStatus is STOPPED from then on); never, for a replacement. */
  readonly drainAt: number | undefined
}

const cluster = "arn:aws:ecs:us-east-1:111122223333:cluster/fleet"
const groupArn = (service: number) =>
  `arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/svc-${service}/${
    service.toString(16).padStart(16, "0")
  }`
const ipOf = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
/** A new target reads `initial` while the load balancer's first health checks run. */
const initialMillis = 20_000

/** Starts in waves, one service after the other; then half the services roll, the other half lose tasks one by one. */
const plan = (options: Required<Omit<FleetOptions, "timing">>) => {
  const random = prng(options.seed)
  const services = Math.ceil(options.tasks / options.tasksPerService)
  const tasks: Array<SimTask> = []
  const add = (service: number, startAt: number, drainAt: number | undefined) => {
    const index = tasks.length
    tasks.push({
      index,
      service,
      ip: ipOf(index),
      taskArn: `${cluster.replace(":cluster/", ":task/")}/${index.toString(16).padStart(32, "0")}`,
      startAt,
      drainAt
    })
  }
  const firstTasks: Array<{ service: number; startAt: number }> = []
  for (let i = 0; i < options.tasks; i++) {
    const service = Math.floor(i / options.tasksPerService)
    // A deployment's tasks start within a short while of each other (ENI attachment and image pulls vary).
    firstTasks.push({
      service,
      startAt: service * options.waveSpacingSeconds * 1000 + random() * options.startSpreadSeconds * 1000
    })
  }
  const lastStart = Math.max(...firstTasks.map((t) => t.startAt))
  const windowStart = lastStart + 5 * 60_000
  const windowMillis = options.drainWindowSeconds * 1000
  const batchSpacing = 60_000
  const drains = firstTasks.map(() => 0)
  for (let s = 0; s < services; s++) {
    const members = firstTasks.flatMap((t, i) => (t.service === s ? [i] : []))
    if (s % 2 === 0) {
      // Rolling deployment: a quarter of the tasks at a time, a minute apart.
      const at = windowStart + random() * Math.max(0, windowMillis - 4 * batchSpacing)
      members.forEach((i, k) => {
        drains[i] = at + Math.floor((4 * k) / members.length) * batchSpacing
      })
    } else {
      // Scale-in, spot reclaims, rebalancing: one task at a time.
      for (const i of members) drains[i] = windowStart + random() * windowMillis
    }
  }
  firstTasks.forEach((t, i) => add(t.service, t.startAt, drains[i]))
  // Each drained task is replaced at once: the fleet keeps its size, and the replacements start during the drains.
  firstTasks.forEach((t, i) => add(t.service, drains[i]!, undefined))
  const endAt = windowStart + windowMillis + (options.delaySeconds + 60) * 1000
  return { tasks, services, endAt }
}

const throttle = (action: Action) =>
  new AwsCallFailed({
    action,
    code: action.startsWith("ecs:") ? "ThrottlingException" : "Throttling",
    detail: "Rate exceeded (simulated account)",
    retryable: true,
    throttled: true
  })

/** Runs the fleet to the end of its last drain on the TestClock it is given (see `simulateFleet`). */
export const runFleet = (input: FleetOptions) =>
  Effect.gen(function*() {
    const options = {
      tasksPerService: 100,
      delaySeconds: 300,
      waitSeconds: 120,
      pollingFrequencySeconds: 30,
      backgroundPerSecond: 2,
      waveSpacingSeconds: 60,
      startSpreadSeconds: 30,
      drainWindowSeconds: 30 * 60,
      seed: 1,
      ...input
    }
    const { tasks, services, endAt } = plan(options)
    const byIp = new Map(tasks.map((t) => [t.ip, t]))
    const byArn = new Map(tasks.map((t) => [t.taskArn, t]))
    const account = makeAccount()
    const counts = { elb: 0, ecs: 0, throttled: 0, polls: 0, pollsThrottled: 0 }
    const byAction: Partial<Record<Action, { requests: number; throttled: number }>> = {}
    /** Per drained task: when its drain was first shown to it, by ECS and by ELBv2 (ms after the drain's start). */
    const shown = new Map<number, { ecs?: number; elb?: number }>()
    const showDrain = (task: SimTask | undefined, channel: "ecs" | "elb", now: number) => {
      if (task?.drainAt === undefined || now < task.drainAt) return
      const seen = shown.get(task.index) ?? {}
      shown.set(task.index, seen)
      seen[channel] ??= now - task.drainAt
    }
    // Times are counted from the run's start, whatever the clock said then.
    const t0 = yield* Clock.currentTimeMillis
    const sinceStart = Clock.currentTimeMillis.pipe(Effect.map((now) => now - t0))

    const charged = <A>(action: Action, answer: (now: number) => A) =>
      sinceStart.pipe(Effect.flatMap((now) => {
        counts[action.startsWith("ecs:") ? "ecs" : "elb"]++
        const ok = account.charge(now, action, "sidecar")
        const tally = byAction[action] ?? { requests: 0, throttled: 0 }
        byAction[action] = tally
        tally.requests++
        tally.throttled += Number(!ok)
        const poll = action === "elasticloadbalancing:DescribeTargetHealth"
        counts.polls += Number(poll)
        counts.throttled += Number(!ok)
        counts.pollsThrottled += Number(poll && !ok)
        return ok ? Effect.succeed(answer(now)) : Effect.fail(throttle(action))
      }))

    const stateOf = (task: SimTask | undefined, now: number) =>
      task === undefined || now < task.startAt
        ? "unused"
        : task.drainAt !== undefined && now >= task.drainAt
        ? "draining"
        : now - task.startAt < initialMillis
        ? "initial"
        : "healthy"

    const elb = TargetHealth.of({
      describeTargetGroups: (arns) =>
        charged(
          "elasticloadbalancing:DescribeTargetGroups",
          () => arns.map((arn) => ({ arn, targetType: "ip", protocol: "TCP", ipAddressType: "ipv4" }))
        ),
      poll: (_, targets) =>
        charged("elasticloadbalancing:DescribeTargetHealth", (now) =>
          targets.map((target): TargetObservation => {
            showDrain(byIp.get(target.id), "elb", now)
            return { target, state: stateOf(byIp.get(target.id), now), reason: undefined }
          })),
      listTargets: () => Effect.die("the fleet's tasks are discovered through their service"),
      describeDeregistrationDelay: () =>
        charged("elasticloadbalancing:DescribeTargetGroupAttributes", () => options.delaySeconds)
    })

    const ecs = Ecs.of({
      describeTask: (_, taskArn) =>
        charged("ecs:DescribeTasks", (now): TaskDescription | undefined => {
          const task = byArn.get(taskArn)
          if (task === undefined) return undefined
          showDrain(task, "ecs", now)
          const stopping = task.drainAt !== undefined && now >= task.drainAt
          return {
            group: `service:svc-${task.service}`,
            desiredStatus: stopping ? "STOPPED" : "RUNNING",
            lastStatus: stopping ? "DEACTIVATING" : "RUNNING",
            ...(stopping ? { stopCode: "ServiceSchedulerInitiated", stoppedReason: "Scaling activity initiated" } : {}),
            containerInstanceArn: undefined,
            containers: []
          }
        }),
      describeService: (_, service) =>
        charged("ecs:DescribeServices", () => ({
          deploymentController: "ECS",
          loadBalancers: [{
            targetGroupArn: groupArn(Number(service.replace("svc-", ""))),
            loadBalancerName: undefined,
            containerName: "app",
            containerPort: 8080
          }],
          taskSets: [],
          desiredCount: options.tasksPerService
        })),
      describeEc2InstanceId: () => Effect.die("the fleet runs awsvpc tasks")
    })

    // Fargate's metadata names no service: discovery asks DescribeTasks, then DescribeServices.
    const metadataOf = (task: SimTask): TaskMetadata => ({
      Cluster: cluster,
      TaskARN: task.taskArn,
      Family: `svc-${task.service}`,
      Revision: "1",
      LaunchType: "FARGATE",
      Containers: [
        { Name: "app", Type: "NORMAL", Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: [task.ip] }] },
        { Name: "nlb-sidecar", Type: "NORMAL", Networks: [{ NetworkMode: "awsvpc", IPv4Addresses: [task.ip] }] }
      ]
    })

    const shared = Layer.mergeAll(
      Layer.succeed(TargetHealth, elb),
      Layer.succeed(Ecs, ecs),
      Logger.layer([]),
      ...(options.timing === undefined ? [] : [Layer.succeed(PollTiming, options.timing)])
    )
    const config = Config.layerTest({
      pollingFrequencySeconds: options.pollingFrequencySeconds,
      deregistrationWaitSeconds: options.waitSeconds,
      drainStrategy: "fixed"
    })

    type Ending = { readonly kind: "drained" | "failed" | "stopped"; readonly at: number }
    const runTask = (task: SimTask) =>
      Effect.gen(function*() {
        yield* Effect.sleep(task.startAt)
        const stopAt = task.drainAt === undefined ? endAt : task.drainAt + options.delaySeconds * 1000
        const layer = Layer.mergeAll(
          DrainStrategy.layer.pipe(Layer.provideMerge(Startup.layerTest), Layer.provideMerge(config)),
          Metadata.layerTest(Effect.succeed(metadataOf(task))),
          shared
        )
        const ended = yield* sidecar.pipe(
          Effect.provide(layer),
          Random.withSeed(`task-${task.index}`),
          Effect.exit,
          Effect.timeoutOption(Math.max(0, stopAt - task.startAt))
        )
        const at = yield* sinceStart
        const exit = Option.getOrUndefined(ended)
        const kind: Ending["kind"] = exit === undefined
          ? "stopped"
          : Exit.isFailure(exit) && exit.cause.reasons[0]?._tag === "Fail" &&
              exit.cause.reasons[0].error instanceof Drained
          ? "drained"
          : "failed"
        return { kind, at } satisfies Ending
      })

    // Other tools of the account, at a steady rate, throttled like anyone.
    const background = { requests: 0, throttled: 0 }
    const backgroundCaller = Effect.gen(function*() {
      const every = 1000 / options.backgroundPerSecond
      for (let at = every; at < endAt; at += every) {
        yield* Effect.sleep(every)
        background.requests++
        if (!account.charge(at, "elasticloadbalancing:DescribeTargetHealth", "background")) background.throttled++
      }
    })

    const fibers = yield* Effect.forEach(tasks, (t) => Effect.forkChild(runTask(t)))
    const caller = options.backgroundPerSecond > 0 ? yield* Effect.forkChild(backgroundCaller) : undefined
    yield* TestClock.adjust(endAt + 1)
    const endings = yield* Fiber.joinAll(fibers)
    if (caller !== undefined) yield* Fiber.join(caller)

    const latencies: Array<number> = []
    let actedBeforeD = 0
    let missed = 0
    let earlyExits = 0
    let drains = 0
    const missedDrains: Array<FleetReport["missedDrains"][number]> = []
    const seconds = (ms: number | undefined) => (ms === undefined ? null : Math.round(ms / 1000))
    tasks.forEach((task, i) => {
      const end = endings[i]!
      const drainAt = task.drainAt
      if (end.kind === "failed") earlyExits++
      if (drainAt === undefined) {
        if (end.kind === "drained") earlyExits++
        return
      }
      drains++
      if (end.kind !== "drained") {
        if (end.kind === "stopped") {
          missed++
          const seen = shown.get(task.index)
          missedDrains.push({ ecsStoppedAfter: seconds(seen?.ecs), elbDrainingAfter: seconds(seen?.elb) })
        }
        return
      }
      const seen = end.at - options.waitSeconds * 1000
      if (seen < drainAt) earlyExits++
      else {
        latencies.push((seen - drainAt) / 1000)
        actedBeforeD++
      }
    })
    latencies.sort((a, b) => a - b)

    const lastWindow = Math.floor(endAt / 60_000)
    const bucketReport = (name: BucketName): BucketReport => {
      const perWindow = bucketLimits[name].perSecond * 60
      const shares: Array<number> = []
      let requests = 0
      let throttled = 0
      for (let w = 0; w < lastWindow; w++) {
        const window = account.windows[name].get(w)
        shares.push((window?.sidecar ?? 0) / perWindow)
        requests += window?.sidecar ?? 0
        throttled += window?.sidecarThrottled ?? 0
      }
      shares.sort((a, b) => a - b)
      return {
        meanShare: shares.reduce((a, b) => a + b, 0) / shares.length,
        p95Share: percentile(shares, 95),
        requests,
        throttled
      }
    }
    const buckets = Object.fromEntries(bucketNames.map((name) => [name, bucketReport(name)])) as Record<
      BucketName,
      BucketReport
    >
    const taskHours = tasks.reduce((sum, t, i) => sum + Math.max(0, endings[i]!.at - t.startAt), 0) / 3_600_000
    const report: FleetReport = {
      tasks: options.tasks,
      services,
      virtualSeconds: Math.round(endAt / 1000),
      buckets,
      throttledShare: buckets.elbNonMutating.throttled / Math.max(1, buckets.elbNonMutating.requests),
      requestsThrottledShare: counts.throttled / Math.max(1, counts.elb + counts.ecs),
      pollsThrottledShare: counts.pollsThrottled / Math.max(1, counts.polls),
      backgroundThrottledShare: background.throttled / Math.max(1, background.requests),
      detection: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies.at(-1) ?? NaN },
      drains,
      actedBeforeD,
      missed,
      earlyExits,
      elbPerMinute: Array.from({ length: lastWindow }, (_, w) => {
        const window = account.windows.elbNonMutating.get(w)
        return [window?.sidecar ?? 0, window?.sidecarThrottled ?? 0] as const
      }),
      callsPerTaskHour: { elb: counts.elb / taskHours, ecs: counts.ecs / taskHours },
      byAction,
      missedDrains
    }
    return report
  })

/** The fleet on a TestClock of its own. */
export const simulateFleet = (options: FleetOptions): Effect.Effect<FleetReport> =>
  runFleet(options).pipe(Effect.provide(TestClock.layer()))
