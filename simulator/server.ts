// One HTTP server on 127.0.0.1 for everything the sidecar talks to: the task
// metadata endpoint (v4), the ECS API (awsJson 1.1) and the ELBv2 API
// (awsQuery), plus the container credentials endpoint. It records every request.
import { randomUUID } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ecsError, ecsFault, ecsTargetPrefix, handleEcs, type JsonAnswer } from "./ecs.ts"
import { elbError, elbFault, handleElbv2, type XmlAnswer } from "./elbv2.ts"
import {
  containerMetadataBody,
  type MetadataAnswer,
  metadataEndpointId,
  metadataFault,
  metadataNotFound,
  metadataOk,
  taskBody
} from "./metadata.ts"
import { decodeScenario, type Fault, type Scenario } from "./scenario.ts"
import { signatureMismatchMessage } from "./signing.ts"

export interface RecordedRequest {
  /** Milliseconds since the simulator started, on its clock. */
  readonly t: number
  /** `credentials`: the container credentials endpoint; `other`: anything not simulated. */
  readonly api: "metadata" | "ecs" | "elbv2" | "credentials" | "other"
  /** The operation (`DescribeTargetHealth`), or for metadata `task` / `container`. */
  readonly action: string
  /** The decoded JSON body (ECS) or form fields as sent (ELBv2: `Targets.member.1.Id`, …). */
  readonly params: Record<string, unknown>
  /** 0 when the connection was reset without an answer. */
  readonly status: number
  readonly errorCode?: string
}

export interface SimulatorOptions {
  readonly scenario: Scenario
  /** 0 (the default): a free port. */
  readonly port?: number
  /**
   * The clock, in milliseconds; t=0 is its value at start. Tests pass one
   * they move by hand instead of sleeping. Defaults to a monotonic wall clock.
   */
  readonly now?: () => number
}

export interface RunningSimulator {
  /** `http://127.0.0.1:PORT`: AWS_ENDPOINT_URL for both APIs. */
  readonly endpoint: string
  /** The value for ECS_CONTAINER_METADATA_URI_V4. */
  readonly metadataUri: string
  /** For AWS_CONTAINER_CREDENTIALS_FULL_URI: task-role credentials as the ECS agent serves them. */
  readonly credentialsUri: string
  readonly region: string
  readonly scenario: Scenario
  /** The clock's value at t=0 (with the default clock, epoch milliseconds like Date.now()). */
  readonly startedAt: number
  /** Every answered request so far, in arrival order. */
  readonly requests: () => ReadonlyArray<RecordedRequest>
  readonly close: () => Promise<void>
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let body = ""
    req.setEncoding("utf8").on("data", (c: string) => (body += c)).on("end", () => resolve(body)).on("error", reject)
  })

const monotonicEpochMs = () => performance.timeOrigin + performance.now()

/** SigV4's X-Amz-Date (`20261130T054000Z`) as epoch milliseconds. */
const amzDate = (header: string | ReadonlyArray<string> | undefined): number | undefined => {
  const m = typeof header === "string" ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(header) : null
  return m === null
    ? undefined
    : Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}
const amzDateText = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "")

/** The container credentials endpoint's answer to an injected fault, in the agent's JSON error shape. */
const credentialsFault = (
  s: Scenario,
  fault: Fault
): { readonly status: number; readonly body: string; readonly errorCode?: string } | undefined => {
  switch (fault.kind) {
    case "access-denied":
      return {
        status: 403,
        body: JSON.stringify({
          Code: "AccessDenied",
          Message: `Not authorized to assume the task role arn:aws:iam::${s.accountId}:role/${s.task.family}-task`
        }),
        errorCode: "AccessDenied"
      }
    case "server-error":
      return {
        status: 500,
        body: JSON.stringify({ Code: "InternalServerError", Message: "Unable to fetch credentials" }),
        errorCode: "InternalServerError"
      }
    default:
      return undefined
  }
}

