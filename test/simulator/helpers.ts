// A simulator on a clock the test moves by hand, with real SDK clients
// pointed at it (one attempt each, so every fault is seen as it is sent).
import { ECSClient } from "@aws-sdk/client-ecs"
import { ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2"
import { onTestFinished } from "vitest"
import { decodeScenario, type Fault, type Scenario } from "../../simulator/scenario.ts"
import { type RunningSimulator, startSimulator } from "../../simulator/server.ts"

export const credentials = { accessKeyId: "test", secretAccessKey: "test" }

export interface Harness {
  readonly sim: RunningSimulator
  /** Moves the simulator's clock to `ms` after its start. */
  readonly at: (ms: number) => void
  /** Resolves once `n` requests have arrived (the simulator reads its clock as each arrives), 10 s at most. */
  readonly arrived: (n: number) => Promise<void>
  readonly elb: ElasticLoadBalancingV2Client
  readonly ecs: ECSClient
}

/** Started for the current test and closed when it finishes. */
export const harness = async (scenario: Scenario): Promise<Harness> => {
  let now = 1_000_000
  let reads = 0
  const start = now
  const sim = await startSimulator({ scenario, now: () => (reads++, now) })
  const startReads = reads
  const config = { region: sim.region, endpoint: sim.endpoint, credentials, maxAttempts: 1 }
  const elb = new ElasticLoadBalancingV2Client(config)
  const ecs = new ECSClient(config)
  onTestFinished(async () => {
    elb.destroy()
    ecs.destroy()
    await sim.close()
  })
  const arrived = async (n: number) => {
    for (let i = 0; i < 2000 && reads - startReads < n; i++) await new Promise((r) => setTimeout(r, 5))
  }
  return { sim, at: (ms) => (now = start + ms), arrived, elb, ecs }
}

export const withFaults = (scenario: Scenario, faults: ReadonlyArray<Fault>): Scenario =>
  decodeScenario({ ...scenario, faults })

export interface SdkError {
  readonly name: string
  readonly message: string
  readonly Code?: string
  readonly $fault: "client" | "server"
  readonly $metadata: { readonly httpStatusCode?: number; readonly requestId?: string }
}

/** The error a call fails with; fails the test if the call succeeds. */
export const sdkError = async (call: Promise<unknown>): Promise<SdkError> => {
  try {
    await call
  } catch (error) {
    return error as SdkError
  }
  throw new Error("expected the call to fail")
}
