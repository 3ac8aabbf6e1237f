// How the poll loop paces its readings in an account it shares with a fleet.
// Two channels, each with its own share: ELBv2 (DescribeTargetHealth, the
// target itself) and ECS (DescribeTasks on this task: another bucket, with
// twice the refill). Nothing throttled, ELBv2 alone every POLLING_FREQUENCY,
// as without pacing. A throttle on ELBv2 drops its share to its floor at once
// (once per four caps) and ECS reads in between, at half the budget: the
// fleet's readings move to the bucket that can carry them and leave ELBv2
// room for new tasks' startup calls and for confirmations. A throttle on ECS
// multiplies its interval by 4, up to where the two together read once per
// 0.9 of the budget. A share grows back only after ten quiet
// minutes, by a small step per reading. Full jitter after a throttle, so that
// a fleet throttled together does not come back together. And the detection
// budget: however far the back-off goes, the next reading comes early enough
// that a drain begun just after the last one is still seen in time to save
// something (before D − DEREGISTRATION_WAIT); past it, the channels take turns.
import { accountBuckets } from "../callBudget.ts"

export interface PacingSettings {
  /** POLLING_FREQUENCY: the interval when nothing throttles. */
  readonly baseMillis: number
  /** The longest between two readings: the budget, or without one (D unknown) the 4x back-off. */
  readonly capMillis: number
  /** From the last reading, the next must come within this; undefined when D is unknown or not above W. */
  readonly budgetMillis: number | undefined
  readonly deregistrationDelaySeconds: number | undefined
  readonly deregistrationWaitSeconds: number
}

/** A reading must leave this share of D − W for the request itself and the confirmation after it. */
export const budgetShare = 0.9
/** Multiplicative decrease: a throttle multiplies ECS's interval (or ELBv2's, without ECS) by this, up to the cap. */
export const decreaseFactor = 4
/**
 * Additive increase: each reading that goes through adds 1/this of POLLING_FREQUENCY's rate to its
 * channel's. Small, because in a full bucket the share of requests throttled is about this step over
 * the rate each task gets.
 */
export const recoveryReadings = 60
/**
 * A channel's share does not grow back for this long after it was throttled: a fleet that found the
 * bucket's edge stays below it, and a deployment's new tasks find room for their first calls.
 */
export const holdMillis = 600_000
/** While ECS reads in between, ELBv2 reads the target itself at least once per this many caps. */
export const elbEveryCaps = 4
/**
 * With both channels at their longest intervals, they still read once per this share of the cap
 * between them: no more often than the budget needs, since a fleet that far back fills both buckets.
 */
export const floorsShare = 0.9
/** Past the budget, a throttled reading is tried again within this (full jitter). */
export const retrySoonMillis = 5_000
/** After ECS says the task is stopping, its own target is read on ELBv2 within this (and again, if throttled): the confirmation. */
export const confirmWithinMillis = 2_000
/** No reading comes sooner than this after another (full jitter draws from here up). */
export const minDelayMillis = 1_000

const jittered = (upTo: number, random01: number) => minDelayMillis + Math.max(0, upTo - minDelayMillis) * random01

export const pacingSettings = (input: {
  readonly pollingFrequencySeconds: number
  readonly deregistrationWaitSeconds: number
  readonly deregistrationDelaySeconds: number | undefined
}): PacingSettings => {
  const baseMillis = input.pollingFrequencySeconds * 1000
  const d = input.deregistrationDelaySeconds
  const budgetMillis = d !== undefined && d > input.deregistrationWaitSeconds
    ? Math.max(baseMillis, budgetShare * (d - input.deregistrationWaitSeconds) * 1000)
    : undefined
  return {
    baseMillis,
    capMillis: budgetMillis ?? 4 * baseMillis,
    budgetMillis,
    deregistrationDelaySeconds: d,
    deregistrationWaitSeconds: input.deregistrationWaitSeconds
  }
}

export type Channel = "elb" | "ecs"

export interface Pacing {
  /** ELBv2's AIMD share: at most one ELBv2 reading per this. */
  readonly elbMillis: number
  /** ECS's AIMD share, for the readings in between. */
  readonly ecsMillis: number
  /** When each channel was last throttled. */
  readonly elbThrottledAt: number
  readonly ecsThrottledAt: number
  /** ecs:DescribeTasks can be asked (not denied). */
  readonly ecs: boolean
  /** When this task's own state was last read (ELBv2, or ECS saying it runs). */
  readonly lastReadingAt: number
  /** When ELBv2 was last asked (answered or throttled): its share counts from there. */
  readonly lastElbAt: number
  /** The channel of the next reading. */
  readonly next: Channel
  /** ECS said the task is stopping: ELBv2 reads next until it answers (the confirmation). */
  readonly confirming: boolean
  /** ELBv2 read a drain that ECS must settle: ECS reads next until it answers. */
  readonly settling: boolean
  /** Readings in a row that failed other than by throttling (errors, timeouts): the 2^n back-off. */
  readonly failures: number
}

