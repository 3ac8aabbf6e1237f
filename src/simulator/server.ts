// One HTTP server on 127.0.0.1 for everything the sidecar talks to: the task
// metadata endpoint, the ECS API and the ELBv2 API. It records every request.
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ecsError, handleEcs, type JsonAnswer } from "./ecs.ts"
import { elbError, handleElbv2, type XmlAnswer } from "./elbv2.ts"
import { containerMetadataBody, taskBody } from "./metadata.ts"
import { decodeScenario, type Fault, type Scenario } from "./scenario.ts"

export interface RecordedRequest {
  /** Milliseconds since the simulator started. */
  readonly t: number
  readonly api: "metadata" | "credentials" | "ecs" | "elbv2" | "other"
  readonly action: string
  readonly params: Record<string, unknown>
  readonly status: number
  readonly errorCode?: string
}

export interface RunningSimulator {
  readonly endpoint: string
  readonly metadataUri: string
  /** For AWS_CONTAINER_CREDENTIALS_FULL_URI: task-role credentials as the ECS agent serves them. */
  readonly credentialsUri: string
  readonly region: string
  readonly scenario: Scenario
  /** Date.now() when the simulator started: t=0 of its timelines and of the request log. */
  readonly startedAt: number
  readonly requests: () => ReadonlyArray<RecordedRequest>
  readonly close: () => Promise<void>
}

const faultAnswer = (fault: Fault, api: "ecs" | "elbv2", action: string): JsonAnswer | XmlAnswer | undefined => {
  const denied = `User: arn:aws:sts::111122223333:assumed-role/task-role/sidecar is not authorized to perform: ${api === "ecs" ? "ecs" : "elasticloadbalancing"}:${action} because no identity-based policy allows the ${api === "ecs" ? "ecs" : "elasticloadbalancing"}:${action} action`
  switch (fault.kind) {
    case "throttle":
      return api === "ecs" ? ecsError(400, "ThrottlingException", "Rate exceeded") : elbError(400, "Throttling", "Rate exceeded")
    case "server-error":
      return api === "ecs" ? ecsError(500, "ServerException", "Service unavailable. Please try again later.") : elbError(503, "ServiceUnavailable", "Service is unavailable")
    case "access-denied":
      return api === "ecs" ? ecsError(400, "AccessDeniedException", denied) : elbError(403, "AccessDenied", denied)
    case "not-found":
      return api === "ecs" ? ecsError(400, "ClusterNotFoundException", "Cluster not found.") : elbError(400, "TargetGroupNotFound", "One or more target groups not found")
    default:
      return undefined
  }
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve(body)).on("error", reject)
  })

