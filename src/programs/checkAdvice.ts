// What to change for the sidecar to do better, from the settings, the target
// groups as AWS describes them and the permissions that were tried. Pure.
import type { Settings } from "../layers/Config.ts"
import { optionalActions } from "./checkPermissions.ts"
import type { CheckReport, PermissionUse } from "./checkReport.ts"

/**
 * Advice from the settings, the target groups as AWS describes them, and the permissions that were
 * tried; the drain strategy gives its own (`advise`, on the strategy `DrainStrategy.decide` returns).
 */
export const advise = (
  settings: Pick<Settings, "deregistrationWaitSeconds">,
  groups: CheckReport["targetGroups"],
  permissions: ReadonlyArray<PermissionUse>
): Array<string> => {
  const wait = settings.deregistrationWaitSeconds
  return [
    ...groups.flatMap((g) =>
      g.deregistrationDelaySeconds !== null && wait >= g.deregistrationDelaySeconds
        ? [
          `DEREGISTRATION_WAIT=${wait} is not below the deregistration delay of ${g.arn} (${g.deregistrationDelaySeconds} s): ECS stops the task before the sidecar would, which saves nothing; lower DEREGISTRATION_WAIT or raise the delay`
        ]
        : []
    ),
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
