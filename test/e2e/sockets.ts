// Real sockets for the end-to-end tests of the connection-counting drain: listeners on the
// target's port (dual stack: IPv4 clients show up in /proc/net/tcp6 as ::ffff:127.0.0.1), client
// connections the tests hold and close, and the awsvpc task that drains on the watching clock.
import { readFileSync } from "node:fs"
import { connect, createServer, type Socket } from "node:net"
import type { TestContext } from "vitest"
import type { Scenario } from "../../simulator/scenario.ts"
import { adminGroupArn } from "../../simulator/scenarios.ts"
import { clock, healthPolls, runScenario, type ScenarioRun } from "./harness.ts"

/** A listener on a free port, on :: (dual stack, as Node, Java, Go and nginx listen by default); closed with the test. */
export const listen = (test: TestContext) =>
  new Promise<number>((resolve) => {
    const server = createServer((socket) => socket.on("error", () => {}))
    test.onTestFinished(() => void server.close())
    server.listen(0, "::", () => resolve((server.address() as { port: number }).port))
  })

/**
 * `n` client connections to `port` (over IPv4 and IPv6 in turn), open once it resolves; `close()`
 * closes them and notes when (on `clock`), or the test does when it finishes.
 */
export const hold = async (test: TestContext, port: number, n: number) => {
  const sockets = await Promise.all(Array.from({ length: n }, (_, i) =>
    new Promise<Socket>((resolve) => {
      const socket: Socket = connect(port, i % 2 === 0 ? "127.0.0.1" : "::1", () => resolve(socket))
      socket.on("error", () => {})
      test.onTestFinished(() => void socket.destroy())
    })))
  const held = {
    closedAt: Infinity,
    close: () => {
      if (held.closedAt !== Infinity) return
      for (const socket of sockets) socket.destroy()
      held.closedAt = clock()
    },
    /** An `onLog` that closes them once the sidecar has counted them and is waiting for them to close. */
    closeWhenWaiting: (line: Record<string, unknown>) => {
      if (line.message === "waiting for connections to close") held.close()
    }
  }
  return held
}

/** The ENV lines of the Dockerfile's runtime stage (PATH aside). */
export const imageEnv: Record<string, string> = Object.fromEntries(
  [...(readFileSync("Dockerfile", "utf8").split(/^FROM /m).at(-1) ?? "").matchAll(/^ENV (\w+)=(.*)$/gm)]
    .filter(([, k]) => k !== "PATH")
    .map(([, k = "", v = ""]) => [k, v.replace(/^"(.*)"$/, "$1")])
)

export const env = (extra: Record<string, string>) => ({ DRAIN_STRATEGY: "connections", ...extra })

/** On the simulator's clock from when the sidecar is watching. */
export const drainAtMs = 2500
/** The awsvpc task with DRAIN_STRATEGY=connections, its target on `port`, draining at `drainAtMs`. */
export const drain = (
  port: number,
  extra: Record<string, string>,
  protocol: "HTTP" | "TCP" = "HTTP",
  onLog?: (line: Record<string, unknown>) => void
) =>
  runScenario("awsvpc", {
    clockStarts: "when-watching",
    drainAtMs,
    targetPort: port,
    protocol,
    env: env(extra),
    ...(onLog === undefined ? {} : { onLog })
  })

export const sinceFirstDrainingPoll = (run: ScenarioRun) =>
  run.exitT - (healthPolls(run.requests).find((r) => r.t >= drainAtMs)?.t ?? NaN)
export const lastLine = (run: ScenarioRun) => String(run.logs.at(-1)?.message)
export const waitStart = (run: ScenarioRun) => run.logs.find((l) => l.message === "waiting for connections to close")
export const countedAtStart = (run: ScenarioRun, port: number) =>
  (waitStart(run)?.connections as Record<string, number> | undefined)?.[String(port)]

/** A listener that closes each connection itself after `closeAfterMs` (HTTP/1.0 style): its side keeps a TIME_WAIT. */
export const listenClosing = (test: TestContext, closeAfterMs: number) =>
  new Promise<number>((resolve) => {
    const server = createServer((socket) => {
      socket.on("error", () => {})
      setTimeout(() => socket.end(), closeAfterMs)
    })
    test.onTestFinished(() => void server.close())
    server.listen(0, "::", () => resolve((server.address() as { port: number }).port))
  })

/**
 * The two-group task, both groups HTTP: `web` (on `webPort`) drains at `drainAtMs`, `admin` (on
 * `adminPort`) a poll and a half later, as ECS's two DeregisterTargets calls land in ELBv2.
 */
export const drainsAPollApart =
  (webPort: number, adminPort: number, adminLaterMs: number) => (s: Scenario): Scenario => ({
    ...s,
    task: {
      ...s.task,
      containers: s.task.containers.map((c) =>
        c.name === "app"
          ? { ...c, ports: c.ports.map((p) => (p.containerPort === webPort ? p : { ...p, containerPort: adminPort })) }
          : c
      )
    },
    service: {
      loadBalancers: (s.service?.loadBalancers ?? []).map((lb) =>
        lb.targetGroupArn === adminGroupArn ? { ...lb, containerPort: adminPort } : lb
      )
    },
    targetGroups: s.targetGroups.map((g) => ({
      ...g,
      protocol: "HTTP" as const,
      ...(g.arn === adminGroupArn ? { port: adminPort } : {}),
      targets: g.targets.map((t) =>
        t.id !== "10.0.1.23" ? t : {
          ...t,
          port: g.arn === adminGroupArn ? adminPort : t.port,
          timeline: [{ at: 0, state: "healthy" }, {
            at: drainAtMs + (g.arn === adminGroupArn ? adminLaterMs : 0),
            state: "draining"
          }]
        }
      )
    }))
  })
