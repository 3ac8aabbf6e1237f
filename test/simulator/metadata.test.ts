// Task metadata v4 bodies, per network mode, against the shapes AWS documents
// (test/fixtures/metadata): same fields, casing and value types, the pause
// container first on EC2 awsvpc, each bridge mapping for 0.0.0.0 and ::.
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import type { Scenario } from "../../simulator/scenario.ts"
import { loadScenario } from "../../simulator/scenarios.ts"
import { harness, withFaults } from "./helpers.ts"

interface Port {
  ContainerPort: number
  Protocol: string
  HostPort?: number
  HostIp?: string
}
interface Network {
  NetworkMode: string
  IPv4Addresses?: Array<string>
}
interface ContainerBody {
  Name: string
  DockerId: string
  Type: string
  KnownStatus: string
  Ports?: Array<Port>
  Networks: Array<Network>
  Labels: Record<string, string>
}
interface TaskBody {
  Cluster: string
  TaskARN: string
  ServiceName?: string
  VPCID?: string
  LaunchType?: string
  Containers: Array<ContainerBody>
}

const fixture = (name: string): TaskBody =>
  JSON.parse(readFileSync(new URL(`../fixtures/metadata/${name}-task.json`, import.meta.url), "utf8")) as TaskBody

// Every key path with the type of its value; label and log option values are free-form.
const shape = (value: unknown, path = ""): Array<string> => {
  if (Array.isArray(value)) return value.flatMap((v) => shape(v, `${path}[]`))
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) =>
      path.endsWith("Labels") || path.endsWith("LogOptions")
        ? [`${path}.*`]
        : [`${path}.${k}`, ...shape(v, `${path}.${k}`)]
    )
  }
  return [`${path}: ${typeof value}`]
}

const difference = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
  [...new Set(a)].filter((x) => !b.includes(x)).sort()

const get = async (url: string) => {
  const response = await fetch(url)
  return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
}

const served = async (scenario: Scenario) => {
  const { sim } = await harness(scenario)
  const task = JSON.parse((await get(`${sim.metadataUri}/task`)).body) as TaskBody
  const container = JSON.parse((await get(sim.metadataUri)).body) as ContainerBody
  return { sim, task, container }
}

describe("the documented fixtures", () => {
  it("Fargate: cluster ARN, no Ports, no pause container", () => {
    const f = fixture("fargate")
    expect(f.Cluster).toMatch(/^arn:aws:ecs:/)
    expect(f.LaunchType).toBe("FARGATE")
    expect(f.Containers.every((c) => c.Ports === undefined && c.Type === "NORMAL")).toBe(true)
  })

  it("EC2 awsvpc: the ~internal~ecs~pause container (CNI_PAUSE) first, sharing the task ENI", () => {
    const f = fixture("ec2-awsvpc")
    expect(f.Containers.map((c) => [c.Name, c.Type])).toEqual([["~internal~ecs~pause", "CNI_PAUSE"], [
      "curl",
      "NORMAL"
    ]])
    expect(new Set(f.Containers.map((c) => c.Networks[0]?.IPv4Addresses?.[0]))).toEqual(new Set(["10.0.2.61"]))
  })

  it("EC2 bridge: each mapping for 0.0.0.0 and ::, on the dynamic host port", () => {
    expect(fixture("ec2-bridge").Containers[0]?.Ports).toEqual([
      { ContainerPort: 80, Protocol: "tcp", HostPort: 32768, HostIp: "0.0.0.0" },
      { ContainerPort: 80, Protocol: "tcp", HostPort: 32768, HostIp: "::" }
    ])
  })

  it("EC2 host: NetworkMode host, HostPort is the container port", () => {
    const [c] = fixture("ec2-host").Containers
    expect(c?.Networks.map((n) => n.NetworkMode)).toEqual(["host"])
    expect(c?.Ports).toEqual([{ ContainerPort: 80, Protocol: "tcp", HostPort: 80 }])
  })
})

