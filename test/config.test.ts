import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { ConfigInvalid, exitCodeOf } from "../src/errors.ts"
import { defaultHeartbeatFile } from "../src/heartbeat.ts"
import { readSettings, type Settings } from "../src/layers/Config.ts"

const load = (env: Record<string, string>) => readSettings(env)

/** The defaults the README documents. */
const defaults: Settings = {
  deregistrationWaitSeconds: 120,
  drainStrategy: "auto",
  drainMinWaitSeconds: undefined,
  drainIdleSeconds: 5,
  pollingFrequencySeconds: 30,
  targetContainerName: undefined,
  drainExitCode: 0,
  logLevel: "info",
  logFormat: "json",
  region: undefined,
  startupTimeoutSeconds: 120,
  targetGroupArns: [],
  dryRun: false,
  metadataUri: undefined,
  heartbeatFile: defaultHeartbeatFile(),
  metrics: "emf",
  metricsNamespace: "NlbSidecarForEcs"
}

const rejects = (env: Record<string, string>, variable: string) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(load(env))
    assert.strictEqual(exitCodeOf(exit), 2)
    const error = yield* Effect.flip(load(env))
    assert.instanceOf(error, ConfigInvalid)
    assert.strictEqual(error.variable, variable)
    assert.include(error.message, variable)
    assert.include(error.message, JSON.stringify(env[variable]))
  })

