// The server itself: the request log, the control endpoints, request ids,
// protocol errors, slow and dropped answers, loopback only.
import { DescribeServicesCommand } from "@aws-sdk/client-ecs"
import { DescribeTargetHealthCommand } from "@aws-sdk/client-elastic-load-balancing-v2"
import { describe, expect, it } from "vitest"
import { loadScenario, webGroupArn } from "../../simulator/scenarios.ts"
import { startSimulator } from "../../simulator/server.ts"
import { harness, withFaults } from "./helpers.ts"

const post = async (url: string, body: string, headers: Record<string, string>) => {
  const response = await fetch(url, { method: "POST", body, headers })
  return { status: response.status, headers: response.headers, body: await response.text() }
}
const form = { "content-type": "application/x-www-form-urlencoded; charset=utf-8" }
const json11 = (op: string) => ({
  "content-type": "application/x-amz-json-1.1",
  "x-amz-target": `AmazonEC2ContainerServiceV20141113.${op}`
})

describe("the request log", () => {
  it("records every request: time on the simulator clock, API, action, decoded params, status, error code", async () => {
    const h = await harness(
      withFaults(loadScenario("awsvpc"), [{
        api: "ecs",
        action: "DescribeServices",
        from: 0,
        until: 100,
        kind: "access-denied"
      }])
    )
    await fetch(`${h.sim.metadataUri}/task`)
    await h.ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] })).catch(() => undefined)
    h.at(1234.5)
    await h.elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] })
    )
    expect(h.sim.requests()).toEqual([
      { t: 0, api: "metadata", action: "task", params: {}, status: 200 },
      {
        t: 0,
        api: "ecs",
        action: "DescribeServices",
        params: { cluster: "default", services: ["web"] },
        status: 400,
        errorCode: "AccessDeniedException"
      },
      {
        t: 1234.5,
        api: "elbv2",
        action: "DescribeTargetHealth",
        params: {
          Action: "DescribeTargetHealth",
          Version: "2015-12-01",
          TargetGroupArn: webGroupArn,
          "Targets.member.1.Id": "10.0.1.23",
          "Targets.member.1.Port": "8080"
        },
        status: 200
      }
    ])
    // The same log over HTTP, and the loaded scenario.
    expect(await (await fetch(`${h.sim.endpoint}/_simulator/requests`)).json()).toEqual(h.sim.requests())
    expect(await (await fetch(`${h.sim.endpoint}/_simulator/scenario`)).json()).toEqual(h.sim.scenario)
    expect(h.sim.requests()).toHaveLength(3)
  })

  it("keeps arrival order when an earlier answer is slower", async () => {
    const h = await harness(
      withFaults(loadScenario("awsvpc"), [{ api: "elbv2", from: 0, until: 1, kind: "slow", delayMs: 600 }])
    )
    const poll = () =>
      h.elb.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] })
      )
    const slow = poll()
    // Once the first request has arrived (a sleep of 250 ms was not always enough under load).
    await h.arrived(1)
    h.at(5)
    await poll()
    expect(h.sim.requests().map((r) => r.t)).toEqual([5])
    await slow
    expect(h.sim.requests().map((r) => r.t)).toEqual([0, 5])
  })
})

