import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // e2e tests spawn real processes against the simulator; keep them from
    // competing with each other for the two CI cores.
    fileParallelism: true,
    testTimeout: 30_000
  }
})
