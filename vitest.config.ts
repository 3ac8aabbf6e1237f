import { defineConfig } from "vitest/config"
import { BaseSequencer, type TestSpecification } from "vitest/node"

/**
 * End-to-end files first: they spend their time waiting on real processes, so they start at once
 * and the CPU-bound unit files fill the time between (vitest's own order otherwise: the longest
 * first when it has timed them, the largest first when it has not, as after `npm ci`).
 */
class EndToEndFirst extends BaseSequencer {
  override async sort(files: Array<TestSpecification>) {
    const sorted = await super.sort(files)
    const endToEnd = (f: TestSpecification) => f.moduleId.includes("/test/e2e/")
    return [...sorted.filter(endToEnd), ...sorted.filter((f) => !endToEnd(f))]
  }
}

export default defineConfig({
  test: {
    testTimeout: 30_000,
    /**
     * Unit files share their workers (isolate: false): each loaded Effect and the SDK anew in a
     * fresh worker, a quarter of the suite's CPU time (43 s against 33 s) and the last 10-15 s of a
     * run. They pass in five shuffled orders and all in one worker. A unit test restores what it
     * changes (process.env: vi.stubEnv with unstubAllEnvs).
     */
    projects: [
      { extends: true, test: { name: "e2e", include: ["test/e2e/**/*.test.ts"] } },
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: ["test/e2e/**"], isolate: false }
      }
    ],
    /**
     * How many sidecars run at once: up to maxWorkers files, each up to maxConcurrency tests
     * (describe.concurrent), so 15. Measured on 2 cores with a load average of 10 beside: 15
     * sidecars started together were all watching within 1.9 s, 20 within 3.7 s (CONTRIBUTING.md).
     * vitest's default on 2 cores, one file at a time, took 126 s; 3 at a time take under half
     * that at the same CPU time, because the end-to-end files mostly wait; 4 or 6 gained nothing
     * more on a busy machine and start more sidecars at once.
     */
    maxWorkers: 3,
    maxConcurrency: 5,
    sequence: { sequencer: EndToEndFirst },
    reporters: ["default", "json"],
    outputFile: { json: "coverage/test-results.json" }
  }
})
