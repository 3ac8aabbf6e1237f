// EMF records checked against the rules of CloudWatch's "Specification:
// Embedded metric format", written out as a validator in test/support/emf.ts;
// the validator is shown to reject each kind of bad record, so a passing record
// means something.
import { describe, expect, it } from "vitest"
import { sidecarDimensions, targetGroupDimension } from "../src/metrics/dimensions.ts"
import { dimensionValue, emfRecord, metricUnits, namespaceProblem } from "../src/metrics/emf.ts"
import { countFailedPoll, noPollProblems, type PollProblems, pollProblemsDue } from "../src/metrics/pollProblems.ts"
import {
  defaultNamespace,
  drainDetectedRecord,
  exitRecord,
  pollProblemsRecord,
  type RecordContext,
  secondsSaved,
  SidecarMetric
} from "../src/metrics/records.ts"
import { emfProblems } from "./support/emf.ts"

/** The specification's own example of a valid document. */
const specExample = {
  _aws: {
    Timestamp: 1574109732004,
    CloudWatchMetrics: [{
      Namespace: "lambda-function-metrics",
      Dimensions: [["functionVersion"]],
      Metrics: [{ Name: "time", Unit: "Milliseconds" }]
    }]
  },
  functionVersion: "$LATEST",
  time: 100,
  requestId: "989ffbf8-9ace-4817-a57c-e4dd734019ee"
}

const webGroupArn = "arn:aws:elasticloadbalancing:us-east-1:111122223333:targetgroup/web/73e2d6bc24d8a067"
const at: RecordContext = {
  timestamp: Date.UTC(2026, 10, 30, 5, 40, 0, 123),
  namespace: defaultNamespace,
  dimensions: sidecarDimensions(
    { serviceName: "web", cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/default" },
    webGroupArn
  )
}

describe("the EMF validator (the specification's rules)", () => {
  it("accepts the specification's own example", () => {
    expect(emfProblems(specExample)).toEqual([])
  })

  const directive = specExample._aws.CloudWatchMetrics[0]!
  const withDirective = (change: Record<string, unknown>, root: Record<string, unknown> = {}) => ({
    ...specExample,
    ...root,
    _aws: { ...specExample._aws, CloudWatchMetrics: [{ ...directive, ...change }] }
  })
  it.each<[string, unknown, RegExp]>([
    ["not an object", [specExample], /root is not a JSON object/],
    ["no _aws", { ...specExample, _aws: undefined }, /_aws is not an object/],
    [
      "a Timestamp in seconds as text",
      { ...specExample, _aws: { ...specExample._aws, Timestamp: "1574109732" } },
      /Timestamp/
    ],
    [
      "a fractional Timestamp",
      { ...specExample, _aws: { ...specExample._aws, Timestamp: 1574109732004.5 } },
      /Timestamp/
    ],
    ["no CloudWatchMetrics", { ...specExample, _aws: { Timestamp: 1 } }, /CloudWatchMetrics is not an array/],
    [
      "a member _aws does not define",
      { ...specExample, _aws: { ...specExample._aws, Region: "us-east-1" } },
      /_aws has a member .* Region/
    ],
    ["an empty namespace", withDirective({ Namespace: "" }), /Namespace/],
    ["a namespace of 256 characters", withDirective({ Namespace: "n".repeat(256) }), /Namespace/],
    ["no dimension set at all", withDirective({ Dimensions: [] }), /Dimensions is not an array of dimension sets/],
    [
      "a dimension set that is a string",
      withDirective({ Dimensions: ["functionVersion"] }),
      /Dimensions\[0\] is not an array/
    ],
    [
      "31 dimension keys",
      withDirective(
        { Dimensions: [Array.from({ length: 31 }, (_, i) => `d${i}`)] },
        Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`d${i}`, "x"]))
      ),
      /more than 30 dimension keys/
    ],
    [
      "a dimension missing from the root",
      withDirective({ Dimensions: [["ServiceName"]] }),
      /dimension ServiceName is not a string member/
    ],
    [
      "a dimension nested instead of at the root",
      withDirective({ Dimensions: [["a.b"]] }, { a: { b: "x" } }),
      /dimension a\.b is not a string member/
    ],
    ["a numeric dimension value", { ...specExample, functionVersion: 12 }, /dimension functionVersion is not a string/],
    [
      "a dimension value of 1025 characters",
      { ...specExample, functionVersion: "v".repeat(1025) },
      /1-1024 printable ASCII/
    ],
    [
      "a dimension value with a control character",
      { ...specExample, functionVersion: "a\nb" },
      /1-1024 printable ASCII/
    ],
    ["a blank dimension value", { ...specExample, functionVersion: "  " }, /1-1024 printable ASCII/],
    ["a metric value as text", { ...specExample, time: "100" }, /metric time is not a number/],
    ["a metric missing from the root", { ...specExample, time: undefined }, /metric time is not a number/],
    ["a NaN metric value", { ...specExample, time: Number.NaN }, /metric time is not a number/],
    [
      "101 values for one metric",
      { ...specExample, time: Array.from({ length: 101 }, () => 1) },
      /metric time is not a number/
    ],
    [
      "a unit CloudWatch does not know",
      withDirective({ Metrics: [{ Name: "time", Unit: "Secs" }] }),
      /unit Secs is not a CloudWatch unit/
    ],
    ["a metric without a name", withDirective({ Metrics: [{ Unit: "Count" }] }), /Name is not a string/],
    [
      "101 metrics in one directive",
      withDirective(
        { Metrics: Array.from({ length: 101 }, (_, i) => ({ Name: `m${i}` })) },
        Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`m${i}`, i]))
      ),
      /more than 100 metric definitions/
    ],
    [
      "a storage resolution of 30",
      withDirective({ Metrics: [{ Name: "time", StorageResolution: 30 }] }),
      /StorageResolution/
    ],
    ["a value JSON drops", { ...specExample, requestId: undefined }, /does not survive JSON/],
    ["over 256 KB", { ...specExample, padding: "x".repeat(256 * 1024) }, /larger than 256 KB/]
  ])("rejects %s", (_, doc, problem) => {
    expect(emfProblems(doc).join("; ")).toMatch(problem)
  })
})