export const startSimulator = async (options: {
  readonly scenario: Scenario | unknown
  readonly port?: number
  /** A clock for tests; defaults to Date.now. */
  readonly now?: () => number
}): Promise<RunningSimulator> => {
  const scenario = decodeScenario(options.scenario)
  const now = options.now ?? Date.now
  const startedAt = now()
  const log: Array<RecordedRequest> = []
  const metadataId = `${scenario.task.taskId}-1234567890`

  const activeFault = (api: Fault["api"], action: string, t: number) =>
    scenario.faults.find((f) => f.api === api && (f.action === undefined || f.action === action) && f.from <= t && t < f.until)

  const send = (res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), ...headers })
    res.end(body)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req)
    const t = now() - startedAt
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    const record = (entry: Omit<RecordedRequest, "t">) => log.push({ t, ...entry })
    const delay = async (api: Fault["api"], action: string) => {
      const slow = activeFault(api, action, t)
      if (slow?.kind === "slow") await new Promise((r) => setTimeout(r, slow.delayMs ?? 1000))
    }

    if (req.method === "GET" && url.pathname === "/_simulator/requests") return send(res, 200, "application/json", JSON.stringify(log))
    if (req.method === "GET" && url.pathname === "/_simulator/scenario") return send(res, 200, "application/json", JSON.stringify(scenario))

    // The ECS container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), as the agent serves a task role.
    if (req.method === "GET" && url.pathname === `/v2/credentials/${metadataId}`) {
      record({ api: "credentials", action: "task-role", params: {}, status: 200 })
      return send(res, 200, "application/json", JSON.stringify({
        RoleArn: `arn:aws:iam::${scenario.accountId}:role/${scenario.task.family}-task`,
        AccessKeyId: "ASIASIMULATEDKEY0001",
        SecretAccessKey: "simulated/secret/access/key/0000000000",
        Token: "simulated-session-token",
        Expiration: new Date(Date.now() + 6 * 3600_000).toISOString()
      }))
    }

    const metadata = url.pathname.match(/^\/v4\/([^/]+)(\/task)?\/?$/)
    if (req.method === "GET" && metadata !== null) {
      const action = metadata[2] === undefined ? "container" : "task"
      const fault = activeFault("metadata", action, t)
      if (metadata[1] !== metadataId || fault?.kind === "not-found") {
        record({ api: "metadata", action, params: {}, status: 404 })
        return send(res, 404, "text/plain", "404 page not found")
      }
      if (fault?.kind === "not-ready") {
        // An agent that is not up yet: the connection is dropped without an answer.
        record({ api: "metadata", action, params: {}, status: 0, errorCode: "ECONNRESET" })
        return req.socket.destroy()
      }
      if (fault?.kind === "server-error" || fault?.kind === "throttle") {
        record({ api: "metadata", action, params: {}, status: 500 })
        return send(res, 500, "application/json", JSON.stringify("failed to get task metadata"))
      }
      await delay("metadata", action)
      record({ api: "metadata", action, params: {}, status: 200 })
      return send(res, 200, "application/json", JSON.stringify(action === "task" ? taskBody(scenario) : containerMetadataBody(scenario)))
    }

    const requestId = randomUUID()
    const target = req.headers["x-amz-target"]
    if (req.method === "POST" && typeof target === "string" && target.startsWith("AmazonEC2ContainerServiceV20141113.")) {
      const action = target.slice(target.indexOf(".") + 1)
      const params = body === "" ? {} : (JSON.parse(body) as Record<string, unknown>)
      const fault = activeFault("ecs", action, t)
      const answer = (fault === undefined ? undefined : faultAnswer(fault, "ecs", action) as JsonAnswer | undefined) ?? handleEcs(scenario, action, params)
      await delay("ecs", action)
      record({ api: "ecs", action, params, status: answer.status, ...(answer.errorCode === undefined ? {} : { errorCode: answer.errorCode }) })
      return send(res, answer.status, "application/x-amz-json-1.1", JSON.stringify(answer.body), {
        "x-amzn-requestid": requestId,
        ...(answer.errorCode === undefined ? {} : { "x-amzn-errortype": `${answer.errorCode}:http://internal.amazon.com/coral/com.amazonaws.ecs/` })
      })
    }

    if (req.method === "POST") {
      const params = new URLSearchParams(body)
      const action = params.get("Action") ?? ""
      if (action !== "" && params.get("Version") === "2015-12-01") {
        const fault = activeFault("elbv2", action, t)
        const answer = (fault === undefined ? undefined : faultAnswer(fault, "elbv2", action) as XmlAnswer | undefined) ??
          handleElbv2(scenario, action, params, t)
        await delay("elbv2", action)
        record({ api: "elbv2", action, params: Object.fromEntries(params), status: answer.status, ...(answer.errorCode === undefined ? {} : { errorCode: answer.errorCode }) })
        return send(res, answer.status, "text/xml", answer.body, { "x-amzn-requestid": requestId })
      }
    }

    record({ api: "other", action: `${req.method} ${url.pathname}`, params: {}, status: 404 })
    return send(res, 404, "text/plain", "not simulated")
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, "text/plain", String(error))
    })
  })
  server.keepAliveTimeout = 5_000
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const endpoint = `http://127.0.0.1:${port}`
  return {
    endpoint,
    metadataUri: `${endpoint}/v4/${metadataId}`,
    credentialsUri: `${endpoint}/v2/credentials/${metadataId}`,
    region: scenario.region,
    scenario,
    startedAt,
    requests: () => [...log],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/**
 * The environment that points a sidecar at this simulator, as the ECS agent
 * would set it in a task, plus short timings for local runs.
 */
export const sidecarEnvironment = (sim: RunningSimulator, name: string): Record<string, string> => ({
  AWS_ENDPOINT_URL: sim.endpoint,
  ECS_CONTAINER_METADATA_URI_V4: sim.metadataUri,
  // Task-role credentials from the container credentials endpoint, as in a real task.
  AWS_CONTAINER_CREDENTIALS_FULL_URI: sim.credentialsUri,
  AWS_REGION: sim.region,
  // Keep the SDK away from ~/.aws and from instance metadata.
  AWS_EC2_METADATA_DISABLED: "true",
  AWS_CONFIG_FILE: "/dev/null",
  AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
  POLLING_FREQUENCY: "1",
  HEARTBEAT_FILE: `/tmp/nlb-sidecar-${name}-${process.pid}-${Math.random().toString(36).slice(2)}.heartbeat`
})
