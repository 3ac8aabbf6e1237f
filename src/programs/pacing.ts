// How the poll loop paces its readings in an account it shares with a fleet:
// AIMD (the interval doubles on each throttle, and comes back to
// POLLING_FREQUENCY step by step), full jitter after a throttle so that a
// fleet throttled together does not come back together, a reading through
// ECS DescribeTasks (another bucket) after an ELBv2 throttle, and the
// detection budget: however far the back-off goes, the next reading comes
// early enough that a drain begun just after the last one is still seen in
// time to save something (before D − DEREGISTRATION_WAIT).
import { accountBuckets } from "../callBudget.ts"

export interface PacingSettings {
  /** POLLING_FREQUENCY: the interval when nothing throttles. */
  readonly baseMillis: number
  /** The longest the interval grows without a budget (D unknown): today's 4x back-off. */
  readonly capMillis: number
  /** From the last reading, the next must come within this; undefined when D is unknown or not above W. */
  readonly budgetMillis: number | undefined
  readonly deregistrationDelaySeconds: number | undefined
  readonly deregistrationWaitSeconds: number
}

/** A reading must leave this share of D − W for the request itself and the confirmation after it. */
export const budgetShare = 0.9
/** Multiplicative decrease: a throttle multiplies the interval by this (up to the cap). */
export const decreaseFactor = 4
/** Additive increase: from the cap back to POLLING_FREQUENCY in this many readings. */
export const recoveryReadings = 30
/** While backed off, ECS carries the readings but ELBv2 reads the target itself at least once per this many caps. */
export const elbEveryCaps = 4
/** Past the budget, ECS is asked within this after an ELBv2 throttle (full jitter). */
export const retrySoonMillis = 5_000
/** After ECS says the task is stopping, its own target is read on ELBv2 within this: the confirmation. */
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

export interface Pacing {
  /** The AIMD interval between readings. */
  readonly intervalMillis: number
  /** When this task's own state was last read (ELBv2, or ECS saying it runs). */
  readonly lastReadingAt: number
  /** When ELBv2 last answered. */
  readonly lastElbAt: number
  /** The next reading asks ECS: after an ELBv2 throttle, and while backed off (but for ELBv2 now and then). */
  readonly ecsNext: boolean
  /** Readings in a row that failed other than by throttling (errors, timeouts): the 2^n back-off. */
  readonly failures: number
}

export const initialPacing = (settings: PacingSettings, now: number): Pacing => ({
  intervalMillis: settings.baseMillis,
  lastReadingAt: now,
  lastElbAt: now,
  ecsNext: false,
  failures: 0
})

/**
 * What one reading gave: `read` (this task's state known, from ELBv2 or from
 * ECS saying it runs), `stopping` (ECS says the task is stopping: not a reading
 * of the target, which ELBv2 confirms next), `throttled`, `failed` (any other
 * error).
 */
export interface Reading {
  readonly outcome: "read" | "stopping" | "throttled" | "failed"
  readonly channel: "elb" | "ecs"
}

export const afterReading = (settings: PacingSettings, pacing: Pacing, reading: Reading, now: number): Pacing => {
  switch (reading.outcome) {
    case "read": {
      // Additive increase: the interval shortens by a fixed step, down to POLLING_FREQUENCY. Until it is
      // back there, ECS carries the readings, but for one on ELBv2 every `elbEveryCaps` caps.
      const step = Math.max(settings.capMillis - settings.baseMillis, settings.baseMillis) / recoveryReadings
      const intervalMillis = Math.max(settings.baseMillis, pacing.intervalMillis - step)
      const lastElbAt = reading.channel === "elb" ? now : pacing.lastElbAt
      return {
        ...pacing,
        intervalMillis,
        lastReadingAt: now,
        lastElbAt,
        ecsNext: intervalMillis > settings.baseMillis &&
          now + intervalMillis - lastElbAt < elbEveryCaps * settings.capMillis,
        failures: 0
      }
    }
    case "stopping":
      // ELBv2 next, soon: only this task's own target can say it is leaving.
      return { ...pacing, ecsNext: false }
    case "throttled":
      // Multiplicative decrease; ECS next, after an ELBv2 throttle.
      return {
        ...pacing,
        intervalMillis: Math.min(settings.capMillis, decreaseFactor * pacing.intervalMillis),
        ecsNext: reading.channel === "elb",
        failures: 0
      }
    case "failed":
      return { ...pacing, ecsNext: false, failures: pacing.failures + 1 }
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
 * budget, and once past it, ECS within seconds after an ELBv2 throttle.
 */
export const nextDelayMillis = (
  settings: PacingSettings,
  pacing: Pacing,
  reading: Reading,
  now: number,
  random01: number
): number => {
  if (reading.outcome === "stopping") return jittered(confirmWithinMillis, random01)
  const wanted = reading.outcome === "read"
    ? pacing.intervalMillis * (0.9 + 0.2 * random01)
    : reading.outcome === "throttled"
    ? jittered(pacing.intervalMillis, random01)
    : pacing.intervalMillis * Math.min(2 ** pacing.failures, 4) * (0.9 + 0.2 * random01)
  if (settings.budgetMillis === undefined) return wanted
  const left = pacing.lastReadingAt + settings.budgetMillis - now
  if (left > 0) return Math.min(wanted, Math.max(minDelayMillis, left))
  // Past the budget: ECS at once after an ELBv2 throttle; otherwise nothing is gained by hurrying.
  return reading.outcome === "throttled" && pacing.ecsNext ? jittered(retrySoonMillis, random01) : wanted
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