export const initialPacing = (settings: PacingSettings, now: number, ecs = true): Pacing => ({
  elbMillis: settings.baseMillis,
  ecsMillis: ecsFloorMillis(settings),
  elbThrottledAt: -Infinity,
  ecsThrottledAt: -Infinity,
  ecs,
  lastReadingAt: now,
  lastElbAt: now,
  next: "elb",
  confirming: false,
  settling: false,
  failures: 0
})

/**
 * What one reading gave: `read` (this task's state known, from ELBv2 or from
 * ECS saying it runs), `stopping` (ECS says the task is stopping: not a reading
 * of the target, which ELBv2 confirms next), `throttled`, `failed` (any other
 * error), `aside` (an ELBv2 call in ELBv2's turn that read no target: the
 * deregistration delay), `unsettled` (ELBv2 read a drain that may be an earlier task's, and ECS, asked
 * which, did not answer).
 */
export interface Reading {
  readonly outcome: "read" | "stopping" | "throttled" | "failed" | "aside" | "unsettled"
  readonly channel: Channel
}

/** How far ELBv2's share may fall: to the cap alone, or while ECS reads in between, a few caps. */
const elbCap = (settings: PacingSettings, pacing: Pacing) =>
  pacing.ecs ? elbEveryCaps * settings.capMillis : settings.capMillis

/** One step of additive increase in rate, down to `floor`. */
const faster = (settings: PacingSettings, millis: number, floor: number, throttledAt: number, now: number) =>
  now - throttledAt < holdMillis
    ? millis
    : Math.max(floor, 1 / (1 / millis + 1 / (recoveryReadings * settings.baseMillis)))

/** ECS's longest interval: with ELBv2 at its floor too, one reading between them per `floorsShare` of the cap. */
const ecsCapMillis = (settings: PacingSettings) => settings.capMillis / (1 / floorsShare - 1 / elbEveryCaps)

/** ECS reads in between to keep the budget with room to spare (half of it), not as often as POLLING_FREQUENCY. */
const ecsFloorMillis = (settings: PacingSettings) => Math.max(settings.baseMillis, settings.capMillis / 2)

/** The interval between readings: ELBv2's share, with ECS's in between when ELBv2's is below POLLING_FREQUENCY. */
export const readingInterval = (settings: PacingSettings, pacing: Pacing): number =>
  !pacing.ecs || pacing.elbMillis <= settings.baseMillis
    ? Math.min(settings.capMillis, pacing.elbMillis)
    : Math.min(
      settings.capMillis,
      Math.max(
        settings.baseMillis,
        1 / (1 / pacing.elbMillis + 1 / Math.max(pacing.ecsMillis, ecsFloorMillis(settings)))
      )
    )

export const afterReading = (settings: PacingSettings, pacing: Pacing, reading: Reading, now: number): Pacing => {
  const elb = reading.channel === "elb"
  switch (reading.outcome) {
    case "read":
    case "unsettled":
      return {
        ...pacing,
        settling: reading.outcome === "unsettled",
        elbMillis: elb
          ? faster(settings, pacing.elbMillis, settings.baseMillis, pacing.elbThrottledAt, now)
          : pacing.elbMillis,
        ecsMillis: elb
          ? pacing.ecsMillis
          : faster(settings, pacing.ecsMillis, ecsFloorMillis(settings), pacing.ecsThrottledAt, now),
        lastReadingAt: now,
        lastElbAt: elb ? now : pacing.lastElbAt,
        confirming: false,
        failures: 0
      }
    case "aside":
      return { ...pacing, lastElbAt: now }
    case "stopping":
      // Only this task's own target can say it is leaving: ELBv2 next, until it answers.
      return { ...pacing, confirming: true, settling: false }
    case "throttled":
      return elb
        ? {
          ...pacing,
          // With ECS to read in between, ELBv2 (half ECS's refill, shared with every other tool) drops to its
          // cap at once; alone, it backs off by the factor.
          elbMillis: pacing.ecs
            ? elbCap(settings, pacing)
            : Math.min(elbCap(settings, pacing), decreaseFactor * pacing.elbMillis),
          elbThrottledAt: now,
          lastElbAt: now,
          failures: 0
        }
        : {
          ...pacing,
          ecsMillis: Math.min(ecsCapMillis(settings), decreaseFactor * pacing.ecsMillis),
          ecsThrottledAt: now,
          failures: 0
        }
    case "failed":
      // Not the account's budget: the 2^n back-off, on ELBv2 (ECS failing says nothing of the target).
      return { ...pacing, failures: pacing.failures + 1 }
  }
}

/** The reading is past its budget: a drain begun just after the last one may already be seen too late. */
export const overdue = (settings: PacingSettings, pacing: Pacing, now: number): boolean =>
  settings.budgetMillis !== undefined && now - pacing.lastReadingAt > settings.budgetMillis

