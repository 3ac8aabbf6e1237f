// The default image: this repository's Dockerfile, built by `cdk deploy` for the task's CPU
// architecture (the release's multi-arch image in a registry is the other way, `image`).
import { IgnoreMode } from "aws-cdk-lib"
import { Platform } from "aws-cdk-lib/aws-ecr-assets"
import * as ecs from "aws-cdk-lib/aws-ecs"
import { fileURLToPath } from "node:url"

/** The repository root, where the sidecar's Dockerfile is. */
export const repositoryRoot = fileURLToPath(new URL("../..", import.meta.url))

export const imageFromRepository = (taskDefinition: ecs.TaskDefinition): ecs.ContainerImage =>
  ecs.ContainerImage.fromAsset(repositoryRoot, {
    file: "Dockerfile",
    ignoreMode: IgnoreMode.DOCKER,
    // .dockerignore leaves out what the image does not need; this package is not in the image either.
    exclude: ["cdk"],
    platform: taskDefinition.runtimePlatform?.cpuArchitecture === ecs.CpuArchitecture.ARM64
      ? Platform.LINUX_ARM64
      : Platform.LINUX_AMD64
  })
