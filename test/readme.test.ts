// The README against the code: the settings table (names and defaults), the
// task definitions, the IAM policy, the exit codes, the troubleshooting
// messages, the first screen and the links. test/e2e/readme.test.ts runs its
// commands.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, normalize } from "node:path"
import packageJson from "../package.json" with { type: "json" }
import { scenarioNames } from "../simulator/scenarios.ts"
import { ConfigInvalid, ExitCode } from "../src/errors.ts"
import { readSettings, type Settings } from "../src/layers/Config.ts"
import {
  anchorsOf,
  codeBlocks,
  codeSpans,
  configVariables,
  readRepoFile,
  relativeLinks,
  root,
  type SettingsCode,
  settingsTableProblems,
  sourceMessagePatterns,
  tableWithHeader
} from "./support/readme.ts"

const readme = readRepoFile("README.md")

/** Which variable(s) each setting is read from; a new setting must be added here (the test says so). */
const variablesOf: Record<keyof Settings, ReadonlyArray<string>> = {
  deregistrationWaitSeconds: ["DEREGISTRATION_WAIT"],
  drainStrategy: ["DRAIN_STRATEGY"],
  drainMinWaitSeconds: ["DRAIN_MIN_WAIT"],
  drainIdleSeconds: ["DRAIN_IDLE_SECONDS"],
  pollingFrequencySeconds: ["POLLING_FREQUENCY"],
  targetContainerName: ["TARGET_CONTAINER_NAME"],
  drainExitCode: ["DRAIN_EXIT_CODE"],
  logLevel: ["LOG_LEVEL"],
  logFormat: ["LOG_FORMAT"],
  region: ["AWS_REGION", "AWS_DEFAULT_REGION"],
  startupTimeoutSeconds: ["STARTUP_TIMEOUT"],
  targetGroupArns: ["TARGET_GROUP_ARNS"],
  dryRun: ["DRY_RUN"],
  metadataUri: ["ECS_CONTAINER_METADATA_URI_V4"],
  heartbeatFile: ["HEARTBEAT_FILE"],
  metrics: ["METRICS"],
  metricsNamespace: ["METRICS_NAMESPACE"]
}

const parse: SettingsCode["parse"] = (env) =>
  Effect.runSync(readSettings(env).pipe(Effect.catch((error) => Effect.succeed({ refused: error.variable }))))

const settingsCode: SettingsCode = {
  variables: configVariables(readRepoFile("src/layers/Config.ts")),
  defaults: Effect.runSync(readSettings({})),
  variablesOf,
  parse,
  // The table writes the default heartbeat file as `$TMPDIR/…`, as node's os.tmpdir() finds it.
  expand: (literal) => literal.replace(/^\$TMPDIR(?=\/)/, tmpdir())
}

/** The README with one line replaced (or removed, with `by` undefined). */
const edited = (find: RegExp, by: string | undefined) => {
  const lines = readme.split("\n")
  const at = lines.findIndex((l) => find.test(l))
  expect(at, `no README line matches ${find}`).toBeGreaterThan(-1)
  return [...lines.slice(0, at), ...(by === undefined ? [] : [by]), ...lines.slice(at + 1)].join("\n")
}

