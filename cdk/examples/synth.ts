// `npm run examples`: writes the CloudFormation the examples synthesise to examples/cloudformation/,
// with the released image's name, so that the templates stay the same when the sidecar's code changes.
import { App } from "aws-cdk-lib"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { exampleStacks } from "./stacks.ts"

export const templatesDir = fileURLToPath(new URL("cloudformation/", import.meta.url))
export const releasedImage = "ghcr.io/OWNER/nlb-sidecar-for-ecs:0.1.0"
export const templateFile = (stackName: string) => join(templatesDir, `${stackName}.template.json`)
/** The template as the file holds it. */
export const templateText = (template: unknown) => `${JSON.stringify(template, null, 2)}\n`

if (import.meta.main) {
  const outdir = mkdtempSync(join(tmpdir(), "nlb-sidecar-cdk-"))
  try {
    const app = new App({ outdir })
    const stacks = exampleStacks(app, releasedImage)
    const assembly = app.synth()
    mkdirSync(templatesDir, { recursive: true })
    for (const stack of stacks) {
      writeFileSync(templateFile(stack.stackName), templateText(assembly.getStackByName(stack.stackName).template))
      console.log(`wrote ${templateFile(stack.stackName)}`)
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}
