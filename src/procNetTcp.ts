// The kernel's TCP socket tables, /proc/net/tcp and /proc/net/tcp6 (man 5 proc):
// one socket a line, addresses as hex words in host byte order, `st` the state.

export interface TcpSocket {
  readonly localAddress: string
  readonly localPort: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** The kernel's state number: 0x01 ESTABLISHED … 0x06 TIME_WAIT, 0x0A LISTEN. */
  readonly state: number
}

export const tcpStates: Record<number, string> = {
  0x01: "ESTABLISHED",
  0x02: "SYN_SENT",
  0x03: "SYN_RECV",
  0x04: "FIN_WAIT1",
  0x05: "FIN_WAIT2",
  0x06: "TIME_WAIT",
  0x07: "CLOSE",
  0x08: "CLOSE_WAIT",
  0x09: "LAST_ACK",
  0x0a: "LISTEN",
  0x0b: "CLOSING",
  0x0c: "NEW_SYN_RECV"
}

/**
 * A socket that carries a client's connection: anything but a listener and a
 * connection already closed on both sides (TIME_WAIT is the kernel's, not the
 * application's).
 */
export const carriesConnection = (s: TcpSocket): boolean => s.state !== 0x0a && s.state !== 0x06

/** A 32-bit word as the kernel prints it: little-endian on the machines ECS runs (x86_64, arm64). */
const wordBytes = (hex: string): Array<number> => [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16))

const ipv4 = (hex: string) => wordBytes(hex).join(".")

const ipv6 = (hex: string) => {
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)))
  // v4-mapped (::ffff:a.b.c.d): a dual-stack listener's IPv4 clients.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
    return `::ffff:${bytes.slice(12).join(".")}`
  }
  const groups = [0, 2, 4, 6, 8, 10, 12, 14].map((i) => (((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = { at: -1, length: 1 }
  for (let at = 0; at < 8; at++) {
    let length = 0
    while (groups[at + length] === "0") length++
    if (length > best.length) best = { at, length }
  }
  return best.at === -1
    ? groups.join(":")
    : `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.length).join(":")}`
}

const address = (field: string): { readonly address: string; readonly port: number } | undefined => {
  const [hex = "", port = ""] = field.split(":")
  if (!/^[0-9A-Fa-f]+$/.test(port) || (hex.length !== 8 && hex.length !== 32) || !/^[0-9A-Fa-f]+$/.test(hex)) {
    return undefined
  }
  return { address: hex.length === 8 ? ipv4(hex) : ipv6(hex), port: Number.parseInt(port, 16) }
}

/** Every socket line of one table; the header and anything malformed are skipped. */
export const parseProcNetTcp = (text: string): Array<TcpSocket> =>
  text.split("\n").flatMap((line) => {
    const [, local = "", remote = "", state = ""] = line.trim().split(/\s+/)
    const l = address(local)
    const r = address(remote)
    return l === undefined || r === undefined || !/^[0-9A-Fa-f]{2}$/.test(state)
      ? []
      : [{
        localAddress: l.address,
        localPort: l.port,
        remoteAddress: r.address,
        remotePort: r.port,
        state: Number.parseInt(state, 16)
      }]
  })

/** Open client connections on each of `ports`, counted by local port (outbound sockets have ephemeral local ports). */
export const countConnections = (
  sockets: ReadonlyArray<TcpSocket>,
  ports: ReadonlyArray<number>
): Map<number, number> => {
  const counts = new Map(ports.map((p) => [p, 0]))
  for (const s of sockets) {
    const n = counts.get(s.localPort)
    if (n !== undefined && carriesConnection(s)) counts.set(s.localPort, n + 1)
  }
  return counts
}
