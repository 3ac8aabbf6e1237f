// The kernel's TCP socket tables, /proc/net/tcp and /proc/net/tcp6 (man 5 proc):
// one socket a line, `ADDRESS:PORT` in hex, `st` the state. A table can hold
// the whole instance's sockets (host mode: 100,000 and more), so it is read in
// fixed-size chunks into one buffer, and only the lines of watched ports are
// looked at: Buffer#indexOf (native, fast even under --jitless) finds each
// port's `:PORT ` and only those lines are parsed; nothing is made or kept for
// the others.
import { closeSync, openSync, readSync } from "node:fs"

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
const LISTEN = 0x0a
const TIME_WAIT = 0x06

/**
 * A socket that carries a client's connection: anything but a listener and a
 * connection already closed on both sides (TIME_WAIT is the kernel's, not the
 * application's).
 */
export const carriesConnection = (state: number): boolean => state !== LISTEN && state !== TIME_WAIT

/** What one reading of the tables found on the watched ports (by local port: outbound sockets have ephemeral ones). */
export interface TableScan {
  /** Sockets that carry a client's connection, per port. */
  readonly open: Map<number, number>
  /** Sockets (in any state but LISTEN, TIME_WAIT included) that the previous reading did not have, per port. */
  readonly arrivals: Map<number, number>
  /** The addresses of loopback peers with a connection open, per port: clients inside the task (or the instance). */
  readonly loopbackPeers: Map<number, Set<string>>
  /** Every socket on a watched port, as a sorted 32-bit hash of its local and remote address: the next reading's "before". */
  readonly ids: Uint32Array
}

/** Each byte's value as a hex digit, -1 for any other: a table, as a call per byte costs much under --jitless. */
const hexDigits = new Int8Array(256).fill(-1)
for (let d = 0; d < 16; d++) {
  hexDigits[d.toString(16).charCodeAt(0)] = d
  hexDigits[d.toString(16).toUpperCase().charCodeAt(0)] = d
}
const hexValue = (byte: number | undefined): number => hexDigits[byte ?? 0] ?? -1
const isSpace = (byte: number) => byte === 0x20 || byte === 0x09

