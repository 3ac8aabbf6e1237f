// The socket tables as the kernel prints them, captured from a dual-stack
// listener (port 0x8BDF) with one IPv4 and one IPv6 client on this machine.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { carriesConnection, countConnections, parseProcNetTcp, tcpStates } from "../src/procNetTcp.ts"

const fixture = (name: string) => readFileSync(new URL(`./fixtures/proc/${name}`, import.meta.url), "utf8")
const tcp = parseProcNetTcp(fixture("net-tcp.txt"))
const tcp6 = parseProcNetTcp(fixture("net-tcp6.txt"))
const port = 0x8bdf

describe("parseProcNetTcp", () => {
  it("IPv4: local and remote ports in hex, the state number; the header is skipped", () => {
    expect(tcp).toEqual([
      { localPort: 0x910b, remotePort: 0, state: 0x0a },
      { localPort: 0x84bc, remotePort: port, state: 0x01 }
    ])
  })

  it("IPv6: the listener, an IPv4 client of the dual-stack listener, an IPv6 client", () => {
    expect(tcp6).toEqual([
      { localPort: port, remotePort: 0, state: 0x0a },
      { localPort: port, remotePort: 0x84bc, state: 0x01 },
      { localPort: 0xa966, remotePort: port, state: 0x01 },
      { localPort: port, remotePort: 0xa966, state: 0x01 }
    ])
  })

  it("a task's connection (10.0.1.23:8080 from 10.0.2.77:51234) and a listener on a global IPv6 address", () => {
    const [v4] = parseProcNetTcp(
      "   5: 1701000A:1F90 4D02000A:C822 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1"
    )
    expect(v4).toMatchObject({ localPort: 8080, remotePort: 51234, state: 0x01 })
    // 2600:1f18:0:1::17 as the kernel prints it: four little-endian words.
    const [v6] = parseProcNetTcp(
      "   0: 181F0026010000000000000017000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0"
    )
    expect(v6).toMatchObject({ localPort: 8080, remotePort: 0, state: 0x0a })
  })

  it("every state the kernel prints; only LISTEN and TIME_WAIT carry no client connection", () => {
    const line = (st: string) =>
      `   1: 0000000000000000FFFF00000100007F:8BDF 0000000000000000FFFF00000100007F:84BC ${st} 00000000:00000000 00:00000000 00000000     0        0 132340 1 00000000aa8a6efc 20 0 0 10 -1`
    const states = Object.keys(tcpStates).map(Number)
    const parsed = states.map((n) => parseProcNetTcp(line(n.toString(16).toUpperCase().padStart(2, "0")))[0])
    expect(parsed.map((s) => s?.state)).toEqual(states)
    expect(parsed.filter((s) => s !== undefined && !carriesConnection(s)).map((s) => tcpStates[s?.state ?? 0])).toEqual(
      ["TIME_WAIT", "LISTEN"]
    )
  })

  it("skips lines that are not sockets", () => {
    expect(parseProcNetTcp("garbage\n\n  12: zz:zz 00:00 01\n")).toEqual([])
  })
})

describe("countConnections", () => {
  it("counts the sockets whose local port is the target's, in both tables, never the listener or an outbound socket", () => {
    // The IPv4 client (local port 0x84BC) is the outbound side: it is not counted on the target port.
    expect(countConnections([...tcp, ...tcp6], [port, 8080])).toEqual(new Map([[port, 2], [8080, 0]]))
  })
})
