// The examples as a CDK app (Node 26 runs the TypeScript as it is):
//   npx aws-cdk@2 deploy --app "node examples/app.ts" --all                     (the sidecar built from this repository)
//   npx aws-cdk@2 deploy --app "node examples/app.ts" --all -c sidecarImage=ghcr.io/OWNER/nlb-sidecar-for-ecs:0.1.0
import { App } from "aws-cdk-lib"
import { exampleStacks } from "./stacks.ts"

const app = new App()
const image: unknown = app.node.tryGetContext("sidecarImage")
exampleStacks(app, typeof image === "string" ? image : undefined)
app.synth()
