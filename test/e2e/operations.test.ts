// Day-two features as operators use them: check, TARGET_GROUP_ARNS, DRY_RUN, healthcheck.
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { webGroupArn } from "../../simulator/scenarios.ts"
import { healthPolls, runScenario, runSidecar } from "./harness.ts"

const packageVersion =
  (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version

describe.concurrent("e2e: check", () => {
  it("prints the report and exits 0 when everything works", async () => {
    const run = await runScenario("bridge", { args: ["check"], drainAtMs: 60_000 })
    expect(run.code, run.stdout).toBe(0)
    expect(run.stdout).toContain("check: OK (exit code 0)")
    expect(run.stdout).toContain("network mode: bridge")
    expect(run.stdout).toContain("this task: i-0598c7d356eba48d7:32768 is healthy")
    expect(run.stdout).toMatch(/API calls: +\d+ an hour while watching/)
    expect(run.stdout).toMatch(/desired count 2, of the account's buckets/)
    for (
      const action of [
        "ecs:DescribeServices",
        "ecs:DescribeTasks",
        "ecs:DescribeContainerInstances",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth"
      ]
    ) {
      expect(run.stdout).toContain(`ok     ${action}`)
    }
    expect(healthPolls(run.requests)).toHaveLength(1)
  })

  it("--json: one object; a denied permission is named and the exit code is 5", async () => {
    const run = await runScenario("access-denied", { args: ["check", "--json"] })
    expect(run.code).toBe(5)
    const report = JSON.parse(run.stdout.trim()) as Record<string, unknown>
    expect(report).toMatchObject({
      ok: false,
      exitCode: 5,
      permissions: [{ action: "ecs:DescribeServices", ok: false, error: "AccessDeniedException" }]
    })
  })
})

describe.concurrent("e2e: TARGET_GROUP_ARNS", () => {
  it("a standalone task finds its target with DescribeTargetHealth alone, and drains", async () => {
    const run = await runScenario("standalone", {
      clockStarts: "when-watching",
      drainAtMs: 2500,
      env: { TARGET_GROUP_ARNS: webGroupArn }
    })
    expect(run.code, run.stdout).toBe(0)
    // DescribeTargetHealth is all it needs; the optional calls (DescribeTargetGroups for the protocol) are tried once each.
    expect(new Set(run.requests.filter((r) => r.api === "ecs" || r.api === "elbv2").map((r) => r.action))).toEqual(
      new Set(["DescribeTargetHealth", "DescribeTargetGroups", "DescribeTargetGroupAttributes", "DescribeTasks"])
    )
    const [first, second] = healthPolls(run.requests)
    expect(first?.params["Targets.member.1.Id"]).toBeUndefined()
    expect(second?.params).toMatchObject({ "Targets.member.1.Id": "10.0.1.23", "Targets.member.1.Port": "8080" })
  })
})

describe.concurrent("e2e: DRY_RUN and healthcheck", () => {
  it("DRY_RUN logs the exit it would make and keeps running; healthcheck says healthy meanwhile", async () => {
    const heartbeat = `/tmp/nlb-sidecar-e2e-dry-${process.pid}.heartbeat`
    let health: Promise<{ code: number | null; stdout: string }> | undefined
    const run = await runScenario("awsvpc", {
      drainAtMs: 1500,
      env: { DRY_RUN: "true", HEARTBEAT_FILE: heartbeat },
      onLog: (line, child) => {
        if (String(line.message).startsWith("dry run") && health === undefined) {
          health = runSidecar({ env: { HEARTBEAT_FILE: heartbeat }, args: ["healthcheck"] })
          void health.then(() => setTimeout(() => child.kill("SIGTERM"), 1500))
        }
      }
    })
    expect(run.code).toBe(0)
    expect(run.logs.some((l) => l.message === "dry run: would exit with code 0")).toBe(true)
    expect(run.logs.at(-1)?.message).toBe("stopped by signal")
    const checked = await health
    expect(checked?.code).toBe(0)
    expect(checked?.stdout).toContain("healthy")
  })

  it("healthcheck finds the heartbeat under TMPDIR as the sidecar does, with no shell to expand it", async (test) => {
    const tmp = mkdtempSync(join(tmpdir(), "nlb-sidecar-e2e-tmpdir-"))
    test.onTestFinished(() => rmSync(tmp, { recursive: true, force: true }))
    let health: Promise<{ code: number | null; stdout: string }> | undefined
    const run = await runScenario("awsvpc", {
      drainAtMs: 60_000,
      env: { HEARTBEAT_FILE: undefined, TMPDIR: tmp },
      onLog: (line, child) => {
        if (line.message === "watching targets" && health === undefined) {
          health = runSidecar({ env: { TMPDIR: tmp }, args: ["healthcheck"] })
          void health.then(() => child.kill("SIGTERM"))
        }
      }
    })
    expect(run.code, run.stdout).toBe(0)
    expect(run.logs.find((l) => l.message === "configuration")?.heartbeatFile).toBe(
      join(tmp, "nlb-sidecar-for-ecs.heartbeat")
    )
    expect(await health).toMatchObject({ code: 0, stdout: expect.stringMatching(/^healthy \(heartbeat \d+s ago\)/) })
  })

  it("healthcheck with HEARTBEAT_FILE= (empty): unhealthy, naming the variable", async () => {
    const run = await runSidecar({ env: { HEARTBEAT_FILE: "" }, args: ["healthcheck"] })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(`unhealthy: HEARTBEAT_FILE="" is not a file path`)
  })

  it("healthcheck with no running sidecar: unhealthy, exit 1", async () => {
    const run = await runSidecar({
      env: { HEARTBEAT_FILE: "/tmp/nlb-sidecar-e2e-none.heartbeat" },
      args: ["healthcheck"]
    })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain("unhealthy: no heartbeat file")
  })
})

describe.concurrent("e2e: the command line", () => {
  it("--help: usage on stdout, exit 0; --version: the package's version", async () => {
    const help = await runSidecar({ env: {}, args: ["--help"] })
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("usage: nlb-sidecar-for-ecs [command]")
    expect(help.stdout).toContain("check [--json]")
    const version = await runSidecar({ env: {}, args: ["--version"] })
    expect(version.code).toBe(0)
    expect(version.stdout.trim()).toBe(packageVersion)
  })

  it("an unknown command or argument: named on stderr, usage on stdout, exit 2", async () => {
    for (const args of [["start"], ["check", "--yaml"]]) {
      const run = await runSidecar({ env: {}, args })
      expect(run.code).toBe(2)
      expect(run.stderr).toContain(JSON.stringify(args.at(-1)))
      expect(run.stdout).toContain("usage: nlb-sidecar-for-ecs [command]")
    }
  })
})
