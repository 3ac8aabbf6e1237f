// The default image: this repository's Dockerfile, built by `cdk deploy` for the task's CPU
// architecture (the release's multi-arch image in a registry is the other way, `image`).
import { IgnoreMode } from "aws-cdk-lib"
import { Platform } from "aws-cdk-lib/aws-ecr-assets"
import * as ecs from "aws-cdk-lib/aws-ecs"
import { existsSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root, where the sidecar's Dockerfile is. */
export const repositoryRoot = fileURLToPath(new URL("../..", import.meta.url))

export const imageFromRepository = (taskDefinition: ecs.TaskDefinition): ecs.ContainerImage => {
  if (!existsSync(join(repositoryRoot, "Dockerfile"))) {
    throw new Error(
      `image: no Dockerfile of the sidecar at ${repositoryRoot} (the construct is installed, not in a checkout): set image, for example ecs.ContainerImage.fromRegistry("ghcr.io/OWNER/nlb-sidecar-for-ecs:0.1.0")`
    )
  }
  return ecs.ContainerImage.fromAsset(repositoryRoot, {
    file: "Dockerfile",
    ignoreMode: IgnoreMode.DOCKER,
    // .dockerignore leaves out what the image does not need; this package is not in the image either.
    exclude: ["cdk"],
    platform: taskDefinition.runtimePlatform?.cpuArchitecture === ecs.CpuArchitecture.ARM64
      ? Platform.LINUX_ARM64
      : Platform.LINUX_AMD64
  })
}
