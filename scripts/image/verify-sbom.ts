// Checks the SBOM an image ships against what the image holds and what the lock file
// pins: every runtime dependency and every package bundled into dist/ at its locked
// version, no dev-only package, node with the image's Node version and the hash of
// its binary, and one component per Debian package recorded in the image.
//
//   node scripts/image/verify-sbom.ts --sbom ROOT/app/sbom.cdx.json --root ROOT --node-version 26.12.1
import { createHash } from "node:crypto"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: { sbom: { type: "string" }, root: { type: "string" }, "node-version": { type: "string" } }
})
const { sbom: sbomFile, root, "node-version": nodeVersion } = values
if (sbomFile === undefined || root === undefined || nodeVersion === undefined) {
  throw new Error("usage: --sbom FILE --root DIR --node-version X.Y.Z")
}

interface Component {
  readonly type: string
  readonly name: string
  readonly group?: string
  readonly version?: string
  readonly purl?: string
  readonly hashes?: ReadonlyArray<{ readonly alg: string; readonly content: string }>
  readonly components?: ReadonlyArray<Component>
}
const bom = JSON.parse(readFileSync(sbomFile, "utf8")) as {
  bomFormat: string
  specVersion: string
  components: ReadonlyArray<Component>
}
const flat = (cs: ReadonlyArray<Component>): Array<Component> => cs.flatMap((c) => [c, ...flat(c.components ?? [])])
const all = flat(bom.components)
const problems: Array<string> = []
const expect = (ok: boolean, problem: string) => ok || problems.push(problem)

expect(
  bom.bomFormat === "CycloneDX" && bom.specVersion === "1.6",
  `not CycloneDX 1.6: ${bom.bomFormat} ${bom.specVersion}`
)

// npm packages, against package.json, the lock file and the bundle's inputs (dist/meta.json of this checkout's build).
const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as {
  packages: Record<string, { version?: string; dev?: boolean }>
}
const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> }
const npm = all.filter((c) => c.purl?.startsWith("pkg:npm/"))
const npmName = (c: Component) => (c.group === undefined || c.group === "" ? c.name : `${c.group}/${c.name}`)
const locked = (name: string) =>
  Object.entries(lock.packages).filter(([path]) =>
    path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`)
  ).map(([, p]) => p)
for (const [name] of Object.entries(pkg.dependencies)) {
  const version = lock.packages[`node_modules/${name}`]?.version
  expect(npm.some((c) => npmName(c) === name && c.version === version), `runtime dependency ${name}@${version} missing`)
}
for (const c of npm) {
  const entries = locked(npmName(c))
  expect(entries.some((p) => p.version === c.version), `${npmName(c)}@${c.version} is not in package-lock.json`)
  expect(
    entries.some((p) => p.version === c.version && p.dev !== true),
    `${npmName(c)}@${c.version} is a dev dependency`
  )
}
const meta = JSON.parse(readFileSync("dist/meta.json", "utf8")) as { inputs: Record<string, unknown> }
const bundled = new Set(
  Object.keys(meta.inputs).flatMap((f) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? [])
)
for (const name of bundled) expect(npm.some((c) => npmName(c) === name), `bundled package ${name} missing`)
for (const c of npm) expect(bundled.has(npmName(c)), `${npmName(c)} is listed but not in the bundle`)

// node, with the hash of the binary the image ships.
const node = all.filter((c) => c.name === "node" && c.purl?.startsWith("pkg:generic/node@"))
const nodeHash = createHash("sha256").update(readFileSync(join(root, "usr/local/bin/node"))).digest("hex")
expect(
  node.length === 1 && node[0]?.version === nodeVersion,
  `node ${nodeVersion} missing (found ${node.map((c) => c.version).join(", ")})`
)
expect(
  node[0]?.hashes?.some((h) => h.alg === "SHA-256" && h.content === nodeHash) === true,
  "node's SHA-256 is not the image's binary's"
)

// Debian packages: exactly those recorded in the image, at the recorded versions.
const recorded = readdirSync(join(root, "var/lib/dpkg/status.d")).filter((f) => !f.endsWith(".md5sums")).map((f) => {
  const text = readFileSync(join(root, "var/lib/dpkg/status.d", f), "utf8")
  return { name: /^Package: (.*)$/m.exec(text)?.[1] ?? "", version: /^Version: (.*)$/m.exec(text)?.[1] ?? "" }
})
const debs = all.filter((c) => c.purl?.startsWith("pkg:deb/"))
for (const r of recorded) {
  expect(
    debs.some((c) => c.name === r.name && c.version === r.version),
    `Debian package ${r.name} ${r.version} missing`
  )
}
expect(debs.length === recorded.length, `${debs.length} Debian components for ${recorded.length} recorded packages`)
for (const name of ["libc6", "libstdc++6", "libgcc-s1"]) {
  expect(recorded.some((r) => r.name === name), `no ${name} in the image`)
}

if (problems.length > 0) {
  console.error(`SBOM ${sbomFile}:\n  ${problems.join("\n  ")}`)
  process.exit(1)
}
console.log(
  `SBOM: ${npm.length} npm packages (all ${bundled.size} bundled, ${
    Object.keys(pkg.dependencies).length
  } runtime dependencies at their locked versions), ` +
    `node ${nodeVersion}, ${debs.map((c) => `${c.name} ${c.version}`).join(", ")}`
)
