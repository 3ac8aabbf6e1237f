// Bundles the sidecar into one ESM file: the image ships only dist/.
import { build } from "esbuild"

await build({
  entryPoints: { main: "src/main.ts" },
  outdir: "dist",
  // main.js stays tiny: each command imports its own chunk (see src/main.ts).
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  platform: "node",
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
