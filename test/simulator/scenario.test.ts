// Scenarios are data checked when loaded: the built-ins, JSON files, and the
// messages that name a bad field.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it, onTestFinished } from "vitest"
import { decodeScenario, type Scenario } from "../../simulator/scenario.ts"
import { loadScenario, scenarioNames } from "../../simulator/scenarios.ts"
import { startSimulator } from "../../simulator/server.ts"

const awsvpc = loadScenario("awsvpc")
const reject = (input: unknown) => {
  try {
    decodeScenario(input)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error("expected the scenario to be rejected")
}

const tempFile = (name: string, content: string) => {
  const dir = mkdtempSync(join(tmpdir(), "simulator-scenario-"))
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

describe("built-in scenarios", () => {
  it("are all there, and each loads", () => {
    expect(scenarioNames).toEqual(expect.arrayContaining([
      "awsvpc",
      "fargate",
      "bridge",
      "host",
      "two-target-groups",
      "late-registration",
      "unhealthy-draining",
      "missed-draining-window",
      "not-in-service",
      "no-target-groups",
      "throttling",
      "server-errors",
      "slow-answers",
      "metadata-not-ready",
      "access-denied",
      "standalone",
      "blue-green",
      "blue-green-primary",
      "blue-green-host",
      "codedeploy"
    ]))
    for (const name of scenarioNames) expect(loadScenario(name, { drainAtMs: 100 }).name).toBe(name)
  })

  it("take their timing from the options", () => {
    const timeline = (s: Scenario) => s.targetGroups[0]?.targets[1]?.timeline
    expect(timeline(loadScenario("awsvpc"))).toEqual([{ at: 0, state: "healthy" }, { at: 5000, state: "draining" }, {
      at: 305_000,
      registered: false
    }])
    expect(timeline(loadScenario("awsvpc", { drainAtMs: 200, deregistrationDelayMs: 50 }))).toEqual([
      { at: 0, state: "healthy" },
      { at: 200, state: "draining" },
      { at: 250, registered: false }
    ])
    expect(loadScenario("metadata-not-ready").faults).toEqual([{
      api: "metadata",
      from: 0,
      until: 24 * 3_600_000,
      kind: "not-ready",
      times: 3
    }])
  })

  it("say who the task is: launch type, network mode, service, agent", () => {
    const summary = (name: string) => {
      const { task, service } = loadScenario(name)
      return [
        task.launchType,
        task.networkMode,
        task.serviceName,
        task.serviceNameInMetadata,
        task.omitHostPorts,
        service?.loadBalancers.length
      ]
    }
    expect(summary("fargate")).toEqual(["FARGATE", "awsvpc", "web", false, false, 1])
    expect(summary("bridge")).toEqual(["EC2", "bridge", "web", true, false, 1])
    expect(summary("old-agent-bridge")).toEqual(["EC2", "bridge", "web", false, true, 1])
    expect(summary("not-in-service")).toEqual(["EC2", "awsvpc", null, true, false, 1])
    expect(summary("no-target-groups")).toEqual(["EC2", "awsvpc", "web", true, false, 0])
    expect(summary("standalone")).toEqual(["EC2", "awsvpc", null, true, false, undefined])
  })

  it("a JSON file by path, validated the same way", () => {
    const ok = tempFile("ok.json", JSON.stringify({ ...awsvpc, name: "from-file" }))
    expect(loadScenario(ok).name).toBe("from-file")
    const bad = tempFile("bad.json", JSON.stringify({ ...awsvpc, region: "mars" }))
    expect(() => loadScenario(bad)).toThrow(/region/)
    const notJson = tempFile("broken.json", "{")
    expect(() => loadScenario(notJson)).toThrow(/cannot read scenario/)
  })

  it("an unknown name lists the known ones", () => {
    expect(() => loadScenario("nope")).toThrow(/unknown scenario "nope": use one of awsvpc, fargate/)
  })
})

describe("a bad scenario is rejected with a message naming the field", () => {
  it.each([
    ["a field's format", { ...awsvpc, accountId: "12" }, /accountId/],
    [
      "a literal",
      { ...awsvpc, task: { ...awsvpc.task, networkMode: "nat" } },
      /task\.networkMode: Expected "awsvpc" \| "bridge" \| "host"/
    ],
    ["a missing field", { ...awsvpc, targetGroups: undefined }, /targetGroups/],
    ["a field nobody reads (a typo)", { ...awsvpc, drainAt: 5 }, /drainAt/],
    [
      "Fargate outside awsvpc",
      { ...awsvpc, task: { ...awsvpc.task, launchType: "FARGATE", networkMode: "bridge" } },
      /task\.networkMode: Fargate tasks use awsvpc/
    ],
    [
      "EC2 without a container instance",
      { ...awsvpc, task: { ...awsvpc.task, containerInstance: undefined } },
      /task\.containerInstance/
    ],
    [
      "a sidecar container that is not in the task",
      { ...awsvpc, task: { ...awsvpc.task, sidecarContainer: "x" } },
      /task\.sidecarContainer: not one of the containers/
    ],
    ["a load balancer on an unknown container", {
      ...awsvpc,
      service: { loadBalancers: [{ containerName: "db", containerPort: 5432 }] }
    }, /service\.loadBalancers\[0\]\.containerName/],
    [
      "a bridge mapping without its host port",
      { ...awsvpc, task: { ...awsvpc.task, networkMode: "bridge" } },
      /task\.containers\[0\]\.ports\[0\]\.hostPort: bridge mode needs the host port/
    ],
    ["an instance id in an ip group", {
      ...awsvpc,
      targetGroups: [{ ...awsvpc.targetGroups[0], targets: [{ id: "i-0598c7d356eba48d7", port: 8080, timeline: [] }] }]
    }, /targetGroups\[0\]\.targets\[0\]\.id: not an IPv4 address/],
    ["task sets under the ECS controller", {
      ...awsvpc,
      service: {
        ...awsvpc.service,
        taskSets: [{ id: "ecs-svc/1234567890123456789", status: "PRIMARY", loadBalancers: [] }]
      }
    }, /service\.taskSets: only CODE_DEPLOY and EXTERNAL services have task sets/],
    ["an alternate target group without the BLUE_GREEN strategy", {
      ...awsvpc,
      service: {
        loadBalancers: [{
          targetGroupArn: awsvpc.targetGroups[0]?.arn,
          containerName: "app",
          containerPort: 8080,
          advancedConfiguration: { alternateTargetGroupArn: awsvpc.targetGroups[0]?.arn }
        }]
      }
    }, /service\.loadBalancers\[0\]\.advancedConfiguration: an alternate target group needs the BLUE_GREEN strategy/],
    ["a task set the service does not have", {
      ...awsvpc,
      task: { ...awsvpc.task, taskSet: "ecs-svc/1234567890123456789" }
    }, /task\.taskSet: not one of the service's task sets/],
    ["a timeline out of order", {
      ...awsvpc,
      targetGroups: [{
        ...awsvpc.targetGroups[0],
        targets: [{
          id: "10.0.1.23",
          port: 8080,
          timeline: [{ at: 5, state: "healthy" }, { at: 1, state: "draining" }]
        }]
      }]
    }, /targetGroups\[0\]\.targets\[0\]\.timeline\[1\]\.at: steps must be in time order/],
    ["an unknown target state", {
      ...awsvpc,
      targetGroups: [{
        ...awsvpc.targetGroups[0],
        targets: [{ id: "10.0.1.23", port: 8080, timeline: [{ at: 0, state: "deregistered" }] }]
      }]
    }, /targetGroups\[0\]\.targets\[0\]\.timeline\[0\]/],
    ["a deregistration delay over the attribute's 3600 s", {
      ...awsvpc,
      targetGroups: [{ ...awsvpc.targetGroups[0], deregistrationDelaySeconds: 3601 }]
    }, /targetGroups\[0\]\.deregistrationDelaySeconds/],
    ["a deregistration delay in fractions of a second", {
      ...awsvpc,
      targetGroups: [{ ...awsvpc.targetGroups[0], deregistrationDelaySeconds: 1.5 }]
    }, /targetGroups\[0\]\.deregistrationDelaySeconds/],
    ["a fault that ends before it starts", {
      ...awsvpc,
      faults: [{ api: "ecs", from: 10, until: 10, kind: "throttle" }]
    }, /faults\[0\]\.until: must be after from/],
    [
      "an unknown fault kind",
      { ...awsvpc, faults: [{ api: "ecs", from: 0, until: 10, kind: "flaky" }] },
      /faults\[0\]\.kind/
    ],
    [
      "a metadata body fault on an AWS API",
      { ...awsvpc, faults: [{ api: "elbv2", from: 0, until: 10, kind: "drip" }] },
      /faults\[0\]\.kind: drip is a metadata fault/
    ],
    ["a signature fault on the metadata endpoint", {
      ...awsvpc,
      faults: [{ api: "metadata", from: 0, until: 10, kind: "signature-mismatch" }]
    }, /faults\[0\]\.kind: the metadata endpoint has no signature-mismatch answer/],
    ["ServiceName on Fargate", {
      ...loadScenario("fargate"),
      task: { ...loadScenario("fargate").task, serviceNameInMetadata: true }
    }, /task\.serviceNameInMetadata: Fargate's metadata has no ServiceName/]
  ])("%s", (_, input, message) => {
    const error = reject(input)
    expect(error).toMatch(/^invalid scenario: /)
    expect(error).toMatch(message)
  })

  it("startSimulator checks the scenario too", async () => {
    await expect(startSimulator({ scenario: { ...awsvpc, region: "nowhere" } })).rejects.toThrow(/region/)
  })
})
