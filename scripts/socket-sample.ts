// One sample of the socket table, as DRAIN_STRATEGY=connections takes it about once a second while
// it waits: run `times` times (after one to warm up), printing the CPU milliseconds a sample took and
// how many sockets the tables held. Run by `npm run bench` with the image's node flags.
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { procNetTcpPaths, readSocketTables } from "../src/layers/Connections.ts"
import { parseProcNetTcp } from "../src/procNetTcp.ts"

const times = Math.max(1, Math.min(10_000, Number(process.argv[2] ?? 200)))
const tables = readSocketTables(procNetTcpPaths)
await Effect.runPromise(tables.count([8080]))
const before = process.cpuUsage()
for (let i = 0; i < times; i++) await Effect.runPromise(tables.count([8080]))
const used = process.cpuUsage(before)
const sockets = procNetTcpPaths.reduce((n, path) => {
  try {
    return n + parseProcNetTcp(readFileSync(path, "latin1")).length
  } catch {
    return n
  }
}, 0)
console.log(JSON.stringify({ cpuMsPerSample: (used.user + used.system) / 1000 / times, sockets }))
