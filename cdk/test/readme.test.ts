// The README's IAM permissions table is the one list of actions: permissions.json holds it row by
// row, and the policy the construct synthesises for each mode grants exactly that row's actions.
import { describe, expect, it } from "vitest"
import { codeSpans, readRepoFile, tableWithHeader } from "../../test/support/readme.ts"
import { permissionRows } from "../src/permissions.ts"
import { actionsOfStatements, sidecarStatements, type TaskKind, withSidecar } from "./stacks.ts"

/** The table's rows: `mode` cell and actions; "the above and …" adds to the row above. */
const readmeRows = tableWithHeader(readRepoFile("README.md"), "mode", "actions").rows.reduce<
  Array<{ readonly mode: string; readonly actions: ReadonlySet<string> }>
>((rows, [mode = "", cell = ""]) => {
  const named = codeSpans(cell).filter((a) => /^[a-z]+:\w+$/.test(a))
  const above = cell.startsWith("the above and ") ? [...(rows.at(-1)?.actions ?? [])] : []
  return [...rows, { mode, actions: new Set([...above, ...named]) }]
}, [])

const readmeActions = (mode: string): ReadonlySet<string> => {
  const row = readmeRows.find((r) => r.mode === mode)
  if (row === undefined) throw new Error(`the README's IAM table has no mode ${JSON.stringify(mode)}`)
  return row.actions
}

describe("the README's IAM permissions table", () => {
  it("is what permissions.json holds, row by row", () => {
    expect(readmeRows.length).toBe(7)
    expect(readmeRows).toEqual(permissionRows.map((r) => ({ mode: r.mode, actions: new Set(r.actions) })))
  })

  it("a task set's actions are in every service row the construct grants, so CODE_DEPLOY and EXTERNAL need no row of their own", () => {
    const taskSets = readmeActions(
      "`CODE_DEPLOY` or `EXTERNAL` deployment controller (task sets), awsvpc; in bridge or host, as their row"
    )
    for (
      const mode of [
        "awsvpc on Fargate (its metadata has no `ServiceName`), or older EC2 agents",
        "bridge or host (EC2)"
      ]
    ) {
      expect([...taskSets].filter((a) => !readmeActions(mode).has(a)), mode).toEqual([])
    }
  })

  describe.each<[TaskKind, boolean, string]>([
    ["fargate", false, "awsvpc on Fargate (its metadata has no `ServiceName`), or older EC2 agents"],
    ["ec2-awsvpc", false, "awsvpc on Fargate (its metadata has no `ServiceName`), or older EC2 agents"],
    ["bridge", false, "bridge or host (EC2)"],
    ["host", false, "bridge or host (EC2)"],
    ["fargate", true, "`TARGET_GROUP_ARNS`, awsvpc"],
    ["bridge", true, "`TARGET_GROUP_ARNS`, bridge or host"]
  ])("%s task, TARGET_GROUP_ARNS %s: the synthesised policy grants the row %s", (kind, withArns, mode) => {
    it.each([false, true])("with the optional actions: %s", (optional) => {
      const task = withSidecar(kind, (s) => ({
        service: s.service,
        optionalPermissions: optional,
        ...(withArns ? { targetGroupArns: [s.targetGroup.targetGroupArn] } : {})
      }))
      const granted = actionsOfStatements(sidecarStatements(task.synth()))
      expect(granted.length).toBe(new Set(granted).size)
      const expected = new Set([...readmeActions(mode), ...(optional ? readmeActions("optional, any mode") : [])])
      expect(new Set(granted)).toEqual(expected)
    })
  })
})
