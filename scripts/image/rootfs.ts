// Assembles the runtime image's root file system from the target platform's Node base
// image, on the build platform (nothing of the target's runs): node, the shared
// libraries it needs (followed through DT_NEEDED, with the base image's own symlinks),
// the package metadata of those libraries for vulnerability scanners, CA certificates,
// a non-root user, /tmp; and the image's CycloneDX SBOM: the npm packages bundled into
// dist/, node, and the Debian packages the copied files belong to.
//
//   node scripts/image/rootfs.ts --target /target --out /rootfs --npm-sbom npm.cdx.json \
//     --bundle-meta dist/meta.json --sbom sbom.cdx.json
import { createHash } from "node:crypto"
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { basename, dirname, join, posix } from "node:path"
import { rootCertificates } from "node:tls"
import { parseArgs } from "node:util"
import { readElf, stripElf } from "./elf.ts"

const { values: args } = parseArgs({
  options: {
    target: { type: "string" },
    out: { type: "string" },
    "npm-sbom": { type: "string" },
    "bundle-meta": { type: "string" },
    sbom: { type: "string" }
  }
})
const need = (name: keyof typeof args) => args[name] ?? fail(`--${name} is required`)
function fail(message: string): never {
  console.error(`rootfs: ${message}`)
  process.exit(1)
}
const target = need("target")
const out = need("out")

const NODE = "/usr/local/bin/node"
const USER = { name: "node", uid: 1000, gid: 1000 }

/**
 * Resolves an absolute path inside the target root the way the kernel would inside
 * a container of that image: symlinks (absolute ones re-rooted) are followed and
 * recorded, so that the same chain can be recreated in the output.
 */
const resolve = (path: string, links: Map<string, string> = new Map()): string => {
  const parts = path.split("/").filter((p) => p !== "")
  let at = "/"
  for (let hops = 0; parts.length > 0;) {
    const next = posix.join(at, parts.shift() ?? "")
    const stat = lstatSync(join(target, next), { throwIfNoEntry: false })
    if (stat === undefined) throw new Error(`${path}: ${next} does not exist in the target image`)
    if (!stat.isSymbolicLink()) {
      at = next
      continue
    }
    if (++hops > 40) throw new Error(`${path}: too many symlinks`)
    const link = readlinkSync(join(target, next))
    links.set(next, link)
    parts.unshift(...link.split("/").filter((p) => p !== ""))
    at = link.startsWith("/") ? "/" : at
  }
  return at
}
const exists = (path: string) => {
  try {
    resolve(path)
    return true
  } catch {
    return false
  }
}

/** Copies a path with its chain of symlinks; returns the real path it ends at. */
const copied = new Set<string>()
const copyChain = (path: string): string => {
  const links = new Map<string, string>()
  const real = resolve(path, links)
  for (const [link, to] of links) {
    if (lstatSync(join(out, link), { throwIfNoEntry: false }) !== undefined) continue
    mkdirSync(join(out, dirname(link)), { recursive: true })
    symlinkSync(to, join(out, link))
  }
  if (!copied.has(real)) {
    mkdirSync(join(out, dirname(real)), { recursive: true })
    copyFileSync(join(target, real), join(out, real))
    copied.add(real)
  }
  return real
}

// node and its libraries, as the loader finds them: PT_INTERP, then DT_NEEDED in the default directories.
const nodeFile = readFileSync(join(target, resolve(NODE)))
const elf = readElf(nodeFile)
const nodeVersion = /\/release\/v(\d+\.\d+\.\d+)\/node-v\1-headers/.exec(nodeFile.toString("latin1"))?.[1]
if (nodeVersion === undefined) fail(`no Node.js version found in ${NODE}`)
// The CA store below and the bundle come from the build platform's node: it must be the same release.
if (`v${nodeVersion}` !== process.version) fail(`the target's node is ${nodeVersion}, the build's ${process.version}`)
const searchDirs = [`/lib/${elf.triplet}`, `/usr/lib/${elf.triplet}`, "/lib", "/usr/lib"]
const libraries = new Map<string, string>() // soname -> path the loader opens
const queue = [...elf.needed]
if (elf.interpreter === undefined) fail(`${NODE} has no program interpreter`)
copyChain(elf.interpreter)
while (queue.length > 0) {
  const soname = queue.shift() ?? ""
  if (libraries.has(soname)) continue
  const path = searchDirs.map((d) => `${d}/${soname}`).find(exists)
  if (path === undefined) fail(`${soname} (needed by node) is not in the target image`)
  libraries.set(soname, path)
  const lib = readElf(readFileSync(join(target, resolve(path))))
  if (lib.arch !== elf.arch) fail(`${path} is ${lib.arch}, node is ${elf.arch}`)
  queue.push(...lib.needed)
}
for (const path of libraries.values()) copyChain(path)

