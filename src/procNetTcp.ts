// The kernel's TCP socket tables, /proc/net/tcp and /proc/net/tcp6 (man 5 proc):
// one socket a line, `ADDRESS:PORT` in hex, `st` the state. Connections are
// counted by port, so the addresses are not decoded.

export interface TcpSocket {
  readonly localPort: number
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

/** The port of `ADDRESS:PORT`, both hex (an IPv4 address is 8 digits, IPv6 32); what counting needs. */
const portOf = (field: string): number | undefined => {
  const match = /^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):([0-9A-Fa-f]{4})$/.exec(field)
  return match === null ? undefined : Number.parseInt(match[1] ?? "", 16)
}

/** Every socket line of one table; the header and anything malformed are skipped. */
export const parseProcNetTcp = (text: string): Array<TcpSocket> =>
  text.split("\n").flatMap((line) => {
    const [, local = "", remote = "", state = ""] = line.trim().split(/\s+/)
    const localPort = portOf(local)
    const remotePort = portOf(remote)
    return localPort === undefined || remotePort === undefined || !/^[0-9A-Fa-f]{2}$/.test(state)
      ? []
      : [{ localPort, remotePort, state: Number.parseInt(state, 16) }]
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
