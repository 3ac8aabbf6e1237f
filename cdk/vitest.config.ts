import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    // aws-cdk-lib is loaded once per worker, not once per file: a third of the CPU time. Every
    // test builds an App of its own; nothing is kept in module state between files.
    isolate: false
  }
})