// The OS's identity (scanners match package versions against it) and the files above.
for (const path of ["/etc/os-release", "/etc/debian_version"]) copyChain(path)
const osRelease = Object.fromEntries(
  readFileSync(join(target, resolve("/etc/os-release")), "utf8").split("\n").map((l) => /^(\w+)=(.*)$/.exec(l)).filter((
    m
  ) => m !== null).map((m) => [m[1], (m[2] ?? "").replace(/^"(.*)"$/, "$1")])
)

// Which Debian packages own the copied files: their dpkg status paragraphs go into
// /var/lib/dpkg/status.d/, where scanners look in images without a dpkg database.
interface Package {
  readonly name: string
  readonly version: string
  readonly arch: string
  readonly source: string
  readonly paragraph: string
  readonly info: string
}
const packages: Array<Package> = readFileSync(join(target, "var/lib/dpkg/status"), "utf8").split(/\n\n+/).flatMap(
  (paragraph) => {
    const field = (name: string) => new RegExp(`^${name}: (.*)$`, "m").exec(paragraph)?.[1]
    const name = field("Package")
    if (name === undefined || !/ installed$/.test(field("Status") ?? "")) return []
    const arch = field("Architecture") ?? ""
    const info =
      [`${name}:${arch}`, name].map((n) => `var/lib/dpkg/info/${n}`).find((p) =>
        existsSync(join(target, `${p}.list`))
      ) ?? ""
    return [{
      name,
      version: field("Version") ?? "",
      arch,
      source: (field("Source") ?? name).split(" ")[0] ?? name,
      paragraph: paragraph.trim(),
      info
    }]
  }
)
const wanted = new Set([...copied].map((p) => basename(p)))
const owners = new Map<string, Package>()
for (const pkg of packages) {
  if (pkg.info === "") continue
  for (const line of readFileSync(join(target, `${pkg.info}.list`), "utf8").split("\n")) {
    if (!wanted.has(basename(line)) || !exists(line)) continue
    const real = resolve(line)
    if (copied.has(real) && lstatSync(join(target, real)).isFile()) owners.set(real, pkg)
  }
}
const unowned = [...copied].filter((p) => p !== resolve(NODE) && !owners.has(p))
if (unowned.length > 0) fail(`no Debian package owns ${unowned.join(", ")}`)
const shipped = [...new Map([...owners.values()].map((p) => [p.name, p])).values()].sort((a, b) =>
  a.name.localeCompare(b.name)
)
mkdirSync(join(out, "var/lib/dpkg/status.d"), { recursive: true })
for (const pkg of shipped) {
  writeFileSync(join(out, "var/lib/dpkg/status.d", pkg.name), `${pkg.paragraph}\n`)
  if (existsSync(join(target, `${pkg.info}.md5sums`))) {
    copyFileSync(join(target, `${pkg.info}.md5sums`), join(out, "var/lib/dpkg/status.d", `${pkg.name}.md5sums`))
  }
  if (exists(`/usr/share/doc/${pkg.name}/copyright`)) copyChain(`/usr/share/doc/${pkg.name}/copyright`)
}

// node itself, without its symbol table and debug info (a third of the file; the loaded bytes are unchanged).
const node = stripElf(nodeFile)
mkdirSync(join(out, dirname(NODE)), { recursive: true })
writeFileSync(join(out, NODE), node)
chmodSync(join(out, NODE), 0o755)

