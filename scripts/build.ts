// Bundles the sidecar into one ESM file: the image ships only dist/.
import { rmSync } from "node:fs"
import { build } from "esbuild"

rmSync("dist", { recursive: true, force: true })

await build({
  entryPoints: { main: "src/main.ts" },
  outdir: "dist",
  // main.js stays tiny: each command imports its own chunk (see src/main.ts).
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
  // The SDK's ES modules: smaller bundles, and named exports through dynamic import().
  mainFields: ["module", "main"],
  format: "esm",
  target: "node24",
  minify: true,
  sourcemap: "linked",
  metafile: true,
  legalComments: "none",
  // Some SDK dependencies still call require() on Node built-ins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: "warning"
}).then(async (result) => {
  const { writeFile } = await import("node:fs/promises")
  await writeFile("dist/meta.json", JSON.stringify(result.metafile))
})
