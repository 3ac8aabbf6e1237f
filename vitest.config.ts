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
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    /**
     * How many sidecars run at once: up to maxWorkers files, each with up to maxConcurrency tests
     * (describe.concurrent). Measured on 2 cores (CONTRIBUTING.md): ... at once leave a sidecar's
     * start ... , and results the same as one file at a time.
     */
    maxWorkers: 3,
    maxConcurrency: 5,
    sequence: { sequencer: EndToEndFirst },
    reporters: ["default", "json"],
    outputFile: { json: "coverage/test-results.json" }
  }
})
