// Bounding the heap between polls. With a 1 MiB young generation, objects that
// live across one poll's HTTP round trip are promoted, and V8 lets the old
// generation grow for many minutes before it collects it: +0.6 MiB a minute at
// one poll a second, with no plateau in 5 minutes (npm run bench, README).
import { Effect } from "effect"

/** Polls between two full collections: at most ~0.3 MiB of growth at 1 s, ~0.3 ms of CPU per poll. */
export const pollsPerCollection = 30

/** `gc`, when node runs with --expose-gc (the image does). */
export const exposedGc = (globalThis as { gc?: () => void }).gc

/**
 * A full garbage collection after every `polls`-th call; without `gc`, nothing.
 */
export const collectGarbageEvery = (polls: number, gc: (() => void) | undefined) => {
  let count = 0
  return Effect.sync(() => {
    count += 1
    if (gc !== undefined && count % polls === 0) gc()
  })
}
