// The package's JavaScript (lib/, `npm run build`): what a CDK app loads from node_modules, where
// Node strips no types, synthesises what the TypeScript source does.
import { Template } from "aws-cdk-lib/assertions"
import { describe, expect, it } from "vitest"
import { image, taskStack } from "./stacks.ts"

type Package = typeof import("../src/index.ts")
const built = (await import(new URL("../lib/index.js", import.meta.url).href)) as Package
const source = (await import("../src/index.ts")) as Package

describe("the built package", () => {
  it("adds the same container and policy as the source", () => {
    const templates = [built, source].map(({ NlbSidecar }) => {
      const setup = taskStack("bridge")
      new NlbSidecar(setup.stack, "Sidecar", { taskDefinition: setup.taskDefinition, service: setup.service, image })
      return Template.fromStack(setup.stack).toJSON()
    })
    expect(built.NlbSidecar).not.toBe(source.NlbSidecar)
    expect(templates[0]).toEqual(templates[1])
    expect(JSON.stringify(templates[0])).toContain("ecs:DescribeContainerInstances")
  })
})
