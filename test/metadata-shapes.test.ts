// The four task shapes AWS documents for task metadata v4, decoded and run
// through discovery: Fargate, EC2 awsvpc (pause container first), EC2 bridge
// (each mapping twice, dynamic host port), EC2 host.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { readFileSync } from "node:fs"
import { decodeTaskMetadata } from "../src/layers/Metadata.ts"
import { discoverTargets } from "../src/programs/discoverTargets.ts"
import { instanceGroup, ipGroup, testLayer, tgArn } from "./support/mocks.ts"

const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`fixtures/metadata/${name}-task.json`, import.meta.url), "utf8"))
const web = tgArn("web")

const cases = [
  { name: "fargate", container: "curl", port: 80, group: ipGroup(web), mode: "awsvpc", target: ["192.0.2.3", 80] },
  { name: "ec2-awsvpc", container: "curl", port: 80, group: ipGroup(web), mode: "awsvpc", target: ["10.0.2.61", 80] },
  {
    name: "ec2-bridge",
    container: "nginx",
    port: 80,
    group: instanceGroup(web),
    mode: "bridge",
    target: ["i-0abcdef1234567890", 32768]
  },
  {
    name: "ec2-host",
    container: "nginx",
    port: 80,
    group: instanceGroup(web),
    mode: "host",
    target: ["i-0abcdef1234567890", 80]
  }
] as const

describe("task metadata v4: the documented shapes", () => {
  it.effect.each(cases)("$name decodes and discovery finds the right target", (c) =>
    Effect.gen(function*() {
      const task = yield* decodeTaskMetadata("fixture", fixture(c.name))
      assert.isTrue(task.Containers.some((x) => x.Name === c.container))
      const { layer } = testLayer({
        task,
        ecs: {
          task: {
            group: "service:web",
            containerInstanceArn: "arn:aws:ecs:us-west-2:111122223333:container-instance/default/1a2b",
            containers: []
          },
          loadBalancers: [{
            targetGroupArn: web,
            loadBalancerName: undefined,
            containerName: c.container,
            containerPort: c.port
          }],
          ec2InstanceId: "i-0abcdef1234567890"
        },
        elb: { timelines: {}, groups: [c.group] }
      })
      const exit = yield* Effect.exit(discoverTargets.pipe(Effect.provide(layer)))
      if (Exit.isFailure(exit)) return assert.fail(String(exit.cause))
      assert.strictEqual(exit.value.networkMode, c.mode)
      assert.deepStrictEqual(exit.value.targets.map((t) => [t.id, t.port]), [[...c.target]])
    }))

  it.effect("the Fargate body has no Ports and a cluster ARN; the bridge body lists each mapping for 0.0.0.0 and ::", () =>
    Effect.gen(function*() {
      const fargate = yield* decodeTaskMetadata("fixture", fixture("fargate"))
      assert.isTrue(fargate.Cluster.startsWith("arn:aws:ecs:"))
      assert.isUndefined(fargate.Containers[0]?.Ports)
      const bridge = yield* decodeTaskMetadata("fixture", fixture("ec2-bridge"))
      assert.deepStrictEqual(bridge.Containers[0]?.Ports?.map((p) => p.HostIp), ["0.0.0.0", "::"])
      const awsvpc = yield* decodeTaskMetadata("fixture", fixture("ec2-awsvpc"))
      assert.strictEqual(awsvpc.Containers[0]?.Type, "CNI_PAUSE")
    }))
})
