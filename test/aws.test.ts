// The SDK edge, against the simulator through the real clients: SDK errors
// become AwsCallFailed with the wire code, and InvalidTarget becomes `not-found`.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { decodeScenario } from "../simulator/scenario.ts"
import { adminGroupArn, loadScenario, webGroupArn } from "../simulator/scenarios.ts"
import { startSimulator } from "../simulator/server.ts"
import { AwsCallLog, type AwsCallRecord, callAws, fromSdkError } from "../src/aws/callAws.ts"
import { AwsCallFailed } from "../src/errors.ts"
import { AwsCredentials } from "../src/layers/AwsCredentials.ts"
import { AwsRegion } from "../src/layers/AwsRegion.ts"
import { TargetHealth } from "../src/layers/TargetHealth.ts"

const sessionToken = "simulated-session-token-0123456789"

const withSimulator = <A, E>(
  scenario: ReturnType<typeof loadScenario>,
  use: (endpoint: string) => Effect.Effect<A, E, TargetHealth>
) =>
  Effect.acquireUseRelease(
    Effect.promise(() => startSimulator({ scenario })),
    (sim) => {
      // The SDK reads AWS_ENDPOINT_URL when a client is created, as it does in the sidecar.
      process.env.AWS_ENDPOINT_URL = sim.endpoint
      return use(sim.endpoint).pipe(
        Effect.provide(TargetHealth.layerNoDeps.pipe(Layer.provide([
          Layer.succeed(AwsRegion, { region: sim.region }),
          AwsCredentials.layerStatic({ accessKeyId: "ASIASIMULATEDKEY0001", secretAccessKey: "test", sessionToken })
        ])))
      )
    },
    (sim) =>
      Effect.promise(() => sim.close()).pipe(Effect.tap(() => Effect.sync(() => delete process.env.AWS_ENDPOINT_URL)))
  )

/** An error as the SDK throws it: the wire code as its name, the HTTP status in `$metadata`. */
const sdkThrown = (
  name: string,
  message: string,
  $metadata: { readonly httpStatusCode: number; readonly requestId?: string },
  fields: Record<string, unknown> = {}
) => Object.assign(new Error(message), { name, $metadata, ...fields })

const target = (id: string, port: number) => ({
  targetGroupArn: webGroupArn,
  id,
  port,
  containerName: "app",
  containerPort: 8080
})