describe("README: the settings table", () => {
  it("lists every variable the code reads, and no other, with the code's defaults", () => {
    expect(settingsTableProblems(readme, settingsCode)).toEqual([])
  })

  it("the variables found in src/layers/Config.ts are the ones readSettings reads: an empty value is refused by name", () => {
    expect(settingsCode.variables.length).toBeGreaterThanOrEqual(17)
    for (const variable of settingsCode.variables) {
      expect(parse({ [variable]: "" }), variable).toEqual({ refused: variable })
    }
  })

  it.each<[string, RegExp, string | undefined, string]>([
    [
      "a missing row",
      /^\| `DRAIN_IDLE_SECONDS` \|/,
      undefined,
      "DRAIN_IDLE_SECONDS: read by src/layers/Config.ts, but no row in the README's settings table"
    ],
    [
      "an extra row",
      /^\| `DRY_RUN` \|/,
      "| `DRY_RUN` | `false` | … |\n| `IDLE_TIMEOUT` | `60` | not a setting |",
      "IDLE_TIMEOUT: a row in the README's settings table, but src/layers/Config.ts does not read it"
    ],
    [
      "a different default",
      /^\| `POLLING_FREQUENCY` \|/,
      "| `POLLING_FREQUENCY` | `60` | seconds between polls |",
      "POLLING_FREQUENCY: the README's default is \"60\", the code's is 30"
    ],
    [
      "a default where the code has none",
      /^\| `DRAIN_MIN_WAIT` \|/,
      "| `DRAIN_MIN_WAIT` | `120` | the floor |",
      "DRAIN_MIN_WAIT: the README's default is \"120\", the code's is undefined"
    ],
    [
      "no default where the code has one",
      /^\| `LOG_LEVEL` \|/,
      "| `LOG_LEVEL` | unset | the level |",
      "LOG_LEVEL: the README's default is \"unset\" (no value), the code's is \"info\""
    ]
  ])("fails when the table has %s", (_, line, replacement, problem) => {
    expect(settingsTableProblems(edited(line, replacement), settingsCode)).toEqual([problem])
  })

  it("fails when the code changes and the table does not: another default, a new variable", () => {
    const defaults = { ...settingsCode.defaults, pollingFrequencySeconds: 45 }
    expect(settingsTableProblems(readme, { ...settingsCode, defaults })).toEqual([
      "POLLING_FREQUENCY: the README's default is \"30\", the code's is 45"
    ])
    const variables = [...settingsCode.variables, "IDLE_TIMEOUT"]
    const variablesOf = { ...settingsCode.variablesOf, idleTimeoutSeconds: ["IDLE_TIMEOUT"] }
    expect(settingsTableProblems(readme, { ...settingsCode, variables, variablesOf })).toEqual([
      "IDLE_TIMEOUT: read by src/layers/Config.ts, but no row in the README's settings table"
    ])
  })

  it("a setting the test does not know fails too, so the map above stays whole", () => {
    const { region: _, ...withoutRegion } = variablesOf
    expect(settingsTableProblems(readme, { ...settingsCode, variablesOf: withoutRegion })).toEqual([
      "AWS_REGION: read by the code, but the test does not know which setting it sets",
      "AWS_DEFAULT_REGION: read by the code, but the test does not know which setting it sets",
      "setting region: the test does not know which variable sets it"
    ])
  })
})

interface ContainerDefinition {
  readonly name: string
  readonly image: string
  readonly essential?: boolean
  readonly memory?: number
  readonly environment?: ReadonlyArray<{ readonly name: string; readonly value: string }>
  readonly dependsOn?: ReadonlyArray<{ readonly containerName: string; readonly condition: string }>
  readonly healthCheck?: { readonly command: ReadonlyArray<string> }
  readonly logConfiguration?: unknown
}

interface TaskDefinition {
  readonly networkMode: string
  readonly requiresCompatibilities: ReadonlyArray<string>
  readonly taskRoleArn?: string
  readonly containerDefinitions: ReadonlyArray<ContainerDefinition>
}

const jsonBlocks = codeBlocks(readme).filter((b) => b.lang === "json")
const parsed = jsonBlocks.map((b) => ({ line: b.line, value: JSON.parse(b.text) as Record<string, unknown> }))
const taskDefinitions = parsed.filter((b) => "containerDefinitions" in b.value).map((b) => ({
  line: b.line,
  task: b.value as unknown as TaskDefinition
}))
const containerSnippets = parsed.filter((b) => "image" in b.value).map((b) => ({
  line: b.line,
  container: b.value as unknown as ContainerDefinition
}))
const sidecars = [
  ...taskDefinitions.flatMap(({ line, task }) => task.containerDefinitions.map((container) => ({ line, container }))),
  ...containerSnippets
].filter(({ container }) => container.image.includes("nlb-sidecar-for-ecs"))

const dockerfile = readRepoFile("Dockerfile")
const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]") as ReadonlyArray<string>