export const startSimulator = async (options: SimulatorOptions): Promise<RunningSimulator> => {
  const scenario = decodeScenario(options.scenario)
  const now = options.now ?? monotonicEpochMs
  const startedAt = now()
  // Metadata timestamps (CreatedAt, PullStartedAt…) lead up to the real start.
  const wallStart = Date.now()
  const endpointId = metadataEndpointId(scenario)
  const log: Array<RecordedRequest | undefined> = []
  const timers = new Set<NodeJS.Timeout>()

  // How many requests each fault with `times` has served.
  const served = new Map<Fault, number>()
  // How many requests each fault with `passEvery` has matched.
  const matched = new Map<Fault, number>()
  const passes = (f: Fault) => {
    if (f.passEvery === undefined) return false
    const n = (matched.get(f) ?? 0) + 1
    matched.set(f, n)
    return n % f.passEvery === 0
  }
  const faultsAt = (api: Fault["api"], action: string, t: number) => {
    const active = scenario.faults.filter((f) =>
      f.api === api && (f.action === undefined || f.action === action) && f.from <= t && t < f.until &&
      (f.times === undefined || (served.get(f) ?? 0) < f.times)
    ).filter((f) => !passes(f))
    const take = (f: Fault | undefined) => {
      if (f !== undefined) served.set(f, (served.get(f) ?? 0) + 1)
      return f
    }
    return { slow: take(active.find((f) => f.kind === "slow")), failure: take(active.find((f) => f.kind !== "slow")) }
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer)
        resolve()
      }, ms)
      timers.add(timer)
    })

  const send = (
    res: ServerResponse,
    status: number,
    contentType: string,
    body: string,
    headers: Record<string, string> = {}
  ) => {
    if (res.destroyed) return
    res.writeHead(status, { "content-type": contentType, "content-length": Buffer.byteLength(body), ...headers })
    res.end(body)
  }

  /** A metadata answer, with its body dripped or padded when a fault says so; stops when the client goes away. */
  const sendMetadata = async (res: ServerResponse, answer: MetadataAnswer) => {
    const { delivery } = answer
    if (delivery === undefined) return send(res, answer.status, answer.contentType, answer.body)
    let closed = false
    res.once("close", () => (closed = true))
    if ("dripEveryMs" in delivery) {
      const body = Buffer.from(answer.body)
      res.writeHead(answer.status, { "content-type": answer.contentType, "content-length": body.length })
      for (let i = 0; i < body.length && !closed; i++) {
        res.write(body.subarray(i, i + 1))
        await sleep(delivery.dripEveryMs)
      }
      if (!closed) res.end()
      return
    }
    // `{"Padding":"xxx…",` and then the body's own fields: chunked, as the client reads it.
    res.writeHead(answer.status, { "content-type": answer.contentType })
    res.write(`{"Padding":"`)
    const padding = Buffer.alloc(64 * 1024, "x")
    for (let left = delivery.paddingBytes; left > 0 && !closed; left -= padding.length) {
      if (res.write(padding.subarray(0, Math.min(left, padding.length)))) continue
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off("drain", go).off("close", go)
          resolve()
        }
        res.on("drain", go).on("close", go)
      })
    }
    if (!closed) res.end(`",${answer.body.slice(1)}`)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const t = now() - startedAt
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (req.method === "GET" && url.pathname === "/_simulator/requests") {
      return send(
        res,
        200,
        "application/json",
        JSON.stringify(log.filter((r) => r !== undefined))
      )
    }
    if (req.method === "GET" && url.pathname === "/_simulator/scenario") {
      return send(res, 200, "application/json", JSON.stringify(scenario))
    }

    // A slot at arrival keeps the log in arrival order when answers are delayed.
    const slot = log.push(undefined) - 1
    const record = (entry: Omit<RecordedRequest, "t">) => (log[slot] = { t, ...entry })
    const body = await readBody(req)

    const answerWithFaults = async <A extends { readonly status: number; readonly errorCode?: string }>(
      api: Fault["api"],
      action: string,
      params: Record<string, unknown>,
      onFault: (fault: Fault) => A | undefined,
      normal: () => A,
      write: (answer: A) => void,
      /** The API's answer to a request signed too far from its clock. */
      onSkew: (message: string) => A = normal
    ) => {
      const { slow, failure } = faultsAt(api, action, t)
      if (failure?.kind === "not-ready") {
        record({ api, action, params, status: 0, errorCode: "ECONNRESET" })
        req.socket.destroy()
        return
      }
      if (slow !== undefined) await sleep(slow.delayMs ?? 1000)
      let skewed: A | undefined
      if (failure?.kind === "clock-skew") {
        // This server's clock runs ahead: every answer's Date header says so (the SDK
        // corrects its clock from it), and a signature more than 5 minutes off is refused.
        const serverNow = Date.now() + (failure.skewMs ?? 0)
        res.setHeader("date", new Date(serverNow).toUTCString())
        const signedAt = amzDate(req.headers["x-amz-date"])
        if (signedAt !== undefined && Math.abs(serverNow - signedAt) > 300_000) {
          skewed = onSkew(
            `Signature expired: ${amzDateText(signedAt)} is now earlier than ${amzDateText(serverNow - 300_000)} (${
              amzDateText(serverNow)
            } - 5 min.)`
          )
        }
      }
      const answer = skewed ??
        (failure === undefined || failure.kind === "clock-skew" ? undefined : onFault(failure)) ?? normal()
      record({
        api,
        action,
        params,
        status: answer.status,
        ...(answer.errorCode === undefined ? {} : { errorCode: answer.errorCode })
      })
      write(answer)
    }

    // The ECS container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), as the agent serves a task role.
    if (req.method === "GET" && url.pathname === `/v2/credentials/${endpointId}`) {
      return answerWithFaults(
        "credentials",
        "task-role",
        {},
        (fault) => credentialsFault(scenario, fault),
        () => ({
          status: 200,
          body: JSON.stringify({
            RoleArn: `arn:aws:iam::${scenario.accountId}:role/${scenario.task.family}-task`,
            AccessKeyId: "ASIASIMULATEDKEY0001",
            SecretAccessKey: "simulated/secret/access/key/0000000000",
            Token: "simulated-session-token",
            Expiration: new Date(Date.now() + 6 * 3600_000).toISOString()
          })
        }),
        (answer) => send(res, answer.status, "application/json", answer.body)
      )
    }

    const metadata = url.pathname.match(/^\/v4\/([^/]+)(\/task)?\/?$/)
    if (req.method === "GET" && metadata !== null) {
      const action = metadata[2] === undefined ? "container" : "task"
      if (metadata[1] !== endpointId) {
        const answer = metadataNotFound(action, metadata[1] ?? "")
        record({ api: "metadata", action, params: {}, status: answer.status })
        return send(res, answer.status, answer.contentType, answer.body)
      }
      const normal = () =>
        metadataOk(action === "task" ? taskBody(scenario, wallStart) : containerMetadataBody(scenario, wallStart))
      return answerWithFaults(
        "metadata",
        action,
        {},
        (fault) => metadataFault(scenario, fault, action, endpointId, normal),
        normal,
        (answer) => void sendMetadata(res, answer)
      )
    }

    const target = req.headers["x-amz-target"]
    if (req.method === "POST" && typeof target === "string" && target.startsWith(ecsTargetPrefix)) {
      const requestId = randomUUID()
      const action = target.slice(ecsTargetPrefix.length)
      const write = (answer: JsonAnswer) =>
        send(res, answer.status, "application/x-amz-json-1.1", JSON.stringify(answer.body), {
          "x-amzn-requestid": requestId,
          ...(answer.errorCode === undefined ? {} : { "x-amzn-errortype": answer.errorCode })
        })
      let params: Record<string, unknown>
      try {
        const parsed: unknown = body === "" ? {} : JSON.parse(body)
        if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not an object")
        params = parsed as Record<string, unknown>
      } catch {
        const answer = ecsError(400, "SerializationException", "Start of structure or map found where not expected.")
        record({ api: "ecs", action, params: {}, status: answer.status, errorCode: "SerializationException" })
        return write(answer)
      }
      const onFault = (fault: Fault) =>
        fault.kind === "signature-mismatch"
          ? ecsError(400, "InvalidSignatureException", signatureMismatchMessage(req, body))
          : ecsFault(scenario, fault, action, params)
      return answerWithFaults(
        "ecs",
        action,
        params,
        onFault,
        () => handleEcs(scenario, action, params, wallStart, t),
        write,
        (message) => ecsError(400, "InvalidSignatureException", message)
      )
    }

    if (req.method === "POST") {
      const form = new URLSearchParams(body)
      const action = form.get("Action")
      if (action !== null && action !== "") {
        const requestId = randomUUID()
        const params = Object.fromEntries(form)
        const write = (answer: XmlAnswer) =>
          send(res, answer.status, "text/xml", answer.body, { "x-amzn-requestid": requestId })
        if (form.get("Version") !== "2015-12-01") {
          const answer = elbError(
            400,
            "InvalidAction",
            `Could not find operation ${action} for version ${form.get("Version") ?? "NO_VERSION_SPECIFIED"}`,
            requestId
          )
          record({ api: "elbv2", action, params, status: answer.status, errorCode: "InvalidAction" })
          return write(answer)
        }
        return answerWithFaults(
          "elbv2",
          action,
          params,
          (fault) =>
            fault.kind === "signature-mismatch"
              ? elbError(403, "SignatureDoesNotMatch", signatureMismatchMessage(req, body), requestId)
              : elbFault(scenario, fault, action, form, t, requestId),
          () => handleElbv2(scenario, action, form, t, requestId),
          write,
          (message) => elbError(403, "SignatureDoesNotMatch", message, requestId)
        )
      }
    }

    record({ api: "other", action: `${req.method} ${url.pathname}`, params: {}, status: 404 })
    return send(res, 404, "text/plain; charset=utf-8", "404 page not found\n")
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, "text/plain", String(error)))
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
    metadataUri: `${endpoint}/v4/${endpointId}`,
    credentialsUri: `${endpoint}/v2/credentials/${endpointId}`,
    region: scenario.region,
    scenario,
    startedAt,
    requests: () => log.filter((r) => r !== undefined),
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
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
