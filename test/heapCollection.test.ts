// The periodic full collection that bounds old-generation growth while the sidecar waits.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as HeapCollection from "../src/layers/HeapCollection.ts"
import { configTest } from "./support/mocks.ts"

const withCollection = (gc: (() => void) | undefined) =>
  Effect.provide(HeapCollection.layerWith(gc).pipe(Layer.provide(configTest({ pollingFrequencySeconds: 2 }))))

describe("HeapCollection", () => {
  it.effect("a full collection every 30 polling intervals, in the background, none before the first", () =>
    Effect.gen(function*() {
      let collections = 0
      const counted: Array<number> = []
      yield* Effect.gen(function*() {
        for (const seconds of [59, 1, 59, 1, 60]) {
          yield* TestClock.adjust(`${seconds} seconds`)
          counted.push(collections)
        }
      }).pipe(withCollection(() => void collections++))
      // POLLING_FREQUENCY=2: none at 59 s, the first at 60 s, then at 120 s and 180 s.
      expect(counted).toEqual([0, 1, 1, 2, 3])
    }))

  it.effect("without an exposed gc (node without --expose-gc) the program runs on undisturbed", () =>
    Effect.gen(function*() {
      const ran = yield* TestClock.adjust("120 seconds").pipe(Effect.as("ran"), withCollection(undefined))
      expect(ran).toBe("ran")
    }))
})
