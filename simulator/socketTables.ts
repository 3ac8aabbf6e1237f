// Generated socket tables in the kernel's /proc/net/tcp and tcp6 format, of any size, for the
// tests and the bench: the sidecar reads them through NLB_SIDECAR_TEST_SOCKET_TABLES instead of
// its own namespace's (which on a test machine holds a few dozen sockets).
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"

const hex = (n: number, digits: number) => n.toString(16).toUpperCase().padStart(digits, "0")
const rest = (i: number) =>
  ` 00000000:00000000 00:00000000 00000000  1000        0 ${100_000 + i} 1 0000000000000000 20 4 30 10 -1`

export interface GeneratedTables {
  /** The two files, as NLB_SIDECAR_TEST_SOCKET_TABLES wants them: comma-separated. */
  readonly paths: string
  /** Connections open on `port` in them (ESTABLISHED, local port `port`). */
  readonly openOnPort: number
}

/**
 * `sockets` sockets, half in each table: one in `onPortEvery` an ESTABLISHED connection to `port`
 * from a client of its own; the others the instance's other traffic (outbound connections on
 * ephemeral ports, a third of them TIME_WAIT).
 */
export const writeSocketTables = (
  dir: string,
  options: { readonly sockets: number; readonly port: number; readonly onPortEvery: number }
): GeneratedTables => {
  mkdirSync(dir, { recursive: true })
  const v4 = ["  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"]
  const v6 = [
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
  ]
  let openOnPort = 0
  for (let i = 0; i < options.sockets; i++) {
    const onPort = i % options.onPortEvery === 0
    if (onPort) openOnPort++
    // 10.x.y.z clients; the task at 10.0.1.23 (1701000A as the kernel prints it).
    const peer = hex(0x0a000000 + (i % 0xffffff), 8).match(/../g)?.reverse().join("") ?? "00000000"
    const local = onPort ? hex(options.port, 4) : hex(32768 + (i % 28000), 4)
    const remote = onPort ? hex(1024 + (i % 60000), 4) : hex(443, 4)
    const state = onPort ? "01" : i % 3 === 0 ? "06" : "01"
    const sl = String(i >> 1).padStart(4)
    if (i % 2 === 0) {
      v4.push(`${sl}: 1701000A:${local} ${peer}:${remote} ${state}${rest(i)}`)
    } else {
      v6.push(
        `${sl}: 0000000000000000FFFF00001701000A:${local} 0000000000000000FFFF0000${peer}:${remote} ${state}${rest(i)}`
      )
    }
  }
  const tcp = join(dir, "tcp")
  const tcp6 = join(dir, "tcp6")
  writeFileSync(tcp, v4.join("\n") + "\n")
  writeFileSync(tcp6, v6.join("\n") + "\n")
  return { paths: `${tcp},${tcp6}`, openOnPort }
}
