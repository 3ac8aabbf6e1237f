// The application's open connections, as this network namespace's socket
// tables show them: in awsvpc every container of the task shares one
// namespace, in host mode the instance's is shared by all.
import { Context, Effect, Layer, Schema } from "effect"
import { readFile } from "node:fs"
import { countConnections, parseProcNetTcp } from "../procNetTcp.ts"

export class ConnectionsUnreadable extends Schema.TaggedError<ConnectionsUnreadable>()("ConnectionsUnreadable", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `cannot read ${this.path}: ${this.detail}`
  }
}

export const procNetTcpPaths = ["/proc/net/tcp", "/proc/net/tcp6"] as const

const read = (path: string) =>
  Effect.callback<string, ConnectionsUnreadable>((resume) => {
    readFile(path, "latin1", (error, text) =>
      resume(
        error === null ? Effect.succeed(text) : Effect.fail(new ConnectionsUnreadable({ path, detail: error.message }))
      ))
  })

export interface ConnectionsService {
  /** Open client connections on each of `ports` (by local port), in this network namespace. */
  readonly count: (ports: ReadonlyArray<number>) => Effect.Effect<ReadonlyMap<number, number>, ConnectionsUnreadable>
}

/** Reads `paths` (the kernel's IPv4 and IPv6 tables) at each count; a host without IPv6 has no tcp6. */
export const readSocketTables = (paths: ReadonlyArray<string>): ConnectionsService => ({
  count: (ports) =>
    Effect.forEach(paths, (path, i) =>
      read(path).pipe(
        // Only the IPv4 table must exist: the kernel leaves out tcp6 when IPv6 is disabled.
        Effect.catchIf((e) => i > 0 && e.detail.includes("ENOENT"), () => Effect.succeed(""))
      )).pipe(Effect.map((tables) => countConnections(tables.flatMap(parseProcNetTcp), ports)))
})

/**
 * The socket table is an ambient fact of the process, like its clock: by
 * default this network namespace's, read only while a `connections` wait runs
 * (and once at startup to check it can be). Tests provide a scripted one.
 */
export const Connections = Context.Reference<ConnectionsService>("nlb-sidecar/Connections", {
  defaultValue: () => readSocketTables(procNetTcpPaths)
})

export const connectionsTest = (count: ConnectionsService["count"]) => Layer.succeed(Connections, { count })