describe("generated bodies have the documented shape", () => {
  const cases = [
    {
      scenario: "fargate",
      fixture: "fargate",
      // IPv6 fields come with dual-stack subnets only; older Fargate platforms put ClockDrift in each container.
      onlyInFixture: [
        ".Containers[].ClockDrift",
        ".Containers[].ClockDrift.ClockErrorBound",
        ".Containers[].ClockDrift.ClockErrorBound: number",
        ".Containers[].ClockDrift.ClockSynchronizationStatus",
        ".Containers[].ClockDrift.ClockSynchronizationStatus: string",
        ".Containers[].ClockDrift.ReferenceTimestamp",
        ".Containers[].ClockDrift.ReferenceTimestamp: string",
        ".Containers[].Networks[].IPv6Addresses",
        ".Containers[].Networks[].IPv6Addresses[]: string",
        ".Containers[].Networks[].IPv6SubnetCIDRBlock",
        ".Containers[].Networks[].IPv6SubnetCIDRBlock: string"
      ],
      // As in AWS's current Fargate example: task-level ClockDrift, EphemeralStorageMetrics, Snapshotter.
      onlyGenerated: [
        ".ClockDrift",
        ".ClockDrift.ClockErrorBound",
        ".ClockDrift.ClockErrorBound: number",
        ".ClockDrift.ClockSynchronizationStatus",
        ".ClockDrift.ClockSynchronizationStatus: string",
        ".ClockDrift.ReferenceTimestamp",
        ".ClockDrift.ReferenceTimestamp: string",
        ".Containers[].Snapshotter",
        ".Containers[].Snapshotter: string",
        ".EphemeralStorageMetrics",
        ".EphemeralStorageMetrics.Reserved",
        ".EphemeralStorageMetrics.Reserved: number",
        ".EphemeralStorageMetrics.Utilized",
        ".EphemeralStorageMetrics.Utilized: number"
      ]
    },
    // Current agents serialize FaultInjectionEnabled without omitempty.
    {
      scenario: "awsvpc",
      fixture: "ec2-awsvpc",
      onlyInFixture: [],
      onlyGenerated: [".FaultInjectionEnabled", ".FaultInjectionEnabled: boolean"]
    },
    {
      scenario: "bridge",
      fixture: "ec2-bridge",
      onlyInFixture: [],
      onlyGenerated: [".FaultInjectionEnabled", ".FaultInjectionEnabled: boolean"]
    },
    {
      scenario: "host",
      fixture: "ec2-host",
      onlyInFixture: [],
      onlyGenerated: [".FaultInjectionEnabled", ".FaultInjectionEnabled: boolean"]
    }
  ]

  it.each(cases)("$scenario ~ $fixture-task.json", async (c) => {
    const { task } = await served(loadScenario(c.scenario))
    const generated = shape(task)
    const documented = shape(fixture(c.fixture))
    expect(difference(documented, generated)).toEqual(c.onlyInFixture)
    expect(difference(generated, documented)).toEqual(c.onlyGenerated)
  })
})

