// When is a target leaving its group? The rules, without any I/O.
import { isUnregistered, type TargetObservation } from "../domain.ts"

export interface TargetMemory {
  /**
   * Seen in a state of this task's own registration (`initial`, `healthy`,
   * `unhealthy`, `unused` other than not registered…). Only from then on do
   * `draining` and "not registered" mean that this task is leaving.
   */
  readonly ownStateSeen: boolean
  /** The last reading said "not registered" after an own state: one more reading decides. */
  readonly unregisteredOnce: boolean
  /** "target still draining from an earlier task" has been logged. */
  readonly predecessorLogged: boolean
  readonly lastState: string | undefined
  readonly lastReason: string | undefined
}

export const initialMemory: TargetMemory = {
  ownStateSeen: false,
  unregisteredOnce: false,
  predecessorLogged: false,
  lastState: undefined,
  lastReason: undefined
}

/**
 * - `leaving`: this task's target is deregistering.
 * - `confirm`: not registered once after an own state; ELBv2 reads are eventually
 *   consistent, so a second reading, taken at once, decides.
 * - `predecessor`: `draining` before any own state: an earlier task's drain of the
 *   same `id:port` (host and bridge ports, reused awsvpc IPs), waited out.
 * - `watching`: nothing to act on.
 */
export type Verdict = "leaving" | "confirm" | "predecessor" | "watching"

/**
 * `draining` is a deregistration, and so is "not registered" (read twice) after
 * the target was registered: the whole draining window can fall between two
 * polls. Either counts only after an own state was seen. `unhealthy.draining`
 * is an own state, not a deregistration: an NLB target failing health checks
 * keeps its connections there and may turn healthy again.
 */
export const judge = (
  memory: TargetMemory,
  o: TargetObservation
): { readonly verdict: Verdict; readonly memory: TargetMemory } => {
  const seen = { ...memory, lastState: o.state, lastReason: o.reason }
  if (isUnregistered(o)) {
    if (!memory.ownStateSeen) return { verdict: "watching", memory: seen }
    return memory.unregisteredOnce
      ? { verdict: "leaving", memory: seen }
      : { verdict: "confirm", memory: { ...seen, unregisteredOnce: true } }
  }
  if (o.state === "draining") {
    return memory.ownStateSeen
      ? { verdict: "leaving", memory: seen }
      : { verdict: "predecessor", memory: { ...seen, predecessorLogged: true } }
  }
  return { verdict: "watching", memory: { ...seen, ownStateSeen: true, unregisteredOnce: false } }
}

export const hasChanged = (memory: TargetMemory, o: TargetObservation): boolean =>
  memory.lastState !== o.state || memory.lastReason !== o.reason