describe("emfRecord", () => {
  it("builds the document the specification describes: _aws first, then dimension values, metric values and other members at the root", () => {
    const record = emfRecord({
      timestamp: 1574109732004.9,
      namespace: "NlbSidecarForEcs",
      dimensions: { ServiceName: "web", TargetGroup: "targetgroup/web/73e2d6bc24d8a067" },
      metrics: { DrainWaitSeconds: { value: 120.5, unit: "Seconds" }, DrainDetected: { value: 1, unit: "Count" } },
      properties: {
        event: "exit",
        stopCode: "ServiceSchedulerInitiated",
        stoppedReason: undefined,
        flags: { dryRun: false }
      }
    })
    expect(record).toStrictEqual({
      _aws: {
        Timestamp: 1574109732004,
        CloudWatchMetrics: [{
          Namespace: "NlbSidecarForEcs",
          Dimensions: [["ServiceName", "TargetGroup"]],
          Metrics: [{ Name: "DrainWaitSeconds", Unit: "Seconds" }, { Name: "DrainDetected", Unit: "Count" }]
        }]
      },
      ServiceName: "web",
      TargetGroup: "targetgroup/web/73e2d6bc24d8a067",
      DrainWaitSeconds: 120.5,
      DrainDetected: 1,
      event: "exit",
      stopCode: "ServiceSchedulerInitiated",
      flags: { dryRun: false }
    })
    expect(Object.keys(record)[0]).toBe("_aws")
    expect(emfProblems(record)).toEqual([])
  })

  it("stays valid whatever it is given: values cleaned and cut, non-finite metrics and colliding members left out", () => {
    const record = emfRecord({
      timestamp: 1,
      namespace: "N",
      dimensions: { ServiceName: `wéb\n${"s".repeat(2000)}`, Blank: " \t", TargetGroup: "tg" },
      metrics: {
        Good: { value: 2, unit: "Count" },
        Nan: { value: Number.NaN, unit: "Count" },
        Inf: { value: Infinity, unit: "Seconds" }
      },
      properties: { _aws: "overwrite?", ServiceName: "other", Good: "text", note: "kept" }
    })
    expect(emfProblems(record)).toEqual([])
    expect(record.ServiceName).toBe(`w?b?${"s".repeat(1020)}`)
    expect(record._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["ServiceName", "TargetGroup"]])
    expect(record._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: "Good", Unit: "Count" }])
    expect([record.Good, record.note, "Blank" in record, "Nan" in record]).toEqual([2, "kept", false, false])
  })

  it("splits more than 100 metrics over directives of at most 100", () => {
    const metrics = Object.fromEntries(
      Array.from({ length: 150 }, (_, i) => [`m${i}`, { value: i, unit: "Count" as const }])
    )
    const record = emfRecord({ timestamp: 1, namespace: "N", dimensions: { A: "a" }, metrics })
    expect(record._aws.CloudWatchMetrics.map((d) => d.Metrics.length)).toEqual([100, 50])
    expect(emfProblems(record)).toEqual([])
  })

  it("dimensionValue: printable ASCII, 1024 characters at most, undefined when blank", () => {
    expect(dimensionValue("web")).toBe("web")
    expect(dimensionValue("a\u0000b\u00e9")).toBe("a?b?")
    expect(dimensionValue("x".repeat(1025))).toHaveLength(1024)
    expect(dimensionValue("   ")).toBeUndefined()
  })
})