// The rest of a minimal root: the user, name resolution, the CA store, /tmp.
const write = (path: string, text: string, mode = 0o644) => {
  mkdirSync(join(out, dirname(path)), { recursive: true })
  writeFileSync(join(out, path), text)
  chmodSync(join(out, path), mode)
}
write(
  "/etc/passwd",
  `root:x:0:0:root:/root:/usr/sbin/nologin\n${USER.name}:x:${USER.uid}:${USER.gid}:${USER.name}:/nonexistent:/usr/sbin/nologin\n`
)
write("/etc/group", `root:x:0:\n${USER.name}:x:${USER.gid}:\n`)
write("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
// Node's own Mozilla CA store, which it uses by default, also where --use-system-ca and other programs look.
write("/etc/ssl/certs/ca-certificates.crt", `${rootCertificates.join("\n")}\n`)
mkdirSync(join(out, "tmp"), { recursive: true })
chmodSync(join(out, "tmp"), 0o1777)

// The SBOM: cyclonedx-npm's from the lock file, narrowed to the packages whose code is
// in the bundle, plus node and the Debian packages above.
interface Component {
  readonly "bom-ref"?: string
  readonly name: string
  readonly group?: string
  readonly version?: string
  readonly components?: ReadonlyArray<Component>
  readonly [key: string]: unknown
}
interface Bom {
  readonly metadata: { readonly component: Component; readonly [key: string]: unknown }
  readonly components: ReadonlyArray<Component>
  readonly dependencies?: ReadonlyArray<{ readonly ref: string; readonly dependsOn?: ReadonlyArray<string> }>
  readonly [key: string]: unknown
}
const npmBom = JSON.parse(readFileSync(need("npm-sbom"), "utf8")) as Bom
const meta = JSON.parse(readFileSync(need("bundle-meta"), "utf8")) as { inputs: Record<string, unknown> }
const bundled = new Set(
  Object.keys(meta.inputs).flatMap((f) => /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? [])
)
const npmName = (c: Component) => (c.group === undefined || c.group === "" ? c.name : `${c.group}/${c.name}`)
const keep = (cs: ReadonlyArray<Component>): Array<Component> =>
  cs.filter((c) => bundled.has(npmName(c))).map((
    c
  ) => (c.components === undefined ? c : { ...c, components: keep(c.components) }))
const components = keep(npmBom.components)
const refs = new Set<string>()
const collect = (cs: ReadonlyArray<Component>) =>
  cs.forEach((c) => (c["bom-ref"] !== undefined && refs.add(c["bom-ref"]), collect(c.components ?? [])))
collect(components)
const missing = [...bundled].filter((name) =>
  !components.some(function has(c): boolean {
    return npmName(c) === name || (c.components ?? []).some(has)
  })
)
if (missing.length > 0) fail(`bundled but not in the npm SBOM: ${missing.join(", ")}`)
const appRef = npmBom.metadata.component["bom-ref"] ?? "app"
const nodeRef = `pkg:generic/node@${nodeVersion}`
const distro = `${osRelease.ID ?? "debian"}-${osRelease.VERSION_ID ?? ""}`
const debRef = (p: Package) =>
  `pkg:deb/${osRelease.ID ?? "debian"}/${encodeURIComponent(p.name)}@${
    encodeURIComponent(p.version)
  }?arch=${p.arch}&distro=${distro}`
const sbom = {
  ...npmBom,
  components: [
    ...components,
    {
      type: "application",
      "bom-ref": nodeRef,
      name: "node",
      version: nodeVersion,
      description: "Node.js runtime from the official Node.js base image, with its symbol table and debug info removed",
      licenses: [{ license: { id: "MIT" } }],
      purl: nodeRef,
      cpe: `cpe:2.3:a:nodejs:node.js:${nodeVersion}:*:*:*:*:*:*:*`,
      hashes: [{ alg: "SHA-256", content: createHash("sha256").update(node).digest("hex") }],
      properties: [{ name: "path", value: NODE }, { name: "arch", value: elf.arch }]
    },
    ...shipped.map((p) => ({
      type: p.name === "base-files" ? "operating-system" : "library",
      "bom-ref": debRef(p),
      name: p.name,
      version: p.version,
      purl: debRef(p),
      properties: [{ name: "source", value: p.source }, { name: "arch", value: p.arch }]
    }))
  ],
  dependencies: [
    ...(npmBom.dependencies ?? [])
      .filter((d) => d.ref === appRef || refs.has(d.ref))
      .map((d) => ({
        ref: d.ref,
        dependsOn: [...(d.dependsOn ?? []).filter((r) => refs.has(r)), ...(d.ref === appRef ? [nodeRef] : [])]
      })),
    { ref: nodeRef, dependsOn: shipped.filter((p) => p.name !== "base-files").map(debRef) }
  ]
}
writeFileSync(need("sbom"), `${JSON.stringify(sbom, null, 2)}\n`)
console.log(
  `rootfs: node ${nodeVersion} ${elf.arch} (${(nodeFile.length / 1048576).toFixed(1)} -> ${
    (node.length / 1048576).toFixed(1)
  } MiB stripped), ` +
    `${libraries.size} libraries from ${
      shipped.map((p) => `${p.name} ${p.version}`).join(", ")
    }; SBOM: ${components.length} npm packages`
)