describe("wire details", () => {
  it("ELBv2: x-amzn-RequestId on every answer, the same id as the body's RequestId, XML in the 2015-12-01 namespace", async () => {
    const h = await harness(
      withFaults(loadScenario("awsvpc"), [{ api: "elbv2", from: 100, until: 200, kind: "throttle" }])
    )
    const body = `Action=DescribeTargetHealth&Version=2015-12-01&TargetGroupArn=${encodeURIComponent(webGroupArn)}`
    for (const t of [0, 100]) {
      h.at(t)
      const answer = await post(h.sim.endpoint, body, form)
      expect(answer.headers.get("content-type")).toBe("text/xml")
      expect(answer.body).toContain("xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"")
      expect(answer.body).toContain(`<RequestId>${answer.headers.get("x-amzn-requestid")}</RequestId>`)
    }
    h.at(100)
    expect((await post(h.sim.endpoint, body, form)).body).toMatch(
      /^<ErrorResponse xmlns="http:\/\/elasticloadbalancing.amazonaws.com\/doc\/2015-12-01\/"><Error><Type>Sender<\/Type><Code>Throttling<\/Code><Message>Rate exceeded<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/
    )
  })

  it("ELBv2: an unknown action or version is InvalidAction", async () => {
    const { sim } = await harness(loadScenario("awsvpc"))
    for (
      const body of ["Action=DeleteLoadBalancer&Version=2015-12-01", "Action=DescribeTargetHealth&Version=2012-06-01"]
    ) {
      const answer = await post(sim.endpoint, body, form)
      expect([answer.status, answer.body.match(/<Code>(\w+)<\/Code>/)?.[1]]).toEqual([400, "InvalidAction"])
    }
  })

  it("ECS: x-amzn-RequestId always, x-amzn-ErrorType and {__type, message} on errors; unknown operations and bad JSON", async () => {
    const { sim } = await harness(loadScenario("awsvpc"))
    const ok = await post(
      sim.endpoint,
      JSON.stringify({ cluster: "default", services: ["web"] }),
      json11("DescribeServices")
    )
    expect([ok.status, ok.headers.get("content-type"), ok.headers.get("x-amzn-errortype")]).toEqual([
      200,
      "application/x-amz-json-1.1",
      null
    ])
    expect(ok.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/)
    const wrongCluster = await post(
      sim.endpoint,
      JSON.stringify({ cluster: "other", services: ["web"] }),
      json11("DescribeServices")
    )
    expect([wrongCluster.status, wrongCluster.headers.get("x-amzn-errortype"), JSON.parse(wrongCluster.body)]).toEqual([
      400,
      "ClusterNotFoundException",
      { __type: "ClusterNotFoundException", message: "Cluster not found." }
    ])
    expect(wrongCluster.headers.get("x-amzn-requestid")).toMatch(/^[0-9a-f-]{36}$/)
    const unknown = await post(sim.endpoint, "{}", json11("DeleteCluster"))
    expect([unknown.status, unknown.headers.get("x-amzn-errortype")]).toEqual([400, "UnknownOperationException"])
    const garbled = await post(sim.endpoint, "{", json11("DescribeTasks"))
    expect([garbled.status, garbled.headers.get("x-amzn-errortype")]).toEqual([400, "SerializationException"])
  })

  it("anything else: 404, recorded as `other`", async () => {
    const { sim } = await harness(loadScenario("awsvpc"))
    expect((await fetch(`${sim.endpoint}/latest/meta-data/instance-id`)).status).toBe(404)
    expect(sim.requests()).toEqual([{
      t: 0,
      api: "other",
      action: "GET /latest/meta-data/instance-id",
      params: {},
      status: 404
    }])
  })
})

describe("slow and dropped answers", () => {
  it("slow delays the answer by delayMs, and combines with a failure in the same window", async () => {
    const h = await harness(withFaults(loadScenario("awsvpc"), [
      // Long enough that a busy machine's own delay (78 ms seen at a load of 5) never passes for it.
      { api: "elbv2", from: 0, until: 100, kind: "slow", delayMs: 500 },
      { api: "elbv2", action: "DescribeTargetHealth", from: 50, until: 100, kind: "throttle" }
    ]))
    const poll = () =>
      h.elb.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] })
      )
    let started = performance.now()
    await poll()
    expect(performance.now() - started).toBeGreaterThanOrEqual(490)
    h.at(50)
    started = performance.now()
    await expect(poll()).rejects.toMatchObject({ name: "Throttling" })
    expect(performance.now() - started).toBeGreaterThanOrEqual(490)
    h.at(100)
    started = performance.now()
    await poll()
    expect(performance.now() - started).toBeLessThan(490)
  })

  it("not-ready on an API resets the connection: a network error for the SDK, status 0 in the log", async () => {
    const h = await harness(
      withFaults(loadScenario("awsvpc"), [{ api: "ecs", from: 0, until: 100, kind: "not-ready" }])
    )
    const error = await h.ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] })).catch((
      e: unknown
    ) => e as Error & { $metadata?: unknown })
    expect(error).toBeInstanceOf(Error)
    expect(String((error as { code?: string }).code ?? error)).toMatch(/ECONNRESET|socket hang up/)
    expect(h.sim.requests()).toEqual([
      expect.objectContaining({ api: "ecs", action: "DescribeServices", status: 0, errorCode: "ECONNRESET" })
    ])
  })
})

describe("the listener", () => {
  it("listens on 127.0.0.1 only, on a free port by default or the one asked for; close() stops it", async () => {
    const first = await startSimulator({ scenario: loadScenario("awsvpc") })
    expect(first.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(first.metadataUri).toMatch(new RegExp(`^${first.endpoint}/v4/[0-9a-f-]{36}$`))
    expect(first.region).toBe("us-east-1")
    const port = Number(new URL(first.endpoint).port)
    await first.close()
    const second = await startSimulator({ scenario: loadScenario("awsvpc"), port })
    expect(second.endpoint).toBe(`http://127.0.0.1:${port}`)
    expect((await fetch(`${second.metadataUri}/task`)).status).toBe(200)
    await second.close()
    await expect(fetch(`${second.metadataUri}/task`)).rejects.toThrow()
  })
})