describe("AWS edge (real SDK, simulator)", () => {
  it.live("an instance the group does not know: InvalidTarget becomes a `not-found` observation, not a failure", () =>
    withSimulator(loadScenario("bridge"), () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const observations = yield* elb.poll(webGroupArn, [target("i-00000000000000000", 32768)])
        assert.deepStrictEqual(observations.map((o) => [o.state, o.reason]), [["not-found", "InvalidTarget"]])
      })))

  it.live("throttling and access denied arrive with their wire codes, request ids and retryability", () => {
    const base = loadScenario("awsvpc")
    const scenario = decodeScenario({
      ...base,
      faults: [{ api: "elbv2", action: "DescribeTargetHealth", from: 0, until: 60_000, kind: "throttle" }, {
        api: "elbv2",
        action: "DescribeTargetGroups",
        from: 0,
        until: 60_000,
        kind: "access-denied"
      }]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const throttled = yield* Effect.flip(elb.poll(webGroupArn, [target("10.0.1.23", 8080)]))
        assert.include(throttled, {
          code: "Throttling",
          retryable: true,
          throttled: true,
          httpStatus: 400,
          action: "elasticloadbalancing:DescribeTargetHealth"
        })
        assert.isString(throttled.requestId)
        const denied = yield* Effect.flip(elb.describeTargetGroups([webGroupArn]))
        assert.include(denied, { code: "AccessDenied", retryable: false, httpStatus: 403 })
        assert.include(denied.message, "grant the IAM permission elasticloadbalancing:DescribeTargetGroups")
      }))
  })

  it.live("a signature mismatch quotes the canonical request: its session token never reaches the error", () => {
    const base = loadScenario("awsvpc")
    const scenario = decodeScenario({
      ...base,
      faults: [{ api: "elbv2", action: "DescribeTargetHealth", from: 0, until: 60_000, kind: "signature-mismatch" }]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const error = yield* Effect.flip(elb.poll(webGroupArn, [target("10.0.1.23", 8080)]))
        assert.include(error, { code: "SignatureDoesNotMatch", httpStatus: 403 })
        assert.include(error.detail, "The Canonical String for this request should have been")
        assert.include(error.detail, "x-amz-security-token:[redacted]")
        assert.notInclude(error.message, sessionToken)
      }))
  })

  it.live("each call is noted once in the call log where one is provided: an answer as a call that went through, a failure with its code, an interrupted call not at all", () => {
    const base = loadScenario("bridge")
    const scenario = decodeScenario({
      ...base,
      faults: [{ api: "elbv2", action: "DescribeTargetGroups", from: 0, until: 60_000, kind: "access-denied" }]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const log: Array<AwsCallRecord> = []
        yield* elb.poll(webGroupArn, [target("i-00000000000000000", 32768)]).pipe(
          Effect.provideService(AwsCallLog, log)
        )
        yield* Effect.flip(elb.describeTargetGroups([webGroupArn])).pipe(Effect.provideService(AwsCallLog, log))
        yield* callAws("ecs:DescribeTasks", () => new Promise<never>(() => {})).pipe(
          Effect.timeout("10 millis"),
          Effect.ignore,
          Effect.provideService(AwsCallLog, log)
        )
        yield* elb.poll(webGroupArn, [target("i-00000000000000000", 32768)])
        assert.deepStrictEqual(log, [
          { action: "elasticloadbalancing:DescribeTargetHealth" },
          { action: "elasticloadbalancing:DescribeTargetGroups", error: "AccessDenied" }
        ])
      }))
  })

  it("redacts tokens and signatures however an SDK error quotes them", () => {
    const token = "IQoJb3JpZ2luX2VjEDIaCXVzLWVhc3QtMSJHMEUCIQDexampletoken"
    const signature = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    const e = fromSdkError(
      "ecs:DescribeServices",
      sdkThrown(
        "IncompleteSignatureException",
        `Authorization=AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEEXAMPLE12/20240101/us-east-1/ecs/aws4_request, Signature=${signature}\nx-amz-security-token:${token}`,
        { httpStatusCode: 400, requestId: "r-2" }
      )
    )
    for (const secret of [token, signature, "ASIAEXAMPLEEXAMPLE12"]) assert.notInclude(e.message, secret)
    assert.include(e, { code: "IncompleteSignatureException", requestId: "r-2" })
  })

  it.live("a closed port is a retryable network error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        callAws("elasticloadbalancing:DescribeTargetHealth", () => fetch("http://127.0.0.1:9/") // nothing listens on the discard port
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(callAws("x:Y", () =>
        Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }))))
      assert.include(error, { code: "ECONNREFUSED", retryable: true })
    }))

  it.live("a 200 without this task's target (empty, other targets only, not XML) is a retryable failure, not a success", () => {
    const base = loadScenario("awsvpc")
    const kinds = ["empty-answer", "other-targets", "malformed"] as const
    const scenario = decodeScenario({
      ...base,
      faults: kinds.map((kind) => ({
        api: "elbv2",
        action: "DescribeTargetHealth",
        from: 0,
        until: 60_000,
        kind,
        times: 1
      }))
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        for (const kind of kinds) {
          const failed = yield* Effect.flip(elb.poll(webGroupArn, [target("10.0.1.23", 8080)]))
          assert.isTrue(failed.retryable, `${kind}: ${failed.code}`)
          assert.strictEqual(failed.code, kind === "malformed" ? "UnparseableAnswer" : "TargetNotInAnswer")
        }
        const answered = yield* elb.poll(webGroupArn, [target("10.0.1.23", 8080)])
        assert.deepStrictEqual(answered.map((o) => o.state), ["healthy"])
      }))
  })

  it.live("a target listed twice: the reading that keeps the task running wins", () => {
    const scenario = decodeScenario({
      ...loadScenario("awsvpc"),
      faults: [{ api: "elbv2", action: "DescribeTargetHealth", from: 0, until: 60_000, kind: "duplicate-target" }]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const observations = yield* elb.poll(webGroupArn, [target("10.0.1.23", 8080)])
        assert.deepStrictEqual(observations.map((o) => o.state), ["healthy"])
      }))
  })

  it.live("DescribeTargetGroups follows NextMarker", () => {
    const scenario = decodeScenario({
      ...loadScenario("two-target-groups"),
      faults: [{ api: "elbv2", action: "DescribeTargetGroups", from: 0, until: 60_000, kind: "paged" }]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const groups = yield* elb.describeTargetGroups([webGroupArn, adminGroupArn])
        assert.deepStrictEqual(groups.map((g) => g.arn), [webGroupArn, adminGroupArn])
      }))
  })

  it.live("a signature refused for clock skew is retryable: the SDK has corrected its clock, and the next attempt passes", () => {
    const scenario = decodeScenario({
      ...loadScenario("awsvpc"),
      faults: [{ api: "elbv2", from: 0, until: 600_000, kind: "clock-skew", skewMs: 20 * 60_000 }]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const skewed = yield* Effect.flip(elb.poll(webGroupArn, [target("10.0.1.23", 8080)]))
        assert.include(skewed, { code: "SignatureDoesNotMatch", retryable: true })
        assert.include(skewed.detail, "Signature expired")
        const observations = yield* elb.poll(webGroupArn, [target("10.0.1.23", 8080)])
        assert.deepStrictEqual(observations.map((o) => o.state), ["healthy"])
      }))
  })

  it.live("describeDeregistrationDelay: the group's deregistration_delay.timeout_seconds as a number", () =>
    withSimulator(loadScenario("two-target-groups", { deregistrationDelayMs: 45_000 }), () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        assert.strictEqual(yield* elb.describeDeregistrationDelay(webGroupArn), 45)
        assert.strictEqual(yield* elb.describeDeregistrationDelay(adminGroupArn), 45)
      })))

  it.live("describeDeregistrationDelay: AccessDenied is a non-retryable AwsCallFailed naming the action; throttling is retryable; an unknown group is not found", () => {
    const base = loadScenario("awsvpc")
    const scenario = decodeScenario({
      ...base,
      faults: [
        {
          api: "elbv2",
          action: "DescribeTargetGroupAttributes",
          from: 0,
          until: 60_000,
          kind: "access-denied",
          times: 1
        },
        { api: "elbv2", action: "DescribeTargetGroupAttributes", from: 0, until: 60_000, kind: "throttle", times: 1 }
      ]
    })
    return withSimulator(scenario, () =>
      Effect.gen(function*() {
        const elb = yield* TargetHealth
        const denied = yield* Effect.flip(elb.describeDeregistrationDelay(webGroupArn))
        assert.instanceOf(denied, AwsCallFailed)
        assert.include(denied, {
          action: "elasticloadbalancing:DescribeTargetGroupAttributes",
          code: "AccessDenied",
          retryable: false,
          httpStatus: 403
        })
        assert.isString(denied.requestId)
        assert.include(denied.message, "grant the IAM permission elasticloadbalancing:DescribeTargetGroupAttributes")
        const throttled = yield* Effect.flip(elb.describeDeregistrationDelay(webGroupArn))
        assert.include(throttled, {
          action: "elasticloadbalancing:DescribeTargetGroupAttributes",
          code: "Throttling",
          retryable: true
        })
        const gone = yield* Effect.flip(
          elb.describeDeregistrationDelay(webGroupArn.replace("73e2d6bc24d8a067", "0000000000000000"))
        )
        assert.include(gone, { code: "TargetGroupNotFound", retryable: false })
        assert.strictEqual(yield* elb.describeDeregistrationDelay(webGroupArn), 300)
      }))
  })

  it("throttled as the SDK classifies it (for ThrottledPolls); other failures are not", () => {
    const failed = (name: string) =>
      fromSdkError("a:B", Object.assign(new Error(name), { name, $metadata: { httpStatusCode: 400 } }))
    for (const code of ["Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"]) {
      assert.include(failed(code), { code, throttled: true })
    }
    for (const code of ["AccessDenied", "ServiceUnavailable"]) assert.isUndefined(failed(code).throttled)
  })

  it("maps SDK-shaped errors without losing the wire code", () => {
    const e = fromSdkError(
      "ecs:DescribeServices",
      sdkThrown("ThrottlingException", "Rate exceeded", { httpStatusCode: 400, requestId: "r-1" })
    )
    assert.instanceOf(e, AwsCallFailed)
    assert.include(e, { code: "ThrottlingException", retryable: true, requestId: "r-1" })
    const retryable = (error: Error) => fromSdkError("a:B", error).retryable
    assert.isTrue(retryable(sdkThrown("InternalFailure", "boom", { httpStatusCode: 500 }, { $fault: "server" })))
    assert.isFalse(retryable(sdkThrown("ValidationError", "no", { httpStatusCode: 400 })))
    // A wrong secret is a signature mismatch without a clock to correct: permanent.
    assert.isFalse(
      retryable(sdkThrown("SignatureDoesNotMatch", "The request signature we calculated does not match", {
        httpStatusCode: 403
      }))
    )
    assert.isTrue(
      retryable(sdkThrown("InvalidSignatureException", "Signature expired: 20261130T050000Z is now earlier than …", {
        httpStatusCode: 400
      }))
    )
  })
})
