// Bundles the sidecar into one ESM file: the image ships only dist/.
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { build, type Plugin } from "esbuild"

rmSync("dist", { recursive: true, force: true })

/**
 * An ESM `import` of a Node built-in builds its namespace by reading every
 * export, which runs the built-in's lazy getters: `node:http`'s `WebSocket`
 * loads all of Node's internal undici and http2 (+8 MiB peak RSS), `node:tls`'s
 * `rootCertificates` parses every bundled CA. Those two are imported through a
 * shim that loads them with `require()` and re-exports all but those getters.
 */
const lazyHeavyExports: Record<string, ReadonlyArray<string>> = {
  http: ["WebSocket", "CloseEvent", "MessageEvent"],
  tls: ["rootCertificates"]
}
const requireBuiltin = createRequire(import.meta.url)
const builtinsWithoutLazyExports: Plugin = {
  name: "builtins-without-lazy-exports",
  setup(b) {
    b.onResolve({ filter: /^(node:)?(http|tls)$/ }, (args) => ({ path: args.path.replace(/^node:/, ""), namespace: "builtin-shim" }))
    b.onLoad({ filter: /.*/, namespace: "builtin-shim" }, (args) => {
      const skip = new Set(lazyHeavyExports[args.path] ?? [])
      const names = Object.getOwnPropertyNames(requireBuiltin(`node:${args.path}`)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== "default" && !skip.has(k))
      return {
        loader: "js",
        contents: [
          `import { createRequire } from "node:module"`,
          `const m = createRequire(import.meta.url)("node:${args.path}")`,
          `export default m`,
          `export const { ${names.join(", ")} } = m`
        ].join("\n")
      }
    })
  }
}

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
  plugins: [builtinsWithoutLazyExports],
  // Some SDK dependencies still call require() on Node built-ins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: "warning"
}).then(async (result) => {
  const { writeFile } = await import("node:fs/promises")
  await writeFile("dist/meta.json", JSON.stringify(result.metafile))
})
