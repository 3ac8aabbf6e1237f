// One sample of the socket table, as DRAIN_STRATEGY=connections takes it about once a second while
// it waits: run `times` times (after one to warm up), printing the CPU milliseconds a sample took and
// how many sockets the tables held. Reads NLB_SIDECAR_TEST_SOCKET_TABLES (generated tables) when set.
// Run by `npm run bench` with the image's node flags.
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { procNetTcpPaths, readSocketTables, socketTablesForTests } from "../src/layers/Connections.ts"

const times = Math.max(1, Math.min(10_000, Number(process.argv[2] ?? 200)))
const port = Number(process.argv[3] ?? 8080)
const paths = process.env[socketTablesForTests]?.split(",") ?? [...procNetTcpPaths]
const tables = readSocketTables(paths)
let last = await Effect.runPromise(tables.sample([port]))
const before = process.cpuUsage()
for (let i = 0; i < times; i++) last = await Effect.runPromise(tables.sample([port], last))
const used = process.cpuUsage(before)
const peakRssMiB = process.resourceUsage().maxRSS / 1024
// Counted once, outside the timing: a line a socket, less each table's header.
const sockets = paths.reduce((n, path) => {
  try {
    return n + readFileSync(path, "latin1").split("\n").filter((l) => /^\s*\d+:/.test(l)).length
  } catch {
    return n
  }
}, 0)
console.log(JSON.stringify({
  cpuMsPerSample: (used.user + used.system) / 1000 / times,
  sockets,
  open: last.open.get(port) ?? 0,
  peakRssMiB
}))
