// The examples: the committed CloudFormation is what they synthesise, cdk-nag finds nothing on the
// sidecar's resources in them, and without an image the sidecar is built from this repository.
import { App } from "aws-cdk-lib"
import { Template } from "aws-cdk-lib/assertions"
import cdkNag from "cdk-nag"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { exampleStacks } from "../examples/stacks.ts"
import { releasedImage, templateFile, templateText } from "../examples/synth.ts"

const stacks = exampleStacks(new App(), releasedImage)

describe.each(stacks.map((s) => [s.stackName, s] as const))("example %s", (name, stack) => {
  it("synthesises the committed template (npm run examples writes it)", () => {
    expect(templateText(Template.fromStack(stack).toJSON())).toBe(readFileSync(templateFile(name), "utf8"))
  })

  it("cdk-nag AwsSolutions finds nothing on the sidecar's resources", () => {
    const report = new cdkNag.AwsSolutionsChecks().validateScope(stack)
    const onSidecar = report.violations.flatMap((v) =>
      v.violatingResources.filter((r) => (r.constructPath ?? "").includes("/Sidecar/")).map((r) =>
        `${v.ruleName} ${r.constructPath}`
      )
    )
    expect(report.violations.length).toBeGreaterThan(0) // the pack ran: the examples' own VPC and load balancer have findings
    expect(onSidecar).toEqual([])
  })
})

describe("the default image", () => {
  const outdir = mkdtempSync(join(tmpdir(), "nlb-sidecar-cdk-"))
  afterAll(() => rmSync(outdir, { recursive: true, force: true }))

  it("is this repository's Dockerfile, built for the task's architecture, without the CDK package", () => {
    const app = new App({ outdir })
    const [alb] = exampleStacks(app, undefined)
    const assembly = app.synth()
    const artifact = assembly.getStackByName(alb!.stackName)
    const manifest = JSON.parse(
      readFileSync(join(outdir, `${artifact.stackName}.assets.json`), "utf8")
    ) as { dockerImages: Record<string, { source: { directory: string; platform?: string } }> }
    const images = Object.values(manifest.dockerImages)
    expect(images.length).toBe(1)
    const staged = join(outdir, images[0]!.source.directory)
    expect(images[0]!.source.platform).toBe("linux/amd64")
    expect(existsSync(join(staged, "Dockerfile"))).toBe(true)
    expect(existsSync(join(staged, "src", "main.ts"))).toBe(true)
    expect(existsSync(join(staged, "cdk"))).toBe(false)
    expect(existsSync(join(staged, "node_modules"))).toBe(false)
  })
})
