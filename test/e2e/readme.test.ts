// The README's commands, run: the demo, `check --json` against the simulator as
// the Development section shows it, and the IAM table against the actions
// `check` sees each network mode use. (`npm test` has built dist/ already.)
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import type { Fault } from "../../simulator/scenario.ts"
import { codeBlocks, codeSpans, readRepoFile, root, tableWithHeader } from "../support/readme.ts"
import { runScenario } from "./harness.ts"

const readme = readRepoFile("README.md")

const run = (command: string, args: ReadonlyArray<string>) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: root,
      // A developer's shell: the README's commands set up the rest themselves.
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ["ignore", "pipe", "pipe"],
      // Ended before the test's own 60 s, so that a hung command fails with its output.
      timeout: 50_000,
      killSignal: "SIGKILL"
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c))
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

interface CheckReport {
  readonly ok: boolean
  readonly exitCode: number
  readonly networkMode?: string
  readonly service?: string | null
  readonly permissions: ReadonlyArray<{ readonly action: string; readonly ok: boolean; readonly optional?: true }>
}

describe.concurrent("e2e: the README's commands", () => {
  it("npm run demo: the sidecar ends with exit code 0 after the drain, and the summary says so", async () => {
    // `npm run demo` is `npm run build && node scripts/demo.ts` (test/readme.test.ts): dist/ is built.
    const demo = await run(process.execPath, [join(root, "scripts/demo.ts")])
    expect(demo.stderr).toBe("")
    expect(demo.stdout).toMatch(/^ {2}draining seen: {3}at +[\d.]+s \(drain started at +5\.0s\)$/m)
    expect(demo.stdout).toMatch(/^ {2}sidecar exited: {2}at +[\d.]+s with exit code 0$/m)
    // The default strategy, and why: the demo's task is in awsvpc mode, where connections can be seen.
    expect(demo.stdout).toMatch(/^ {2}drain strategy: {2}connections \(DRAIN_STRATEGY=auto in awsvpc mode: .+\)$/m)
    expect(demo.code).toBe(0)
  }, 60_000)

  it("check --json against the simulator, as the Development section shows it", async () => {
    const block = codeBlocks(readme).find((b) => b.lang === "sh" && b.text.includes("check --json"))
    expect(block?.text).toContain("npm run build\n")
    // dist/ is built, and rebuilding it would pull it from under the other end-to-end tests.
    // Typed line by line, the next command comes after the simulator has printed its endpoints
    // (it listens by then); run as one script, it waits for that line, a bounded 30 s at most.
    const printed = join(mkdtempSync(join(tmpdir(), "nlb-sidecar-readme-")), "simulator.json")
    onTestFinished(() => rmSync(dirname(printed), { recursive: true, force: true }))
    const script = (block?.text ?? "")
      .replace("npm run build\n", "")
      .replaceAll("4599", String(await freePort()))
      .replace(
        /^(node simulator\/cli\.ts [^&\n]*)&.*$/m,
        `$1> ${printed} &\nfor _ in $(seq 300); do [ -s ${printed} ] && break; sleep 0.1; done; cat ${printed}`
      )
    expect(script).toContain(`cat ${printed}`)
    const shown = await run("bash", ["-c", script])
    const lines = shown.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines[0]).toMatchObject({ scenario: "fargate" })
    const report = lines.at(-1) as unknown as CheckReport
    expect(report).toMatchObject({ ok: true, exitCode: 0, networkMode: "awsvpc", service: "web" })
    expect(report.permissions.every((p) => p.ok)).toBe(true)
    expect(shown.code).toBe(0)
  }, 60_000)
})

describe.concurrent("e2e: the README's IAM table is what each mode needs", () => {
  const table = tableWithHeader(readme, "mode", "actions")
  const isAction = (a: string) => /^[a-z]+:\w+$/.test(a)
  const actionsOf = (mode: string): ReadonlyArray<string> => {
    const at = table.rows.findIndex(([m = ""]) => m.startsWith(mode))
    expect(at, mode).toBeGreaterThan(-1)
    const [, actions = ""] = table.rows[at] ?? []
    // "the above and …": the row before's actions too.
    const above = actions.startsWith("the above") ? actionsOf(table.rows[at - 1]?.[0] ?? "") : []
    return [...new Set([...above, ...codeSpans(actions).filter(isAction)])]
  }
  const every = [...new Set(table.rows.flatMap(([, actions = ""]) => codeSpans(actions).filter(isAction)))]
  const denied = (actions: ReadonlyArray<string>): ReadonlyArray<Fault> =>
    actions.map((a) => ({
      api: a.startsWith("ecs:") ? "ecs" as const : "elbv2" as const,
      action: a.split(":")[1]!,
      from: 0,
      until: 3_600_000,
      kind: "access-denied" as const
    }))
  const check = (scenario: string, faults: ReadonlyArray<Fault>) =>
    runScenario(scenario, {
      args: ["check", "--json"],
      drainAtMs: 60_000,
      faults,
      env: (sim) =>
        scenario === "standalone" ? { TARGET_GROUP_ARNS: sim.scenario.targetGroups.map((g) => g.arn).join(",") } : {}
    }).then((run) => run.logs.find((l) => "permissions" in l) as unknown as CheckReport)

  it.each([
    ["awsvpc", "awsvpc on EC2"],
    ["fargate", "awsvpc on Fargate"],
    ["bridge", "bridge or host"],
    ["host", "bridge or host"],
    ["standalone", "`TARGET_GROUP_ARNS`, awsvpc"],
    // Native blue/green needs nothing beyond its network mode; a task set's task needs DescribeTasks.
    ["blue-green", "awsvpc on EC2"],
    ["codedeploy", "`CODE_DEPLOY` or `EXTERNAL`"]
  ])("%s: the actions of the row %j are enough, and each of them is needed", async (scenario, mode) => {
    const needed = actionsOf(mode)
    expect(needed.length).toBeGreaterThan(0)
    // Every other action denied: check passes (the optional ones show up as advice).
    const enough = await check(scenario, denied(every.filter((a) => !needed.includes(a))))
    expect(enough, `${scenario} with only ${needed.join(", ")}`).toMatchObject({ ok: true, exitCode: 0 })
    // Each one denied alone: the exit code of AWS refusing a startup call.
    for (const action of needed) {
      const without = await check(scenario, denied([action]))
      expect(without, `${scenario} without ${action}`).toMatchObject({ ok: false, exitCode: 5 })
    }
  }, 60_000)
})
