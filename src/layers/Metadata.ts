// ECS task metadata endpoint v4: who this task is, which containers it has
// and how their ports are published.
import { Context, Effect, Layer, Schema } from "effect"
import { get as httpGet } from "node:http"
import { get as httpsGet } from "node:https"
import { MetadataUnavailable } from "../errors.ts"
import { redact } from "../redact.ts"
import { Config } from "./Config.ts"
import { retryTransient, Startup, withinStartupTimeout } from "./Startup.ts"

// Only the fields the sidecar reads; everything else in the body is ignored,
// and anything a given agent version may omit is optional.
const PortMapping = Schema.Struct({
  ContainerPort: Schema.Finite,
  Protocol: Schema.optional(Schema.String),
  HostPort: Schema.optional(Schema.Finite),
  HostIp: Schema.optional(Schema.String)
})

const Network = Schema.Struct({
  NetworkMode: Schema.String,
  IPv4Addresses: Schema.optional(Schema.Array(Schema.String)),
  IPv6Addresses: Schema.optional(Schema.Array(Schema.String))
})

const Container = Schema.Struct({
  Name: Schema.String,
  Type: Schema.optional(Schema.String),
  KnownStatus: Schema.optional(Schema.String),
  Ports: Schema.optional(Schema.Array(PortMapping)),
  Networks: Schema.optional(Schema.Array(Network))
})

export const TaskMetadata = Schema.Struct({
  Cluster: Schema.String,
  TaskARN: Schema.String,
  Family: Schema.String,
  Revision: Schema.String,
  ServiceName: Schema.optional(Schema.String),
  LaunchType: Schema.optional(Schema.String),
  AvailabilityZone: Schema.optional(Schema.String),
  Containers: Schema.Array(Container)
})
export type TaskMetadata = typeof TaskMetadata.Type
export type ContainerMetadata = typeof Container.Type

const decodeTask = Schema.decodeUnknownEffect(TaskMetadata)

/** Decodes a `/task` body, naming the offending field when it does not fit. */
export const decodeTaskMetadata = (url: string, body: unknown): Effect.Effect<TaskMetadata, MetadataUnavailable> =>
  decodeTask(body).pipe(
    Effect.mapError((error) =>
      new MetadataUnavailable({ url: redact(url), detail: `unexpected /task body: ${error.message}`, retryable: false })
    )
  )

/** The whole request, from connecting to the body's last byte: a body that drips must not stall startup. */
const requestTimeout = "5 seconds"

/** A task's body is a few KiB; a longer one is not the agent's answer, and is not read further. */
export const maxBodyBytes = 1024 * 1024

/** What one GET of the metadata endpoint gave: the status and the body, or why there is none. */
export type MetadataAnswer = { readonly status: number; readonly text: string }
export interface MetadataGetFailure {
  readonly detail: string
}

/**
 * One GET over node:http(s), the body read only up to `maxBodyBytes` (the
 * request is destroyed past that, so nothing more is held); interrupting the
 * fiber aborts the request.
 */
export const getText = (url: string): Effect.Effect<MetadataAnswer, MetadataGetFailure> =>
  Effect.callback<MetadataAnswer, MetadataGetFailure>((resume, signal) => {
    let done = false
    const finish = (result: Effect.Effect<MetadataAnswer, MetadataGetFailure>) => {
      if (done) return
      done = true
      resume(result)
    }
    const request = (url.startsWith("https:") ? httpsGet : httpGet)(url, { signal }, (response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size <= maxBodyBytes) return void chunks.push(chunk)
        request.destroy()
        finish(Effect.fail({ detail: `body larger than ${maxBodyBytes / 1024 / 1024} MiB, not read further` }))
      })
      response.on(
        "end",
        () => finish(Effect.succeed({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
      )
      response.on("error", (error) => finish(Effect.fail({ detail: `reading the body: ${error.message}` })))
    })
    request.on("error", (error) => finish(Effect.fail({ detail: `no answer: ${error.message}` })))
  })

/** How the layer GETs the endpoint: node:http in the sidecar, a script in tests. */
export class MetadataGet
  extends Context.Service<MetadataGet, (url: string) => Effect.Effect<MetadataAnswer, MetadataGetFailure>>()(
    "nlb-sidecar/MetadataGet"
  )
{}

export class Metadata extends Context.Service<Metadata, {
  /** `GET ${ECS_CONTAINER_METADATA_URI_V4}/task`, decoded; retried while the agent is not ready, until STARTUP_TIMEOUT. */
  readonly task: Effect.Effect<TaskMetadata, MetadataUnavailable>
}>()("nlb-sidecar/Metadata") {
  /** Needs a MetadataGet: tests give it a scripted one. */
  static readonly layerNoDeps = Layer.effect(
    Metadata,
    Effect.gen(function*() {
      const settings = yield* Config
      const get = yield* MetadataGet
      const startup = yield* Startup
      const unavailable = (url: string, detail: string, retryable: boolean) =>
        new MetadataUnavailable({ url: redact(url), detail: redact(detail), retryable })
      const fail = (url: string, detail: string, retryable: boolean) => Effect.fail(unavailable(url, detail, retryable))

      const uri = settings.metadataUri
      const fetchTask = uri === undefined
        ? fail(
          "ECS_CONTAINER_METADATA_URI_V4",
          "the variable is not set: the sidecar must run in an ECS task (ECS agent 1.39.0+ or Fargate platform 1.4.0+ set it)",
          false
        )
        : Effect.suspend(() => {
          const url = `${uri.replace(/\/+$/, "")}/task`
          return get(url).pipe(
            Effect.catch((error) => fail(url, error.detail, true)),
            Effect.flatMap((response) =>
              // 429: the agent's own rate limiter; 5xx: the agent is not ready.
              response.status >= 500 || response.status === 429
                ? fail(url, `HTTP ${response.status}`, true)
                : response.status !== 200
                ? fail(url, `HTTP ${response.status}; is ECS_CONTAINER_METADATA_URI_V4 the agent's v4 URI?`, false)
                : Effect.succeed(response.text)
            ),
            Effect.timeoutOrElse({
              duration: requestTimeout,
              orElse: () => fail(url, `no complete answer within ${requestTimeout}`, true)
            }),
            Effect.flatMap((text) =>
              Effect.try({
                try: (): unknown => JSON.parse(text),
                catch: (error) => unavailable(url, `body is not JSON: ${String(error)}`, false)
              })
            ),
            Effect.flatMap((body) => decodeTaskMetadata(url, body))
          )
        })
      // The body does not change while the task runs: one read, with its retries, serves every caller.
      const task = yield* Effect.cached(fetchTask.pipe(
        retryTransient("reading task metadata"),
        withinStartupTimeout((last, seconds) =>
          unavailable(
            settings.metadataUri ?? "ECS_CONTAINER_METADATA_URI_V4",
            `no usable answer within STARTUP_TIMEOUT=${seconds}s${
              last === undefined ? "" : `; last: ${last.error.message}`
            }`,
            true
          )
        ),
        Effect.provideService(Startup, startup),
        Effect.withSpan("Metadata.task")
      ))
      return Metadata.of({ task })
    })
  )

  static readonly layer = Metadata.layerNoDeps.pipe(Layer.provide(Layer.succeed(MetadataGet, getText)))

  static readonly layerTest = (task: Effect.Effect<TaskMetadata, MetadataUnavailable>) =>
    Layer.succeed(Metadata, Metadata.of({ task }))
}
