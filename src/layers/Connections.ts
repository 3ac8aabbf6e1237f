// The application's connections, as this network namespace's socket tables
// show them: in awsvpc every container of the task shares one namespace, in
// host mode the instance's is shared by all.
import { Context, Effect, Layer, Schema } from "effect"
import { scanFile, TableScanner } from "../procNetTcp.ts"

export class ConnectionsUnreadable extends Schema.TaggedError<ConnectionsUnreadable>()("ConnectionsUnreadable", {
  path: Schema.String,
  detail: Schema.String
}) {
  override get message() {
    return `cannot read ${this.path}: ${this.detail}`
  }
}

export const procNetTcpPaths = ["/proc/net/tcp", "/proc/net/tcp6"] as const

/**
 * Test-only: comma-separated files read instead of /proc/net/tcp and tcp6, so
 * that tests and the bench can hand the built sidecar a generated table of any
 * size. Not a setting: operators never set it.
 */
export const socketTablesForTests = "NLB_SIDECAR_TEST_SOCKET_TABLES"

/** One reading of the socket tables, for the ports asked about. */
export interface SocketSample {
  /** Open client connections per port (by local port: outbound sockets have ephemeral ones). */
  readonly open: ReadonlyMap<number, number>
  /**
   * Connections that arrived since the reading this one was compared with: sockets
   * on the port, in any state (a TIME_WAIT left by a connection that came and went
   * between two readings included), that the earlier reading did not have.
   * All zero when there was none to compare with.
   */
  readonly arrivals: ReadonlyMap<number, number>
  /** Loopback peers (clients inside the task, or on the instance) with a connection open, per port. */
  readonly loopbackPeers: ReadonlyMap<number, ReadonlySet<string>>
  /** What the next reading compares with; opaque. */
  readonly seen: Uint32Array
}

export interface ConnectionsService {
  /** Reads the tables for `ports`; arrivals are counted against `before` (the previous reading), if any. */
  readonly sample: (
    ports: ReadonlyArray<number>,
    before?: SocketSample
  ) => Effect.Effect<SocketSample, ConnectionsUnreadable>
}

/** Reads `paths` (the kernel's IPv4 and IPv6 tables) at each sample; a host without IPv6 has no tcp6. */
export const readSocketTables = (paths: ReadonlyArray<string>): ConnectionsService => ({
  sample: (ports, before) =>
    Effect.suspend(() => {
      const scanner = new TableScanner(ports, before?.seen)
      for (const [i, path] of paths.entries()) {
        try {
          scanFile(path, scanner)
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code
          // Only the IPv4 table must exist: the kernel leaves out tcp6 when IPv6 is disabled.
          if (i > 0 && code === "ENOENT") continue
          return Effect.fail(new ConnectionsUnreadable({ path, detail: (error as Error).message }))
        }
      }
      const scan = scanner.finish()
      return Effect.succeed<SocketSample>({
        open: scan.open,
        arrivals: scan.arrivals,
        loopbackPeers: scan.loopbackPeers,
        seen: scan.ids
      })
    })
})

const tablePaths = (): ReadonlyArray<string> => {
  const forTests = process.env[socketTablesForTests]
  return forTests === undefined || forTests === "" ? procNetTcpPaths : forTests.split(",")
}

/**
 * The socket table is an ambient fact of the process, like its clock: by
 * default this network namespace's, read only while a `connections` wait runs
 * (and once at startup to check it can be). Tests provide a scripted one.
 */
export const Connections = Context.Reference<ConnectionsService>("nlb-sidecar/Connections", {
  defaultValue: () => readSocketTables(tablePaths())
})

/** What a scripted table says at one reading: open connections per port, and arrivals since the last one. */
export interface ScriptedSample {
  readonly open: ReadonlyMap<number, number>
  readonly arrivals?: ReadonlyMap<number, number>
  readonly loopbackPeers?: ReadonlyMap<number, ReadonlySet<string>>
}

export const connectionsTest = (
  script: (ports: ReadonlyArray<number>) => Effect.Effect<ScriptedSample, ConnectionsUnreadable>
) =>
  Layer.succeed(Connections, {
    sample: (ports) =>
      script(ports).pipe(Effect.map((s) => ({
        open: s.open,
        arrivals: s.arrivals ?? new Map(ports.map((p) => [p, 0])),
        loopbackPeers: s.loopbackPeers ?? new Map(),
        seen: new Uint32Array(0)
      })))
  })
