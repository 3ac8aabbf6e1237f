// Bounding the heap while the sidecar waits. With a 1 MiB young generation,
// objects that live across one poll's HTTP round trip are promoted, and V8 lets
// the old generation grow for many minutes before it collects it: +0.6 MiB a
// minute at one poll a second, with no plateau in 5 minutes, while the heap
// after a full collection stayed at 10.2 MiB (npm run bench).
import { Duration, Effect, Layer, Schedule } from "effect"
import { Config } from "./Config.ts"

/** Polls' worth of time between two full collections: at most ~0.3 MiB of growth at 1 s, ~0.3 ms of CPU per poll. */
export const pollsPerCollection = 30

/** `gc`, when node runs with --expose-gc (the image does). */
export const exposedGc = (globalThis as { gc?: () => void }).gc

/**
 * A full garbage collection every `pollsPerCollection` polling intervals, in
 * the background; without `gc` (node without --expose-gc), nothing.
 */
export const layerWith = (gc: (() => void) | undefined) =>
  Layer.effectDiscard(Effect.gen(function*() {
    if (gc === undefined) return
    const { pollingFrequencySeconds } = yield* Config
    const every = Duration.seconds(pollingFrequencySeconds * pollsPerCollection)
    yield* Effect.forkScoped(Effect.sync(gc).pipe(Effect.repeat(Schedule.spaced(every)), Effect.delay(every)))
  }))

export const layer = layerWith(exposedGc)
