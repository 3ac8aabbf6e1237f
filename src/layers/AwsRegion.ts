// The region the AWS clients talk to: AWS_REGION / AWS_DEFAULT_REGION, else
// the region in the task's own ARN (the ECS agent does not set AWS_REGION on EC2).
import { Context, Effect, Layer } from "effect"
import { regionFromArn } from "../aws/callAws.ts"
import { UnsupportedTask } from "../errors.ts"
import { Config } from "./Config.ts"
import { Metadata } from "./Metadata.ts"

export class AwsRegion extends Context.Service<AwsRegion, { readonly region: string }>()("nlb-sidecar/AwsRegion") {
  static readonly layer = Layer.effect(
    AwsRegion,
    Effect.gen(function*() {
      const settings = yield* Config
      if (settings.region !== undefined) return { region: settings.region }
      const task = yield* (yield* Metadata).task
      const region = regionFromArn(task.TaskARN)
      if (region === undefined) {
        return yield* new UnsupportedTask({
          problem: `cannot tell the AWS region from the task ARN ${JSON.stringify(task.TaskARN)}`,
          fix: "Set AWS_REGION in the sidecar's environment."
        })
      }
      return { region }
    })
  )
}
