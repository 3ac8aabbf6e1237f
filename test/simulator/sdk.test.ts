// The simulator checked with the official SDK clients: every answer parses,
// every error arrives as the SDK error AWS would produce.
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient } from "@aws-sdk/client-ecs"
import { DescribeTargetGroupsCommand, DescribeTargetHealthCommand, ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2"
import { afterEach, describe, expect, it } from "vitest"
import { decodeScenario, type Scenario } from "../../src/simulator/scenario.ts"
import { loadScenario, webGroupArn } from "../../src/simulator/scenarios.ts"
import { type RunningSimulator, startSimulator } from "../../src/simulator/server.ts"

const credentials = { accessKeyId: "test", secretAccessKey: "test" }
let sim: RunningSimulator | undefined
let clock = 0

const start = async (scenario: Scenario) => {
  clock = 0
  sim = await startSimulator({ scenario, now: () => clock })
  return {
    elb: new ElasticLoadBalancingV2Client({ region: sim.region, endpoint: sim.endpoint, credentials, maxAttempts: 1 }),
    ecs: new ECSClient({ region: sim.region, endpoint: sim.endpoint, credentials, maxAttempts: 1 })
  }
}

afterEach(async () => {
  await sim?.close()
  sim = undefined
})

const sdkError = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (error) {
    return error as { name: string; $metadata: { httpStatusCode?: number; requestId?: string } }
  }
  throw new Error("expected the call to fail")
}

describe("simulator, through the AWS SDK", () => {
  it("DescribeTargetGroups and DescribeTargetHealth parse, and states follow the timeline", async () => {
    const { elb } = await start(loadScenario("awsvpc", { drainAtMs: 5000 }))
    const groups = await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [webGroupArn] }))
    expect(groups.TargetGroups?.[0]).toMatchObject({ TargetGroupArn: webGroupArn, TargetType: "ip", Protocol: "TCP", Port: 8080, IpAddressType: "ipv4" })
    const ask = () => elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] }))
    expect((await ask()).TargetHealthDescriptions?.[0]?.TargetHealth).toMatchObject({ State: "healthy" })
    clock = 5000
    const draining = await ask()
    expect(draining.TargetHealthDescriptions?.[0]).toMatchObject({
      Target: { Id: "10.0.1.23", Port: 8080 },
      TargetHealth: { State: "draining", Reason: "Target.DeregistrationInProgress" }
    })
    expect(draining.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/)
    const all = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn }))
    expect(all.TargetHealthDescriptions?.map((d) => d.Target?.Id).sort()).toEqual(["10.0.1.23", "10.0.2.77"])
  })

  it("an unregistered ip target is unused / Target.NotRegistered", async () => {
    const { elb } = await start(loadScenario("missed-draining-window", { drainAtMs: 1000 }))
    clock = 1000
    const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] }))
    expect(out.TargetHealthDescriptions?.[0]?.TargetHealth).toMatchObject({ State: "unused", Reason: "Target.NotRegistered" })
  })

  it("ELBv2 errors: InvalidTarget, TargetGroupNotFound, Throttling, AccessDenied, 503", async () => {
    const scenario = loadScenario("bridge")
    const { elb } = await start(decodeScenario({
      ...scenario,
      faults: [
        { api: "elbv2", action: "DescribeTargetGroups", from: 100, until: 200, kind: "throttle" },
        { api: "elbv2", action: "DescribeTargetGroups", from: 200, until: 300, kind: "access-denied" },
        { api: "elbv2", action: "DescribeTargetGroups", from: 300, until: 400, kind: "server-error" }
      ]
    }))
    const invalid = await sdkError(elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "i-0000000000000000", Port: 32768 }] })))
    // The SDK names modeled awsQuery errors by class and keeps the wire code in `Code`.
    expect([invalid.name, (invalid as { Code?: string }).Code, invalid.$metadata.httpStatusCode]).toEqual(["InvalidTargetException", "InvalidTarget", 400])
    const missing = await sdkError(elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [webGroupArn.replace("web", "gone")] })))
    expect(missing.name).toBe("TargetGroupNotFoundException")
    const codes = []
    for (const t of [100, 200, 300]) {
      clock = t
      const e = await sdkError(elb.send(new DescribeTargetGroupsCommand({})))
      codes.push([e.name, e.$metadata.httpStatusCode, typeof e.$metadata.requestId])
    }
    expect(codes).toEqual([["Throttling", 400, "string"], ["AccessDenied", 403, "string"], ["ServiceUnavailable", 503, "string"]])
  })

  it("ECS: DescribeTasks and DescribeServices parse; MISSING failures; AccessDeniedException and ThrottlingException", async () => {
    const scenario = loadScenario("bridge")
    const { ecs } = await start(decodeScenario({
      ...scenario,
      faults: [
        { api: "ecs", action: "DescribeServices", from: 100, until: 200, kind: "access-denied" },
        { api: "ecs", action: "DescribeServices", from: 200, until: 300, kind: "throttle" }
      ]
    }))
    const tasks = await ecs.send(new DescribeTasksCommand({ cluster: "default", tasks: ["arn:aws:ecs:us-east-1:111122223333:task/default/febee046097849aba589d4435207c04a", "nope"] }))
    expect(tasks.tasks?.[0]).toMatchObject({ group: "service:web", containerInstanceArn: expect.stringContaining("container-instance/") })
    expect(tasks.tasks?.[0]?.containers?.[0]?.networkBindings?.[0]).toMatchObject({ containerPort: 8080, hostPort: 32768, protocol: "tcp" })
    expect(tasks.failures).toEqual([{ arn: "nope", reason: "MISSING" }])
    const services = await ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] }))
    expect(services.services?.[0]?.loadBalancers).toEqual([{ targetGroupArn: webGroupArn, containerName: "app", containerPort: 8080 }])
    clock = 100
    const denied = await sdkError(ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] })))
    expect([denied.name, denied.$metadata.httpStatusCode]).toEqual(["AccessDeniedException", 400])
    clock = 200
    expect((await sdkError(ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] })))).name).toBe("ThrottlingException")
  })

  it("records every request with its time, action and parameters", async () => {
    const { elb } = await start(loadScenario("awsvpc"))
    clock = 1234
    await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] }))
    expect(sim?.requests()).toEqual([
      expect.objectContaining({ t: 1234, api: "elbv2", action: "DescribeTargetHealth", status: 200, params: expect.objectContaining({ "Targets.member.1.Id": "10.0.1.23" }) })
    ])
  })

  it("rejects a bad scenario, naming the field", () => {
    const scenario = loadScenario("awsvpc")
    expect(() => decodeScenario({ ...scenario, accountId: "12" })).toThrow(/accountId/)
    expect(() => decodeScenario({ ...scenario, task: { ...scenario.task, networkMode: "nat" } })).toThrow(/networkMode/)
  })
})
