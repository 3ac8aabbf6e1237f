// What to change for the sidecar to do better, from the settings, the target
// groups as AWS describes them and the permissions that were tried. Pure.
import type { Settings } from "../layers/Config.ts"
import { optionalActions } from "./checkPermissions.ts"
import type { CheckReport, PermissionUse } from "./checkReport.ts"

const isAlb = (protocol: string | null) => protocol === "HTTP" || protocol === "HTTPS"

/** Advice from the settings, the target groups as AWS describes them, and the permissions that were tried. */
export const advise = (
  settings: Pick<Settings, "deregistrationWaitSeconds" | "drainStrategy" | "drainMinWaitSeconds">,
  groups: CheckReport["targetGroups"],
  permissions: ReadonlyArray<PermissionUse>
): Array<string> => {
  const wait = settings.deregistrationWaitSeconds
  return [
    ...groups.flatMap((g) => [
      ...(g.deregistrationDelaySeconds !== null && wait >= g.deregistrationDelaySeconds
        ? [
          `DEREGISTRATION_WAIT=${wait} is not below the deregistration delay of ${g.arn} (${g.deregistrationDelaySeconds} s): ECS stops the task before the sidecar would, which saves nothing; lower DEREGISTRATION_WAIT or raise the delay`
        ]
        : []),
      ...(!isAlb(g.protocol) && settings.drainStrategy === "connections" &&
          settings.drainMinWaitSeconds !== undefined && settings.drainMinWaitSeconds < 120
        ? [
          `DRAIN_MIN_WAIT=${settings.drainMinWaitSeconds} with the Network Load Balancer group ${g.arn}: an NLB goes on routing new connections to a deregistering target for about two minutes; a floor under 120 s may cut them off`
        ]
        : []),
      ...(isAlb(g.protocol) && settings.drainStrategy === "fixed" && wait > 30
        ? [
          `${g.arn} is an Application Load Balancer group, which stops sending new requests at once: DRAIN_STRATEGY=connections exits when the last request is done instead of after ${wait} s`
        ]
        : [])
    ]),
    ...permissions.filter((p) => p.optional === true && !p.ok).map((p) =>
      `${p.action} failed (${p.error ?? "error"}): grant it to the task role (optional) for ${
        optionalActions[p.action] ?? "more detail"
      }`
    )
  ]
}

/** Connections from inside the task hold a target port like clients do: `connections` waits for them too. */
export const loopbackAdvice = (drain: CheckReport["drain"]): Array<string> =>
  (drain?.ports ?? []).filter((p) => p.loopbackPeers.length > 0).map((p) =>
    `port ${p.port} has connections from loopback peers (${
      p.loopbackPeers.join(", ")
    }): a metrics scraper or a proxy's pool inside the task holds the port like a client, so DRAIN_STRATEGY=connections waits for it to close (up to DEREGISTRATION_WAIT); serve those on a port of their own`
  )
