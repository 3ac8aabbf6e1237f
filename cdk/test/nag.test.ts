// cdk-nag's AwsSolutions pack on the sidecar's resources: nothing, but for the one wildcard IAM
// requires, acknowledged with its reason.
import { Validations } from "aws-cdk-lib"
import cdkNag from "cdk-nag"
import { describe, expect, it } from "vitest"
import { sidecarStatements, type TaskKind, withSidecar } from "./stacks.ts"

const findings = (kind: TaskKind) => {
  const setup = withSidecar(kind, (s) => ({ service: s.service }))
  const report = new cdkNag.AwsSolutionsChecks().validateScope(setup.stack)
  return {
    setup,
    byPath: report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`))
  }
}

describe.each<TaskKind>(["fargate", "ec2-awsvpc", "bridge", "host"])("cdk-nag AwsSolutions, %s task", (kind) => {
  const { byPath, setup } = findings(kind)

  it("finds nothing on the sidecar's own resources (its policy, its log group)", () => {
    expect(byPath.filter((f) => f.includes(" Test/Sidecar/"))).toEqual([])
  })

  it("on the task definition, only ECS2: the sidecar's settings are environment variables (none is a secret)", () => {
    expect(byPath.filter((f) => f.includes(" Test/Task/"))).toEqual(["AwsSolutions-ECS2 Test/Task/Resource"])
  })

  it("the policy's wildcard resource is there, acknowledged with the reason IAM allows no narrower one", () => {
    const statements = sidecarStatements(setup.synth())
    expect(statements.some((s) => s.Resource === "*")).toBe(true)
    const acknowledged = setup.stack.node.findAll().flatMap((c) =>
      c.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => m.data)
    )
    expect(JSON.stringify(acknowledged)).toMatch(/AwsSolutions-IAM5\[Resource::\*\].*no resource-level permissions/)
  })
})