describe("the sidecar's records", () => {
  it("metric names and units", () => {
    expect(Object.values(SidecarMetric).map((m) => `${m.name}:${m.unit}`)).toEqual([
      "DrainDetected:Count",
      "DrainWaitSeconds:Seconds",
      "SecondsSaved:Seconds",
      "PollFailures:Count",
      "ThrottledPolls:Count",
      "ConnectionsAtExit:Count"
    ])
    for (const m of Object.values(SidecarMetric)) expect(metricUnits).toContain(m.unit)
    expect(namespaceProblem(defaultNamespace)).toBeUndefined()
  })

  it("dimensions: the service and the target group as the load balancer's own metrics name it; the cluster's name without a service", () => {
    expect(
      sidecarDimensions(
        { serviceName: "web", cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/default" },
        webGroupArn
      )
    ).toEqual({
      ServiceName: "web",
      TargetGroup: "targetgroup/web/73e2d6bc24d8a067"
    })
    const standalone = sidecarDimensions({
      serviceName: undefined,
      cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/production"
    }, webGroupArn)
    expect(standalone).toEqual({ Cluster: "production", TargetGroup: "targetgroup/web/73e2d6bc24d8a067" })
    expect(Object.keys(standalone)).toEqual(["Cluster", "TargetGroup"])
    expect(sidecarDimensions({ serviceName: "", cluster: "batch" }, webGroupArn)).toEqual({
      Cluster: "batch",
      TargetGroup: "targetgroup/web/73e2d6bc24d8a067"
    })
    expect(
      targetGroupDimension("arn:aws-cn:elasticloadbalancing:cn-north-1:111122223333:targetgroup/a-b/0123456789abcdef")
    ).toBe("targetgroup/a-b/0123456789abcdef")
    expect(targetGroupDimension("not-an-arn")).toBe("not-an-arn")
  })

  it("drain detected: DrainDetected 1 with the stop code and reason as members, not dimensions", () => {
    const record = drainDetectedRecord(at, {
      stopCode: "ServiceSchedulerInitiated",
      stoppedReason: "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"
    })
    expect(emfProblems(record)).toEqual([])
    expect(record).toMatchObject({
      _aws: {
        Timestamp: at.timestamp,
        CloudWatchMetrics: [{
          Namespace: "NlbSidecarForEcs",
          Dimensions: [["ServiceName", "TargetGroup"]],
          Metrics: [{ Name: "DrainDetected", Unit: "Count" }]
        }]
      },
      ServiceName: "web",
      TargetGroup: "targetgroup/web/73e2d6bc24d8a067",
      DrainDetected: 1,
      event: "drain-detected",
      stopCode: "ServiceSchedulerInitiated",
      stoppedReason: "Scaling activity initiated by (deployment ecs-svc/1234567890123456789)"
    })
    // Without DescribeTasks' answer the members are simply absent.
    expect(Object.keys(drainDetectedRecord(at))).not.toContain("stopCode")
  })

  it("exit: DrainWaitSeconds, SecondsSaved against the deregistration delay, ConnectionsAtExit when counted", () => {
    const record = exitRecord(at, {
      drainWaitMs: 121_250,
      deregistrationDelaySeconds: 300,
      connectionsAtExit: 0,
      stopCode: "ServiceSchedulerInitiated"
    })
    expect(emfProblems(record)).toEqual([])
    expect(record._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
      { Name: "DrainWaitSeconds", Unit: "Seconds" },
      { Name: "SecondsSaved", Unit: "Seconds" },
      { Name: "ConnectionsAtExit", Unit: "Count" }
    ])
    expect(record).toMatchObject({
      DrainWaitSeconds: 121.25,
      SecondsSaved: 178.75,
      ConnectionsAtExit: 0,
      event: "exit",
      deregistrationDelaySeconds: 300
    })
    // The delay unknown (DescribeTargetGroupAttributes denied) and no connection count: DrainWaitSeconds alone.
    const bare = exitRecord(at, { drainWaitMs: 3000 })
    expect(emfProblems(bare)).toEqual([])
    expect(bare._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toEqual(["DrainWaitSeconds"])
    expect(["SecondsSaved" in bare, "deregistrationDelaySeconds" in bare]).toEqual([false, false])
  })

  it("secondsSaved: the delay less the time stayed, never below zero", () => {
    expect(secondsSaved(300, 120_000)).toBe(180)
    expect(secondsSaved(300, 0.4)).toBe(300)
    expect(secondsSaved(10, 12_500)).toBe(0)
  })

  it("poll problems: both counts in one record", () => {
    const record = pollProblemsRecord(at, { failures: 4, throttled: 3 })
    expect(emfProblems(record)).toEqual([])
    expect(record).toMatchObject({ PollFailures: 4, ThrottledPolls: 3, event: "poll-problems" })
  })

  it("the namespace rule (for a configured namespace)", () => {
    expect(namespaceProblem("Team/Sidecar #1: prod.eu-west_1")).toBeUndefined()
    expect(namespaceProblem("")).toMatch(/1 to 255/)
    expect(namespaceProblem("n".repeat(256))).toMatch(/1 to 255/)
    expect(namespaceProblem("   ")).toMatch(/not a space/)
    expect(namespaceProblem("Sidecar!")).toMatch(/only letters/)
    expect(namespaceProblem("Säge")).toMatch(/only letters/)
    expect(namespaceProblem("AWS/NetworkELB")).toMatch(/AWS\//)
    // CloudWatch's Namespace pattern is [^:].*: a colon anywhere else is fine.
    expect(namespaceProblem(":ns")).toMatch(/not starting with :/)
    expect(namespaceProblem("ns:prod")).toBeUndefined()
  })
})

describe("PollFailures and ThrottledPolls: at most once a minute, while not zero", () => {
  /** Runs polls at the given times (ms), each failed or not, and asks at each poll whether a record is due. */
  const run = (polls: ReadonlyArray<readonly [number, "ok" | "failed" | "throttled"]>) => {
    let state: PollProblems = noPollProblems
    const written: Array<readonly [number, number, number]> = []
    for (const [t, outcome] of polls) {
      if (outcome !== "ok") state = countFailedPoll(state, outcome === "throttled")
      const { write, next } = pollProblemsDue(state, t)
      if (write !== undefined) written.push([t, write.failures, write.throttled])
      state = next
    }
    return { written, state }
  }

  it("nothing while every poll succeeds", () => {
    expect(run(Array.from({ length: 200 }, (_, i) => [i * 30_000, "ok"] as const)).written).toEqual([])
  })

  it("the first failure at once, then what gathered, a minute or more after the last record", () => {
    const { written, state } = run([
      [0, "ok"],
      [10_000, "throttled"], // first ever: written at once
      [20_000, "failed"],
      [30_000, "throttled"],
      [69_999, "failed"], // 59.999 s after the last: not yet
      [70_000, "ok"], // a minute: the three gathered since
      [80_000, "ok"],
      [200_000, "ok"], // nothing gathered: nothing written, however long
      [210_000, "failed"], // over a minute since the last record: at once
      [220_000, "failed"]
    ])
    expect(written).toEqual([[10_000, 1, 1], [70_000, 3, 1], [210_000, 1, 0]])
    expect(state).toEqual({ failures: 1, throttled: 0, writtenAt: 210_000 })
  })

  it("never more than one record in any minute, however many polls fail", () => {
    const { written, state } = run(
      Array.from({ length: 600 }, (_, i) => [i * 1000, i % 3 === 0 ? "throttled" : "failed"] as const)
    )
    expect(written.map(([t]) => t)).toEqual(Array.from({ length: 10 }, (_, i) => i * 60_000))
    // Nothing is lost: every failure is in exactly one record, or still gathered.
    const sum = (i: 1 | 2) => written.reduce((total, w) => total + w[i], 0)
    expect([sum(1) + state.failures, sum(2) + state.throttled]).toEqual([600, 200])
  })

  it("final: what is left is written when the sidecar ends, whatever the time", () => {
    const gathered = countFailedPoll({ failures: 0, throttled: 0, writtenAt: 1000 }, true)
    expect(pollProblemsDue(gathered, 2000).write).toBeUndefined()
    expect(pollProblemsDue(gathered, 2000, { final: true })).toEqual({
      write: { failures: 1, throttled: 1 },
      next: { failures: 0, throttled: 0, writtenAt: 2000 }
    })
    expect(pollProblemsDue(noPollProblems, 2000, { final: true }).write).toBeUndefined()
  })
})