describe("README: task definitions", () => {
  it("every json block parses, and is a task definition, a container definition or an IAM policy", () => {
    expect(jsonBlocks.length).toBeGreaterThanOrEqual(4)
    for (const { line, value } of parsed) {
      expect(
        "containerDefinitions" in value || "image" in value || "Statement" in value,
        `README line ${line}: a json block of an unknown kind`
      ).toBe(true)
    }
  })

  it("has a Fargate and an EC2 bridge task definition", () => {
    const modes = taskDefinitions.map(({ task }) => `${task.requiresCompatibilities.join()} ${task.networkMode}`)
    expect(modes).toEqual(["FARGATE awsvpc", "EC2 bridge"])
  })

  it("each sidecar container names only settings the table lists, with values the sidecar accepts", () => {
    const names = tableWithHeader(readme, "variable", "default", "meaning").rows.flatMap(([variable = ""]) =>
      codeSpans(variable)
    )
    expect(sidecars.length).toBeGreaterThanOrEqual(3)
    for (const { line, container } of sidecars) {
      const environment = container.environment ?? []
      for (const { name } of environment) expect(names, `README line ${line}: ${name}`).toContain(name)
      const env = Object.fromEntries(environment.map((e) => [e.name, e.value]))
      expect(parse(env), `README line ${line}`).not.toHaveProperty("refused")
    }
  })

  it("each sidecar is essential, starts after the app, has the recommended memory and the released image's tag", () => {
    for (const { line, container } of sidecars) {
      expect(container.essential, `README line ${line}`).toBe(true)
      expect(container.memory, `README line ${line}`).toBe(96)
      expect(container.dependsOn, `README line ${line}`).toEqual([{ containerName: "app", condition: "START" }])
      expect(container.image, `README line ${line}`).toMatch(
        new RegExp(`:${packageJson.version.replace(/\./g, "\\.")}$`)
      )
    }
  })

  it("the Fargate task is complete: task role, logs and the exec-form health check with the image's paths", () => {
    const fargate = taskDefinitions.find(({ task }) => task.requiresCompatibilities.includes("FARGATE"))?.task
    const sidecar = fargate?.containerDefinitions.find((c) => c.image.includes("nlb-sidecar-for-ecs"))
    expect(fargate?.taskRoleArn).toBeDefined()
    expect(sidecar?.logConfiguration).toBeDefined()
    const main = entrypoint.find((a) => a.endsWith("/dist/main.js"))
    expect(entrypoint[0]).toBe("/usr/local/bin/node")
    expect(sidecar?.healthCheck?.command).toEqual(["CMD", entrypoint[0], main, "healthcheck"])
  })

  it("TARGET_CONTAINER_NAME names a container of its task", () => {
    for (const { line, task } of taskDefinitions) {
      for (const c of task.containerDefinitions) {
        const named = c.environment?.find((e) => e.name === "TARGET_CONTAINER_NAME")?.value
        if (named !== undefined) {
          expect(task.containerDefinitions.map((d) => d.name), `README line ${line}`).toContain(named)
        }
      }
    }
  })
})

describe("README: IAM permissions", () => {
  it("the policy grants exactly the actions the table names", () => {
    const table = tableWithHeader(readme, "mode", "actions")
    const inTable = new Set(
      table.rows.flatMap(([, actions = ""]) => codeSpans(actions)).filter((a) => /^[a-z]+:\w+$/.test(a))
    )
    const policy = parsed.find((b) => "Statement" in b.value)?.value as
      | { readonly Statement: ReadonlyArray<{ readonly Action: ReadonlyArray<string> }> }
      | undefined
    expect(new Set(policy?.Statement.flatMap((s) => s.Action))).toEqual(inTable)
    expect(inTable.size).toBe(6)
  })
})

