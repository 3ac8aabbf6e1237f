// The periodic full collection that bounds old-generation growth between polls.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { collectGarbageEvery } from "../src/heap.ts"

describe("collectGarbageEvery", () => {
  it.effect("collects after every n-th poll, not before", () =>
    Effect.gen(function*() {
      let collections = 0
      const afterPoll = collectGarbageEvery(3, () => collections++)
      const seen: Array<number> = []
      for (let poll = 1; poll <= 7; poll++) {
        yield* afterPoll
        seen.push(collections)
      }
      expect(seen).toEqual([0, 0, 1, 1, 1, 2, 2])
    }))

  it.effect("without an exposed gc it does nothing and does not fail", () =>
    Effect.gen(function*() {
      const afterPoll = collectGarbageEvery(1, undefined)
      yield* afterPoll
      yield* afterPoll
    }))
})
