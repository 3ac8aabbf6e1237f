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
  it("IPv4: addresses in host byte order, ports in hex, the state number; the header is skipped", () => {
    expect(tcp).toEqual([
      { localAddress: "127.0.0.1", localPort: 0x910b, remoteAddress: "0.0.0.0", remotePort: 0, state: 0x0a },
      { localAddress: "127.0.0.1", localPort: 0x84bc, remoteAddress: "127.0.0.1", remotePort: port, state: 0x01 }
    ])
  })

  it("IPv6: the listener on ::, an IPv4 client as ::ffff:a.b.c.d (dual stack), an IPv6 client on ::1", () => {
    expect(tcp6).toEqual([
      { localAddress: "::", localPort: port, remoteAddress: "::", remotePort: 0, state: 0x0a },
      {
        localAddress: "::ffff:127.0.0.1",
        localPort: port,
        remoteAddress: "::ffff:127.0.0.1",
        remotePort: 0x84bc,
        state: 0x01
      },
      { localAddress: "::1", localPort: 0xa966, remoteAddress: "::1", remotePort: port, state: 0x01 },
      { localAddress: "::1", localPort: port, remoteAddress: "::1", remotePort: 0xa966, state: 0x01 }
    ])
  })

  it("a task address (10.0.1.23:8080 from 10.0.2.77:51234) and a global IPv6 address", () => {
    const [v4] = parseProcNetTcp(
      "   5: 1701000A:1F90 4D02000A:C822 01 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0000000000000000 20 4 30 10 -1"
    )
    expect(v4).toMatchObject({
      localAddress: "10.0.1.23",
      localPort: 8080,
      remoteAddress: "10.0.2.77",
      remotePort: 51234
    })
    // 2600:1f18:0:1::17 as the kernel prints it: four little-endian words.
    const [v6] = parseProcNetTcp(
      "   0: 181F0026010000000000000017000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0"
    )
    expect(v6).toMatchObject({ localAddress: "2600:1f18:0:1::17", localPort: 8080 })
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
