// The socket tables as the kernel prints them, captured from a dual-stack
// listener (port 0x8BDF) with one IPv4 and one IPv6 client on this machine;
// and generated tables, read in chunks as the sidecar reads /proc.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { carriesConnection, scanFile, scanText, TableScanner, tcpStates } from "../src/procNetTcp.ts"

const fixture = (name: string) => readFileSync(new URL(`./fixtures/proc/${name}`, import.meta.url), "utf8")
const port = 0x8bdf

const scan = (tables: ReadonlyArray<string>, ports: ReadonlyArray<number>, before?: Uint32Array) => {
  const scanner = new TableScanner(ports, before)
  for (const t of tables) scanText(t, scanner)
  return scanner.finish()
}

/** A socket line of /proc/net/tcp: `local` and `remote` as the kernel prints them. */
const line = (sl: number, local: string, remote: string, st: string) =>
  `${
    String(sl).padStart(4)
  }: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1`
const header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"

describe("the socket tables: open connections by local port", () => {
  it("counts the sockets whose local port is the target's, in both tables, never the listener or an outbound socket", () => {
    // The IPv4 client (local port 0x84BC) is the outbound side: it is not counted on the target port.
    const found = scan([fixture("net-tcp.txt"), fixture("net-tcp6.txt")], [port, 8080])
    expect(found.open).toEqual(new Map([[port, 2], [8080, 0]]))
  })

  it("a task's connection (10.0.1.23:8080 from 10.0.2.77:51234), and a peer connected to port 8080 elsewhere (not counted)", () => {
    const found = scan([
      [
        header,
        line(5, "1701000A:1F90", "4D02000A:C822", "01"),
        // This task's outbound connection to another host's 8080: its local port is ephemeral.
        line(6, "1701000A:C823", "4D02000A:1F90", "01")
      ].join("\n")
    ], [8080])
    expect(found.open.get(8080)).toBe(1)
  })

  it("a line is counted once, by its local port, when its remote port is watched too (a peer on 8080, a loopback connection to itself)", () => {
    const tables = [
      [
        header,
        // Port 80 from a peer whose port is 8080, both watched.
        line(1, "1701000A:0050", "4D02000A:1F90", "01"),
        // A loopback connection from port 8080 to itself: both endpoints print `:1F90 `.
        line(2, "0100007F:1F90", "0100007F:1F90", "01")
      ].join("\n")
    ]
    const first = scan(tables, [80, 8080])
    expect(first.open).toEqual(new Map([[80, 1], [8080, 1]]))
    expect(first.ids.length).toBe(2)
    const next = scan(tables, [80, 8080], new Uint32Array())
    expect(next.arrivals).toEqual(new Map([[80, 1], [8080, 1]]))
  })

  it("every state the kernel prints; only LISTEN and TIME_WAIT carry no client connection", () => {
    const states = Object.keys(tcpStates).map(Number)
    expect(states.filter((n) => !carriesConnection(n)).map((n) => tcpStates[n])).toEqual(["TIME_WAIT", "LISTEN"])
    const found = scan(
      states.map((n, i) =>
        line(
          i,
          "0100007F:1F90",
          `0100007F:${(0x8000 + i).toString(16).toUpperCase()}`,
          n.toString(16).toUpperCase().padStart(2, "0")
        )
      ),
      [8080]
    )
    expect(found.open.get(8080)).toBe(states.length - 2)
  })

  it("skips lines that are not sockets", () => {
    const found = scan(["garbage\n\n  12: zz:zz 00:00 01\n   1: 0100007F:1F90 0100007F:8000 0Z 0\n"], [8080])
    expect(found.open.get(8080)).toBe(0)
    expect(found.ids.length).toBe(0)
  })
})

describe("the socket tables: arrivals between two readings", () => {
  const established = line(1, "0100007F:1F90", "0100007F:8001", "01")
  const closed = line(1, "0100007F:1F90", "0100007F:8001", "06")

  it("the first reading has nothing to compare with: no arrivals", () => {
    expect(scan([established], [8080]).arrivals.get(8080)).toBe(0)
  })

  it("a socket the reading before did not have is an arrival, in any state: a new TIME_WAIT is a connection that came and went", () => {
    const before = scan([established], [8080]).ids
    const after = scan([[established, line(2, "0100007F:1F90", "0100007F:8002", "06")].join("\n")], [8080], before)
    expect(after.arrivals.get(8080)).toBe(1)
    expect(after.open.get(8080)).toBe(1)
  })

  it("a connection that closed since the reading before (now TIME_WAIT) is no arrival, and the port is empty", () => {
    const before = scan([established], [8080]).ids
    const after = scan([closed], [8080], before)
    expect(after.arrivals.get(8080)).toBe(0)
    expect(after.open.get(8080)).toBe(0)
  })

  it("a TIME_WAIT that was already there is no arrival, however many readings see it", () => {
    const first = scan([closed], [8080])
    const second = scan([closed], [8080], first.ids)
    const third = scan([closed], [8080], second.ids)
    expect([second.arrivals.get(8080), third.arrivals.get(8080)]).toEqual([0, 0])
  })
})

describe("the socket tables: loopback peers", () => {
  it("names the loopback peers with a connection open on a port (IPv4, IPv6 ::1 and IPv4-mapped), never a remote one", () => {
    const found = scan([fixture("net-tcp6.txt"), line(9, "1701000A:8BDF", "4D02000A:C822", "01")], [port])
    expect(found.open.get(port)).toBe(3)
    expect([...(found.loopbackPeers.get(port) ?? [])].sort()).toEqual(["127.0.0.1", "::1"])
  })
})

describe("the socket tables: read in chunks, whatever the size", () => {
  it("a generated table of 20,000 sockets read through the fixed buffer finds what a reading of the whole text finds", () => {
    const dir = mkdtempSync(join(tmpdir(), "nlb-sidecar-tables-"))
    try {
      const lines = [header]
      for (let i = 0; i < 20_000; i++) {
        const local = i % 10 === 0 ? "1F90" : (0x9000 + (i % 4000)).toString(16).toUpperCase()
        const remote = `${(0x0a000000 + i).toString(16).toUpperCase().padStart(8, "0")}:${
          (0x8000 + (i % 20000)).toString(16).toUpperCase()
        }`
        lines.push(line(i, `1701000A:${local}`, remote, i % 20 === 0 ? "06" : "01"))
      }
      const text = lines.join("\n") + "\n"
      const path = join(dir, "tcp")
      writeFileSync(path, text)
      const whole = scan([text], [8080, 0x9001])
      const scanner = new TableScanner([8080, 0x9001], undefined)
      scanFile(path, scanner)
      const chunked = scanner.finish()
      // One socket in ten on 8080, half of those TIME_WAIT; port 0x9001 every 4000th (none of them TIME_WAIT).
      expect(chunked.open).toEqual(new Map([[8080, 1000], [0x9001, 5]]))
      expect(chunked.open).toEqual(whole.open)
      expect(chunked.ids).toEqual(whole.ids)
      expect(chunked.ids.length).toBe(2005)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
