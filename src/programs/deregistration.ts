// When is a target leaving its group? The rules, without any I/O.
import type { TargetObservation } from "../domain.ts"

export interface TargetMemory {
  /** Seen registered at least once: "not registered" from now on means it left. */
  readonly registeredSeen: boolean
  readonly lastState: string | undefined
  readonly lastReason: string | undefined
}

export const initialMemory: TargetMemory = { registeredSeen: false, lastState: undefined, lastReason: undefined }

const isUnregistered = (o: TargetObservation): boolean =>
  o.state === "not-found" || (o.state === "unused" && o.reason === "Target.NotRegistered")

/**
 * `draining` is a deregistration. So is "not registered" after the target had
 * been registered: the whole draining window can fall between two polls.
 * `unhealthy.draining` is not: an NLB target failing health checks keeps its
 * connections there and may turn healthy again. A target not registered yet
 * at startup is simply waited for.
 */
export const isDeregistering = (memory: TargetMemory, o: TargetObservation): boolean =>
  o.state === "draining" || (memory.registeredSeen && isUnregistered(o))

export const remember = (memory: TargetMemory, o: TargetObservation): TargetMemory => ({
  registeredSeen: memory.registeredSeen || !isUnregistered(o),
  lastState: o.state,
  lastReason: o.reason
})

export const hasChanged = (memory: TargetMemory, o: TargetObservation): boolean =>
  memory.lastState !== o.state || memory.lastReason !== o.reason