describe("Config", () => {
  it.effect("uses the documented defaults when nothing is set", () =>
    Effect.gen(function*() {
      const settings = yield* load({})
      assert.deepStrictEqual(settings, defaults)
      assert.strictEqual(settings.deregistrationWaitSeconds, 120)
      assert.strictEqual(settings.pollingFrequencySeconds, 30)
    }))

  it.effect("reads every variable", () =>
    Effect.gen(function*() {
      const settings = yield* load({
        DEREGISTRATION_WAIT: "300",
        DRAIN_STRATEGY: "connections",
        DRAIN_MIN_WAIT: "90",
        DRAIN_IDLE_SECONDS: "10",
        POLLING_FREQUENCY: "5",
        TARGET_CONTAINER_NAME: "app",
        DRAIN_EXIT_CODE: "255",
        LOG_LEVEL: "DEBUG",
        LOG_FORMAT: "text",
        AWS_DEFAULT_REGION: "eu-west-1",
        STARTUP_TIMEOUT: "30",
        TARGET_GROUP_ARNS:
          "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef, arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/admin/fedcba9876543210",
        DRY_RUN: "true",
        ECS_CONTAINER_METADATA_URI_V4: "http://169.254.170.2/v4/6d9d9b0a-7b1e-4a34-9b6b-5f0e5b0b2b6a",
        HEARTBEAT_FILE: "/run/sidecar/heartbeat",
        METRICS: "OFF",
        METRICS_NAMESPACE: "Platform/Sidecars"
      })
      assert.deepStrictEqual(settings, {
        deregistrationWaitSeconds: 300,
        drainStrategy: "connections",
        drainMinWaitSeconds: 90,
        drainIdleSeconds: 10,
        pollingFrequencySeconds: 5,
        targetContainerName: "app",
        drainExitCode: 255,
        logLevel: "debug",
        logFormat: "text",
        region: "eu-west-1",
        startupTimeoutSeconds: 30,
        targetGroupArns: [
          "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/0123456789abcdef",
          "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/admin/fedcba9876543210"
        ],
        dryRun: true,
        metadataUri: "http://169.254.170.2/v4/6d9d9b0a-7b1e-4a34-9b6b-5f0e5b0b2b6a",
        heartbeatFile: "/run/sidecar/heartbeat",
        metrics: "off",
        metricsNamespace: "Platform/Sidecars"
      })
    }))

  it.effect("DRAIN_MIN_WAIT may not exceed DEREGISTRATION_WAIT, the longest wait there is", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* load({ DEREGISTRATION_WAIT: "60", DRAIN_MIN_WAIT: "60" })).drainMinWaitSeconds, 60)
      yield* rejects({ DEREGISTRATION_WAIT: "60", DRAIN_MIN_WAIT: "61" }, "DRAIN_MIN_WAIT")
    }))

  it.effect("prefers AWS_REGION over AWS_DEFAULT_REGION", () =>
    Effect.gen(function*() {
      const settings = yield* load({ AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "eu-west-1" })
      assert.strictEqual(settings.region, "us-west-2")
    }))

  it.effect.each(
    [
      ["POLLING_FREQUENCY", "abc"],
      ["POLLING_FREQUENCY", "-5"],
      ["POLLING_FREQUENCY", "1.5"],
      ["POLLING_FREQUENCY", ""],
      ["POLLING_FREQUENCY", "0"],
      ["DEREGISTRATION_WAIT", "abc"],
      ["DEREGISTRATION_WAIT", "-5"],
      ["DEREGISTRATION_WAIT", "1.5"],
      ["DEREGISTRATION_WAIT", ""],
      ["DEREGISTRATION_WAIT", "1e3"],
      ["DEREGISTRATION_WAIT", "0x10"],
      ["DRAIN_EXIT_CODE", "256"],
      ["DRAIN_STRATEGY", "sockets"],
      ["DRAIN_STRATEGY", ""],
      ["DRAIN_MIN_WAIT", "121"],
      ["DRAIN_MIN_WAIT", "-1"],
      ["DRAIN_IDLE_SECONDS", "0"],
      ["DRAIN_IDLE_SECONDS", "2.5"],
      ["METRICS", "prometheus"],
      ["METRICS_NAMESPACE", "AWS/ECS"],
      ["METRICS_NAMESPACE", "bad*namespace"],
      ["METRICS_NAMESPACE", ":ns"],
      ["DRAIN_EXIT_CODE", "-1"],
      ["LOG_LEVEL", "verbose"],
      ["LOG_FORMAT", "xml"],
      ["AWS_REGION", "mars"],
      ["AWS_REGION", ""],
      ["TARGET_CONTAINER_NAME", ""],
      ["STARTUP_TIMEOUT", "0"],
      ["TARGET_GROUP_ARNS", "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/x/0123456789abcdef"],
      [
        "TARGET_GROUP_ARNS",
        Array.from(
          { length: 11 },
          (_, i) => `arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/tg${i}/0123456789abcdef`
        ).join(",")
      ],
      ["DRY_RUN", "maybe"],
      ["ECS_CONTAINER_METADATA_URI_V4", "not a uri"],
      ["ECS_CONTAINER_METADATA_URI_V4", "file:///etc/passwd"],
      ["ECS_CONTAINER_METADATA_URI_V4", "ftp://169.254.170.2/v4/x"],
      ["ECS_CONTAINER_METADATA_URI_V4", "http://"],
      ["HEARTBEAT_FILE", ""],
      ["HEARTBEAT_FILE", "  "],
      ["HEARTBEAT_FILE", "/tmp/"]
    ] as const
  )(
    "rejects %s=%j with exit code 2 and a message naming both",
    ([variable, value]) => rejects({ [variable]: value }, variable)
  )

  it.effect("accepts an https:// metadata URI; a password in a rejected one is not quoted", () =>
    Effect.gen(function*() {
      const settings = yield* load({ ECS_CONTAINER_METADATA_URI_V4: "https://169.254.170.2/v4/x" })
      assert.strictEqual(settings.metadataUri, "https://169.254.170.2/v4/x")
      const error = yield* Effect.flip(
        load({ ECS_CONTAINER_METADATA_URI_V4: "ftp://operator:pa55@169.254.170.2/v4/x" })
      )
      assert.strictEqual(error.variable, "ECS_CONTAINER_METADATA_URI_V4")
      assert.include(error.message, "ftp://[redacted]@169.254.170.2/v4/x")
      assert.notInclude(error.message, "pa55")
    }))

  it.effect.prop(
    "never dies on arbitrary values: each variable either parses or is named in a ConfigInvalid",
    [
      Schema.String,
      Schema.Literals([
        "DRAIN_STRATEGY",
        "DRAIN_MIN_WAIT",
        "DRAIN_IDLE_SECONDS",
        "DEREGISTRATION_WAIT",
        "POLLING_FREQUENCY",
        "DRAIN_EXIT_CODE",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "AWS_REGION",
        "STARTUP_TIMEOUT",
        "TARGET_GROUP_ARNS",
        "DRY_RUN",
        "TARGET_CONTAINER_NAME",
        "ECS_CONTAINER_METADATA_URI_V4",
        "HEARTBEAT_FILE"
      ])
    ],
    ([value, variable]) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(load({ [variable]: value }))
        if (Exit.isFailure(exit)) {
          assert.strictEqual(exitCodeOf(exit), 2)
          const error = yield* Effect.flip(load({ [variable]: value }))
          assert.strictEqual(error.variable, variable)
        }
      })
  )
})
