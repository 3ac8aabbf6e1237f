// The sidecar's main job: discover, watch, wait out the deregistration, exit.
import { Duration, Effect } from "effect"
import { Drained } from "../errors.ts"
import { Config } from "../layers/Config.ts"
import { redact } from "../redact.ts"
import { discoverStandaloneTargets } from "./discoverStandaloneTargets.ts"
import { discoverTargets } from "./discoverTargets.ts"
import { watchUntilDeregistering } from "./watchTargets.ts"

export const sidecar = Effect.gen(function*() {
  const settings = yield* Config
  const metadataUri = settings.metadataUri === undefined ? undefined : redact(settings.metadataUri)
  yield* Effect.logInfo("configuration").pipe(Effect.annotateLogs({ ...settings, metadataUri }))

  const discovery = yield* (settings.targetGroupArns.length > 0 ? discoverStandaloneTargets : discoverTargets)
  yield* Effect.logInfo("watching targets").pipe(Effect.annotateLogs({
    cluster: discovery.cluster,
    taskArn: discovery.taskArn,
    service: discovery.serviceName ?? null,
    networkMode: discovery.networkMode,
    targets: discovery.targets.map((t) => ({ targetGroupArn: t.targetGroupArn, targetId: t.id, port: t.port, container: t.containerName }))
  }))

  const leaving = yield* watchUntilDeregistering(discovery.targets)
  const target = { targetGroupArn: leaving.target.targetGroupArn, targetId: leaving.target.id, port: leaving.target.port }
  yield* Effect.logInfo("waiting before exit").pipe(
    Effect.annotateLogs({ ...target, deregistrationWaitSeconds: settings.deregistrationWaitSeconds })
  )
  yield* Effect.sleep(Duration.seconds(settings.deregistrationWaitSeconds))

  if (settings.dryRun) {
    // Rolling the sidecar out: show when it would have stopped the task, and do not.
    yield* Effect.logInfo(`dry run: would exit with code ${settings.drainExitCode}`).pipe(Effect.annotateLogs(target))
    return yield* Effect.never
  }
  return yield* new Drained({ exitCode: settings.drainExitCode, waitedSeconds: settings.deregistrationWaitSeconds, ...target })
})