const has = (sorted: Uint32Array, value: number): boolean => {
  let lo = 0
  let hi = sorted.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const at = sorted[mid] ?? 0
    if (at === value) return true
    if (at < value) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

/**
 * An IPv4 address as the kernel prints it: one 32-bit word in the host's
 * byte order (little-endian on x86-64 and arm64), so 127.0.0.1 is 0100007F.
 */
const ipv4At = (line: Uint8Array, at: number): string => {
  const octets: Array<number> = []
  for (let i = 6; i >= 0; i -= 2) octets.push(hexValue(line[at + i] ?? 0) * 16 + hexValue(line[at + i + 1] ?? 0))
  return octets.join(".")
}
const matches = (line: Uint8Array, at: number, text: string) => {
  for (let i = 0; i < text.length; i++) if ((line[at + i] ?? 0) !== text.charCodeAt(i)) return false
  return true
}
/** The peer's address when it is a loopback one (127.0.0.0/8, ::1, ::ffff:127.x.y.z); `undefined` otherwise. */
const loopbackPeer = (line: Uint8Array, at: number, digits: number): string | undefined => {
  if (digits === 8) return matches(line, at + 6, "7F") ? ipv4At(line, at) : undefined
  if (matches(line, at, "00000000000000000000000001000000")) return "::1"
  return matches(line, at, "0000000000000000FFFF0000") && matches(line, at + 30, "7F")
    ? ipv4At(line, at + 24)
    : undefined
}

/** Reads `ADDRESS:PORT` at `at` (8 or 32 hex digits, a colon, 4 hex digits); its port and where it ends, or undefined. */
const endpointAt = (line: Uint8Array, at: number, end: number) => {
  let i = at
  while (i < end && (hexDigits[line[i] ?? 0] ?? -1) >= 0) i++
  const digits = i - at
  if ((digits !== 8 && digits !== 32) || line[i] !== 0x3a || i + 5 > end) return undefined
  let port = 0
  for (let k = i + 1; k < i + 5; k++) {
    const v = hexValue(line[k] ?? 0)
    if (v < 0) return undefined
    port = port * 16 + v
  }
  const after = i + 5
  return after < end && !isSpace(line[after] ?? 0) ? undefined : { port, digits, end: after }
}

/**
 * Scans the tables' lines for `ports`, comparing with `before` (the previous
 * reading's ids) for arrivals. Feed it each table's bytes, in chunks cut
 * anywhere; `finish` sorts what it kept.
 */
export class TableScanner {
  private readonly watched: ReadonlySet<number>
  private readonly before: Uint32Array | undefined
  private readonly open = new Map<number, number>()
  private readonly arrivals = new Map<number, number>()
  private readonly loopbackPeers = new Map<number, Set<string>>()
  private ids = new Uint32Array(64)
  private idCount = 0
  /** `:PORT ` as the kernel prints a local port (upper-case hex), one per watched port. */
  private readonly needles: ReadonlyArray<Buffer>

  constructor(ports: ReadonlyArray<number>, before: Uint32Array | undefined) {
    this.watched = new Set(ports)
    this.before = before
    this.needles = [...this.watched].map((p) => Buffer.from(`:${p.toString(16).toUpperCase().padStart(4, "0")} `))
    for (const port of ports) {
      this.open.set(port, 0)
      this.arrivals.set(port, 0)
    }
  }

  /**
   * One line, `line[start..end)` without its newline; the header and anything malformed are skipped.
   * `matchedAt`, where a needle was found: the line counts only for the match at its local port, so a
   * remote port that is watched too (or a loopback connection to itself) does not count it twice.
   */
  line(line: Uint8Array, start: number, end: number, matchedAt?: number): void {
    let i = start
    while (i < end && isSpace(line[i] ?? 0)) i++
    while (i < end && !isSpace(line[i] ?? 0)) i++ // `sl:`
    while (i < end && isSpace(line[i] ?? 0)) i++
    const local = endpointAt(line, i, end)
    if (local === undefined || (matchedAt !== undefined && matchedAt !== local.end - 5)) return
    const remoteAt = local.end + 1
    const remote = endpointAt(line, remoteAt, end)
    if (remote === undefined) return
    const st = remote.end + 1
    const high = hexValue(line[st] ?? 0)
    const low = hexValue(line[st + 1] ?? 0)
    if (st + 2 > end || high < 0 || low < 0 || (st + 2 < end && !isSpace(line[st + 2] ?? 0))) return
    const state = high * 16 + low
    if (!this.watched.has(local.port) || state === LISTEN) return
    // The connection's identity, the same in every state it goes through: FNV-1a over both endpoints,
    // two bytes a step.
    let hash = 0x811c9dc5
    for (let k = i; k < remote.end; k += 2) {
      hash = Math.imul(hash ^ (((line[k] ?? 0) << 8) | (line[k + 1] ?? 0)), 0x01000193)
    }
    const id = hash >>> 0
    if (this.before !== undefined && !has(this.before, id)) {
      this.arrivals.set(local.port, (this.arrivals.get(local.port) ?? 0) + 1)
    }
    if (carriesConnection(state)) {
      this.open.set(local.port, (this.open.get(local.port) ?? 0) + 1)
      const peer = loopbackPeer(line, remoteAt, remote.digits)
      if (peer !== undefined) {
        const peers = this.loopbackPeers.get(local.port) ?? new Set<string>()
        this.loopbackPeers.set(local.port, peers.add(peer))
      }
    }
    if (this.idCount === this.ids.length) {
      const grown = new Uint32Array(this.ids.length * 2)
      grown.set(this.ids)
      this.ids = grown
    }
    this.ids[this.idCount++] = id
  }

  /** Whole lines, `bytes[0..end)` (`end` just after a newline, or the end of the table). */
  lines(bytes: Buffer, end: number): void {
    for (const needle of this.needles) {
      for (let at = bytes.indexOf(needle); at !== -1 && at < end; at = bytes.indexOf(needle, at + 1)) {
        const start = bytes.lastIndexOf(0x0a, at) + 1
        const newline = bytes.indexOf(0x0a, at)
        this.line(bytes, start, newline === -1 || newline > end ? end : newline, at)
      }
    }
  }

  finish(): TableScan {
    return {
      open: this.open,
      arrivals: this.arrivals,
      loopbackPeers: this.loopbackPeers,
      ids: this.ids.slice(0, this.idCount).sort()
    }
  }
}

/** The chunk every read goes through: one buffer for the life of the process, a few hundred lines at a time. */
const chunkBytes = 64 * 1024
let chunk: Buffer | undefined

/** Feeds the file at `path` to `scanner`; throws node's error when it cannot be read. */
export const scanFile = (path: string, scanner: TableScanner): void => {
  chunk ??= Buffer.alloc(chunkBytes)
  const buffer = chunk
  const fd = openSync(path, "r")
  try {
    let kept = 0 // bytes of an unfinished line at the start of the buffer
    for (;;) {
      const read = readSync(fd, buffer, kept, buffer.length - kept, null)
      const filled = kept + read
      if (read === 0) {
        // The last line, without its newline (what follows it in the buffer is stale, and never read).
        scanner.lines(buffer, filled)
        return
      }
      const whole = buffer.lastIndexOf(0x0a, filled - 1) + 1
      if (whole > 0) scanner.lines(buffer, whole)
      // A line longer than the whole buffer is no socket line: dropped.
      kept = whole === 0 && filled === buffer.length ? 0 : filled - whole
      buffer.copyWithin(0, whole, whole + kept)
    }
  } finally {
    closeSync(fd)
  }
}

/** Scans `text` (tests, and tables held in memory). */
export const scanText = (text: string, scanner: TableScanner): TableScanner => {
  const bytes = Buffer.from(text, "latin1")
  scanner.lines(bytes, bytes.length)
  return scanner
}
