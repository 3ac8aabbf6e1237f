// Bundles the sidecar into one ESM file: the image ships only dist/.
import { build, type Plugin } from "esbuild"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"

rmSync("dist", { recursive: true, force: true })

/**
 * Why the built-ins go through shims (measured by `npm run bench`, guarded by
 * test/e2e/footprint.test.ts, which fails if any of these modules loads):
 * an ESM `import` of a Node built-in builds its namespace by reading every
 * export, which runs the built-in's lazy getters: `node:http`'s `WebSocket`
 * loads all of Node's internal undici and http2 (+8 MiB peak RSS), `node:fs`'s
 * `promises` loads readline and the REPL history with it, `node:tls`'s
 * `rootCertificates` parses every bundled CA. So these built-ins are loaded with
 * `require()`, behind a CommonJS shim whose exports esbuild reads only when the
 * code uses them; a dynamic `import()` of one gets named exports without those
 * getters; and the SDK's `readFile` from `node:fs/promises` (the same readline
 * machinery, ~1 MiB) comes from the callback API.
 */
const requiredBuiltins = ["http", "tls", "fs", "process", "crypto"]
/** What a dynamic `import()` of those may not read: a namespace needs every other export at once. */
const lazyExports: Record<string, ReadonlyArray<string>> = {
  http: ["WebSocket", "CloseEvent", "MessageEvent"],
  tls: ["rootCertificates"],
  fs: ["promises", "ReadStream", "WriteStream", "FileReadStream", "FileWriteStream", "Utf8Stream"],
  process: ["stdin", "stdout", "stderr", "report", "finalization", "allowedNodeEnvironmentFlags"],
  crypto: ["webcrypto", "subtle"]
}

/** `readFile` through the callback API; any other export loads the real module on first use. */
const fsPromisesShim = (names: ReadonlyArray<string>) =>
  [
    `const fs = require("node:fs")`,
    `let real`,
    `exports.readFile = (path, options) => new Promise((resolve, reject) => fs.readFile(path, options ?? {}, (e, data) => e ? reject(e) : resolve(data)))`,
    `for (const k of ${
      JSON.stringify(names.filter((n) => n !== "readFile" && n !== "default"))
    }) Object.defineProperty(exports, k, { enumerable: true, get: () => (real ??= require("node:fs/promises"))[k] })`
  ].join("\n")

const requireBuiltin = createRequire(import.meta.url)

const builtinsThroughRequire: Plugin = {
  name: "builtins-through-require",
  setup(b) {
    const required = new RegExp(`^(node:)?(${requiredBuiltins.join("|")})$`)
    b.onResolve({ filter: required }, (args) =>
      args.namespace === "builtin-shim" || args.namespace === "builtin-esm"
        ? { path: args.path, external: true }
        : {
          path: args.path.replace(/^node:/, ""),
          namespace: args.kind === "dynamic-import" ? "builtin-esm" : "builtin-shim"
        })
    b.onLoad(
      { filter: /.*/, namespace: "builtin-shim" },
      (args) => ({ loader: "js", contents: `module.exports = require("node:${args.path}")` })
    )
    // A dynamic import() of a CommonJS module yields only `default`: name the other exports.
    b.onLoad({ filter: /.*/, namespace: "builtin-esm" }, (args) => {
      const skip = new Set(lazyExports[args.path] ?? [])
      const names = Object.getOwnPropertyNames(requireBuiltin(`node:${args.path}`))
        .filter((k) => /^[A-Za-z_$][\w$]*$/.test(k) && k !== "default" && !skip.has(k))
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
    b.onResolve(
      { filter: /^(node:)?fs\/promises$/ },
      (args) =>
        args.namespace === "fs-promises-shim"
          ? { path: args.path, external: true }
          : { path: "fs/promises", namespace: "fs-promises-shim" }
    )
    b.onLoad({ filter: /.*/, namespace: "fs-promises-shim" }, () => ({
      loader: "js",
      contents: fsPromisesShim(Object.getOwnPropertyNames(requireBuiltin("node:fs/promises")))
    }))
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
  target: "node26",
  minify: true,
  sourcemap: "linked",
  metafile: true,
  legalComments: "none",
  plugins: [builtinsThroughRequire],
  // Some SDK dependencies still call require() on Node built-ins.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: "warning"
}).then(async (result) => {
  const { writeFile } = await import("node:fs/promises")
  await writeFile("dist/meta.json", JSON.stringify(result.metafile))
})