describe("README: exit codes and troubleshooting", () => {
  it("the exit code table has a row, with what to do, for each code in src/errors.ts, and no other", () => {
    const table = tableWithHeader(readme, "code", "when", "what to do")
    const codes = table.rows.map(([code = ""]) => Number(code))
    expect(new Set(codes)).toEqual(new Set(Object.values(ExitCode)))
    expect(codes.length).toBe(new Set(codes).size)
    for (const [code, , what = ""] of table.rows) expect(what.length, `exit code ${code}`).toBeGreaterThan(10)
  })

  it("every log line in the troubleshooting table is one the code writes", () => {
    const table = tableWithHeader(readme, "log line (`message`)", "level")
    const patterns = sourceMessagePatterns()
    expect(table.rows.length).toBeGreaterThanOrEqual(15)
    for (const [message = ""] of table.rows) {
      const text = /^`(.+)`$/.exec(message)?.[1]
      expect(text, message).toBeDefined()
      expect(patterns.some((p) => p.test(text!)), `no message in src/ reads ${JSON.stringify(text)}`).toBe(true)
    }
  })

  it("a message the code does not write fails", () => {
    const patterns = sourceMessagePatterns()
    const written = "target still draining from an earlier task"
    expect(patterns.some((p) => p.test(written))).toBe(true)
    expect(patterns.some((p) => p.test("target still draining from a previous task"))).toBe(false)
    expect(patterns.some((p) => p.test("DEREGISTRATION_WAIT=\"abc\" is invalid: expected whole seconds"))).toBe(true)
    expect(patterns.some((p) => p.test("DEREGISTRATION_WAIT=\"abc\" is not valid: expected whole seconds"))).toBe(
      false
    )
  })

  it("ConfigInvalid's message reads as the table shows it", () => {
    const error = Effect.runSync(Effect.flip(readSettings({ DEREGISTRATION_WAIT: "abc" })))
    expect(error).toBeInstanceOf(ConfigInvalid)
    expect(readme).toContain(`| \`${error.message}\` |`)
  })
})

describe("README: the first screen and the commands", () => {
  it("shows the two commands on the first screen (24 lines)", () => {
    const firstScreen = readme.split("\n").slice(0, 24).join("\n")
    const block = codeBlocks(firstScreen).find((b) => b.lang === "sh")
    const commands = block?.text.split("\n").map((l) => l.replace(/#.*$/, "").trim())
    expect(commands).toEqual(["npm ci && npm run demo", "npm test"])
  })

  it("npm run demo is the build and scripts/demo.ts, and CI runs npm ci and npm test", () => {
    expect(packageJson.scripts.demo).toBe("npm run build && node scripts/demo.ts")
    const ci = readRepoFile(".ci/run")
    expect(ci).toMatch(/^npm ci\b/m)
    expect(ci).toMatch(/\bnpm test\b/)
  })

  it("names only scenarios the simulator has", () => {
    const named = [
      ...[...readme.matchAll(/--scenario ([a-z][a-z-]*)/g)].map((m) => m[1]!),
      ...codeSpans(/\(or ((?:`[a-z-]+`,\s)+)…\)/.exec(readme)?.[1] ?? "")
    ]
    expect(named.length).toBeGreaterThan(5)
    for (const name of named) expect(scenarioNames).toContain(name)
  })
})

describe("the documentation's links", () => {
  const documents = [
    "README.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
    "CHANGELOG.md",
    "docs/design.md",
    "docs/performance.md",
    "docs/image.md",
    "docs/migrating.md",
    "cdk/README.md"
  ]

  it.each(documents)("%s: every relative link and anchor resolves", (document) => {
    const text = readRepoFile(document)
    for (const link of relativeLinks(text)) {
      const [path = "", anchor] = link.split("#")
      const target = path === "" ? document : normalize(join(dirname(document), path))
      expect(existsSync(join(root, target)), `${document}: ${link}`).toBe(true)
      if (anchor !== undefined && target.endsWith(".md")) {
        expect(anchorsOf(readRepoFile(target)), `${document}: ${link}`).toContain(anchor)
      }
    }
  })

  it("the changelog has an entry for this version", () => {
    expect(readRepoFile("CHANGELOG.md")).toContain(`## [${packageJson.version}]`)
  })

  it("LICENSE is the Apache License 2.0 that package.json declares", () => {
    expect(packageJson.license).toBe("Apache-2.0")
    const license = readRepoFile("LICENSE")
    expect(license).toContain("Apache License\n                           Version 2.0, January 2004")
    expect(license).toContain("END OF TERMS AND CONDITIONS")
  })
})