describe("generated bodies carry the scenario", () => {
  it("EC2 awsvpc: pause container first, every container on the task ENI, no Ports, ServiceName and VPCID", async () => {
    const { task, container } = await served(loadScenario("awsvpc"))
    expect(task).toMatchObject({
      Cluster: "default",
      TaskARN: "arn:aws:ecs:us-east-1:111122223333:task/default/febee046097849aba589d4435207c04a",
      ServiceName: "web",
      LaunchType: "EC2"
    })
    expect(task.VPCID).toMatch(/^vpc-/)
    expect(task.Containers.map((c) => [c.Name, c.Type, c.KnownStatus])).toEqual([
      ["~internal~ecs~pause", "CNI_PAUSE", "RESOURCES_PROVISIONED"],
      ["app", "NORMAL", "RUNNING"],
      ["nlb-sidecar", "NORMAL", "RUNNING"]
    ])
    expect(task.Containers.map((c) => c.Networks[0])).toEqual(
      Array(3).fill(
        expect.objectContaining({
          NetworkMode: "awsvpc",
          IPv4Addresses: ["10.0.1.23"],
          PrivateDNSName: "ip-10-0-1-23.ec2.internal"
        })
      )
    )
    expect(task.Containers.some((c) => c.Ports !== undefined)).toBe(false)
    // The container endpoint is the sidecar's own container.
    expect(container).toEqual(task.Containers[2])
  })

  it("EC2 bridge: each mapping twice (0.0.0.0, ::) with the host port; bridge addresses", async () => {
    const { task } = await served(loadScenario("bridge"))
    const app = task.Containers.find((c) => c.Name === "app")
    expect(app?.Ports).toEqual([
      { ContainerPort: 8080, Protocol: "tcp", HostPort: 32768, HostIp: "0.0.0.0" },
      { ContainerPort: 8080, Protocol: "tcp", HostPort: 32768, HostIp: "::" }
    ])
    expect(task.Containers.map((c) => c.Networks)).toEqual([
      [{ NetworkMode: "bridge", IPv4Addresses: ["172.17.0.2"] }],
      [{ NetworkMode: "bridge", IPv4Addresses: ["172.17.0.3"] }]
    ])
    expect(task.Containers.some((c) => c.Name === "~internal~ecs~pause")).toBe(false)
  })

  it("EC2 host: HostPort is the container port; the host network has no address of its own", async () => {
    const { task } = await served(loadScenario("host"))
    const app = task.Containers.find((c) => c.Name === "app")
    expect(app?.Ports).toEqual([{ ContainerPort: 8080, Protocol: "tcp", HostPort: 8080 }])
    expect(app?.Networks).toEqual([{ NetworkMode: "host", IPv4Addresses: [""] }])
  })

  it("an agent before 1.41.1: no ServiceName, VPCID or LaunchType; the task definition's mappings, without HostPort", async () => {
    const { task, container } = await served(loadScenario("old-agent-bridge"))
    expect([task.ServiceName, task.VPCID, task.LaunchType]).toEqual([undefined, undefined, undefined])
    expect(task.Containers.find((c) => c.Name === "app")?.Ports).toEqual([{ ContainerPort: 8080, Protocol: "tcp" }])
    expect(Object.keys(container)).not.toContain("ContainerARN")
  })

  it("Fargate: cluster ARN everywhere, no ServiceName, Docker ids `<task id>-<digits>`, the endpoint id is the sidecar's Docker id", async () => {
    const { sim, task, container } = await served(loadScenario("fargate"))
    expect(task.Cluster).toBe("arn:aws:ecs:us-east-1:111122223333:cluster/production")
    expect(task.TaskARN).toBe("arn:aws:ecs:us-east-1:111122223333:task/production/febee046097849aba589d4435207c04a")
    expect(
      task.Containers.every((c) => c.Labels["com.amazonaws.ecs.cluster"] === task.Cluster && c.Ports === undefined)
    ).toBe(true)
    expect(task.ServiceName).toBeUndefined()
    expect(task.Containers.map((c) => c.DockerId)).toEqual(
      Array(2).fill(expect.stringMatching(/^febee046097849aba589d4435207c04a-\d{10}$/))
    )
    expect(sim.metadataUri).toBe(`${sim.endpoint}/v4/${container.DockerId}`)
  })

  it("an EC2 task not in a service has no ServiceName", async () => {
    const { task } = await served(loadScenario("not-in-service"))
    expect(task.ServiceName).toBeUndefined()
    expect(task.VPCID).toMatch(/^vpc-/)
  })
})

describe("metadata answers that are not 200", () => {
  it("an endpoint id the agent does not know: 404 with the agent's JSON string", async () => {
    const { sim } = await harness(loadScenario("awsvpc"))
    const answer = await get(`${sim.endpoint}/v4/00000000-0000-4000-8000-000000000000/task`)
    expect(answer).toEqual({
      status: 404,
      contentType: "application/json",
      body: JSON.stringify(
        "V4 task metadata handler: unable to get task arn from request: unable to get task Arn from v3 endpoint ID: 00000000-0000-4000-8000-000000000000"
      )
    })
  })

  it("faults: 429 from the agent's rate limiter, 500, 404, and a reset connection while not ready", async () => {
    const h = await harness(withFaults(loadScenario("awsvpc"), [
      { api: "metadata", from: 0, until: 100, kind: "not-ready" },
      { api: "metadata", from: 100, until: 200, kind: "throttle" },
      { api: "metadata", action: "task", from: 200, until: 300, kind: "server-error" },
      { api: "metadata", from: 300, until: 400, kind: "not-found" }
    ]))
    const url = `${h.sim.metadataUri}/task`
    await expect(get(url)).rejects.toThrow()
    h.at(100)
    expect(await get(url)).toEqual({
      status: 429,
      contentType: "text/plain; charset=utf-8",
      body: "You have reached maximum request limit."
    })
    h.at(200)
    expect(await get(url)).toEqual({
      status: 500,
      contentType: "application/json",
      body: JSON.stringify(
        "Unable to generate metadata for v4 task: 'arn:aws:ecs:us-east-1:111122223333:task/default/febee046097849aba589d4435207c04a'"
      )
    })
    // The fault names `task`: the container endpoint still answers.
    expect((await get(h.sim.metadataUri)).status).toBe(200)
    h.at(300)
    expect((await get(url)).status).toBe(404)
    h.at(400)
    expect((await get(url)).status).toBe(200)
    expect(h.sim.requests().map((r) => [r.t, r.action, r.status, r.errorCode])).toEqual([
      [0, "task", 0, "ECONNRESET"],
      [100, "task", 429, undefined],
      [200, "task", 500, undefined],
      [200, "container", 200, undefined],
      [300, "task", 404, undefined],
      [400, "task", 200, undefined]
    ])
  })
})
