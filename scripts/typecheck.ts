// `npm run typecheck`: TypeScript with Effect's language service built in (@effect/tsgo's
// TypeScript 7.0.2, as pinned here), so that its diagnostics fail the check like type errors
// (warnings included, tsconfig.json's plugin options). The registry this project installs from
// serves that build for linux-x64 only: elsewhere the plain `tsc` runs, and says so.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"

const withEffect = (() => {
  try {
    const tsc = join(
      dirname(createRequire(import.meta.url).resolve("@effect/tsgo-linux-x64/package.json")),
      "lib",
      "tsc"
    )
    return existsSync(tsc) ? tsc : undefined
  } catch {
    return undefined
  }
})()
if (withEffect === undefined) {
  console.error(
    "typecheck: @effect/tsgo-linux-x64 is not installed on this platform: plain tsc, without Effect's diagnostics"
  )
}
const run = spawnSync(withEffect ?? "tsc", ["--noEmit", "-p", "tsconfig.json"], { stdio: "inherit", shell: false })
process.exit(run.status ?? 1)