/**
 * The delay to the next reading (`pacing` is the state after the reading):
 * the interval ±10% after a reading (as without pacing), anywhere below it
 * after a throttle (full jitter), the 2^n back-off (at most 4x) after other
 * failures; within seconds to confirm what ECS said; never past the
 * budget, and once past it, again within seconds after a throttle.
 */
const nextDelayMillis = (
  settings: PacingSettings,
  pacing: Pacing,
  reading: Reading,
  now: number,
  random01: number
): number => {
  if (reading.outcome === "stopping") return jittered(confirmWithinMillis, random01)
  // A drain of this task's own may be under way: the other channel's word is wanted now, and retried as
  // soon (a throttled confirmation competes with every other caller for the next token).
  if (reading.outcome === "unsettled") return jittered(confirmWithinMillis, random01)
  if ((pacing.confirming || pacing.settling) && reading.outcome === "throttled") {
    return jittered(confirmWithinMillis, random01)
  }
  const interval = readingInterval(settings, pacing)
  const wanted = reading.outcome === "read" || reading.outcome === "aside"
    ? interval * (0.9 + 0.2 * random01)
    : reading.outcome === "throttled"
    ? jittered(interval, random01)
    : interval * Math.min(2 ** pacing.failures, 4) * (0.9 + 0.2 * random01)
  // Without D, the cap stands in for the budget: no reading comes later than the 4x back-off would.
  const left = pacing.lastReadingAt + (settings.budgetMillis ?? settings.capMillis) - now
  if (left > 0) return Math.min(wanted, Math.max(minDelayMillis, left))
  // Past the budget: again within seconds after a throttle (on the other channel, where there is one);
  // after other failures nothing is gained by hurrying.
  return reading.outcome === "throttled" ? jittered(retrySoonMillis, random01) : wanted
}

/**
 * Which channel reads next, `delayMillis` from now: ELBv2 to confirm, when
 * ECS is denied, or when ELBv2's share is due (after an ECS throttle too);
 * ECS right after an ELBv2 throttle; otherwise ECS in between.
 */
const nextChannel = (
  settings: PacingSettings,
  pacing: Pacing,
  reading: Reading,
  now: number,
  delayMillis: number
): Channel => {
  if (!pacing.ecs || pacing.confirming || reading.outcome === "failed") return "elb"
  if (pacing.settling || (reading.outcome === "throttled" && reading.channel === "elb")) return "ecs"
  // Past the budget, the channels take turns: one bucket may be empty for a while, rarely both.
  if (reading.outcome === "throttled" && overdue(settings, pacing, now + delayMillis)) return "elb"
  return pacing.elbMillis <= settings.baseMillis || now + delayMillis - pacing.lastElbAt >= 0.9 * pacing.elbMillis
    ? "elb"
    : "ecs"
}

/** One reading noted: the pacing after it and the delay to the next (`random01` draws the jitter). */
export const pace = (
  settings: PacingSettings,
  before: Pacing,
  reading: Reading,
  now: number,
  random01: number
): { readonly pacing: Pacing; readonly delayMillis: number } => {
  const after = afterReading(settings, before, reading, now)
  // Whole milliseconds: the clock's own unit.
  const delayMillis = Math.round(nextDelayMillis(settings, after, reading, now, random01))
  const next = nextChannel(settings, after, reading, now, delayMillis)
  return { pacing: { ...after, next }, delayMillis }
}

/** The arithmetic behind a budget that cannot be kept, for the one warning that says so. */
export const budgetArithmetic = (settings: PacingSettings, pacing: Pacing, now: number) => {
  const budgetSeconds = (settings.budgetMillis ?? 0) / 1000
  const elb = accountBuckets.elbNonMutating.perSecond
  const ecs = accountBuckets.ecsClusterReads.perSecond
  return {
    deregistrationDelaySeconds: settings.deregistrationDelaySeconds ?? null,
    deregistrationWaitSeconds: settings.deregistrationWaitSeconds,
    budgetSeconds: Math.round(budgetSeconds),
    sinceLastReadingSeconds: Math.round((now - pacing.lastReadingAt) / 1000),
    arithmetic: `a drain must be seen within ${
      Math.round(budgetSeconds)
    } s (${budgetShare} x (D ${settings.deregistrationDelaySeconds} s - DEREGISTRATION_WAIT ${settings.deregistrationWaitSeconds} s)) to save anything; at one reading per ${
      Math.round(budgetSeconds)
    } s the account's ELBv2 bucket (${elb}/s, shared with every other caller) carries ${
      Math.floor(elb * budgetSeconds)
    } sidecars, and ECS DescribeTasks (${ecs}/s) ${Math.floor(ecs * budgetSeconds)} more: this fleet asks for more`
  }
}
