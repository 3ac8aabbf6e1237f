// The task role's IAM actions by mode, from permissions.json: the README's IAM table in data,
// which the construct grants from and a test holds the README to.
import permissions from "./permissions.json" with { type: "json" }

export type PermissionMode =
  | "awsvpcServiceName"
  | "awsvpc"
  | "bridgeOrHost"
  | "taskSets"
  | "targetGroupArnsAwsvpc"
  | "targetGroupArnsBridgeOrHost"
  | "optional"

export interface PermissionRow {
  readonly id: PermissionMode
  /** The README table's `mode` cell, word for word. */
  readonly mode: string
  readonly actions: ReadonlyArray<string>
}

export const permissionRows: ReadonlyArray<PermissionRow> = permissions.modes.map((row) => ({
  ...row,
  id: row.id as PermissionMode
}))

/** The actions of one row of the table. */
export const actionsOf = (id: PermissionMode): ReadonlyArray<string> => {
  const row = permissionRows.find((r) => r.id === id)
  if (row === undefined) throw new Error(`permissions.json has no mode ${id}`)
  return row.actions
}

/**
 * The mode's actions, and the optional ones unless left out, each once, ELBv2 first.
 * (awsvpc on EC2 takes the row that works with every ECS agent: the agent's version is not
 * known at synthesis. That row also holds every action of a task set's, so CODE_DEPLOY and
 * EXTERNAL services need no row of their own here.)
 */
export const actionsFor = (
  network: "awsvpc" | "bridgeOrHost",
  options: { readonly targetGroupArns: boolean; readonly optional: boolean }
): ReadonlyArray<string> => {
  const mode: PermissionMode = options.targetGroupArns
    ? (network === "awsvpc" ? "targetGroupArnsAwsvpc" : "targetGroupArnsBridgeOrHost")
    : network
  const actions = new Set([...actionsOf(mode), ...(options.optional ? actionsOf("optional") : [])])
  return [...actions].sort((a, b) => serviceOrder(a) - serviceOrder(b) || a.localeCompare(b))
}

const serviceOrder = (action: string) => (action.startsWith("elasticloadbalancing:") ? 0 : 1)
