// Reading the README as data: its tables, code blocks, links and headings, and
// the comparisons that hold it to the code (the settings table against
// src/layers/Config.ts, log messages against the strings in src/).
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../../", import.meta.url))
export const readRepoFile = (path: string): string => readFileSync(join(root, path), "utf8")

export interface CodeBlock {
  readonly lang: string
  readonly text: string
  /** 1-based line of the opening fence. */
  readonly line: number
}

export const codeBlocks = (markdown: string): ReadonlyArray<CodeBlock> => {
  const blocks: Array<CodeBlock> = []
  const lines = markdown.split("\n")
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? "")
    if (open === null) continue
    const end = lines.findIndex((l, j) => j > i && l.startsWith("```"))
    if (end === -1) throw new Error(`line ${i + 1}: a code block that never closes`)
    blocks.push({ lang: open[1] ?? "", text: lines.slice(i + 1, end).join("\n"), line: i + 1 })
    i = end
  }
  return blocks
}

/** The Markdown outside code blocks (tables and prose only). */
export const prose = (markdown: string): string => markdown.replace(/^```[^\n]*\n[\s\S]*?^```[^\n]*$/gm, "")

/** One table row's cells, split on `|` outside backticks. */
const cells = (row: string): Array<string> => {
  const out: Array<string> = []
  let cell = ""
  let inCode = false
  for (const c of row.trim().replace(/^\|/, "").replace(/\|$/, "")) {
    if (c === "`") inCode = !inCode
    if (c === "|" && !inCode) {
      out.push(cell.trim())
      cell = ""
    } else cell += c
  }
  out.push(cell.trim())
  return out
}

export interface Table {
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

export const tables = (markdown: string): ReadonlyArray<Table> => {
  const found: Array<Table> = []
  let current: Array<string> = []
  const flush = () => {
    if (current.length >= 2 && /^\|[\s|:-]+\|?$/.test(current[1] ?? "")) {
      found.push({ header: cells(current[0] ?? ""), rows: current.slice(2).map(cells) })
    }
    current = []
  }
  for (const line of prose(markdown).split("\n")) {
    if (line.startsWith("|")) current.push(line)
    else flush()
  }
  flush()
  return found
}

/** The table whose header starts with these cells. */
export const tableWithHeader = (markdown: string, ...first: ReadonlyArray<string>): Table => {
  const matching = tables(markdown).filter((t) => first.every((h, i) => t.header[i] === h))
  if (matching.length !== 1) {
    throw new Error(`expected one table with the header ${first.join(" | ")}, found ${matching.length}`)
  }
  return matching[0]!
}

/** The text of each `code span` in a cell. */
export const codeSpans = (cell: string): ReadonlyArray<string> => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)

// The settings table.

export interface SettingRow {
  /** The variables the row documents (`AWS_REGION` / `AWS_DEFAULT_REGION` is one row). */
  readonly names: ReadonlyArray<string>
  /** The default as a value, when the cell starts with a code span; otherwise the default is "none". */
  readonly literal: string | undefined
  readonly defaultCell: string
}

export const settingRows = (readme: string): ReadonlyArray<SettingRow> =>
  tableWithHeader(readme, "variable", "default", "meaning").rows.map(([variable = "", defaultCell = ""]) => ({
    names: codeSpans(variable).filter((n) => /^[A-Z][A-Z0-9_]*$/.test(n)),
    literal: /^`([^`]*)`/.exec(defaultCell)?.[1],
    defaultCell
  }))

/** The variables src/layers/Config.ts declares with `variable("NAME", …)`. */
export const configVariables = (configSource: string): ReadonlyArray<string> =>
  [...configSource.matchAll(/\bvariable\(\s*"([A-Z][A-Z0-9_]*)"/g)].map((m) => m[1]!)

/** A default as the README writes it: arrays comma-separated, booleans and numbers as text. */
export const asText = (value: unknown): string | undefined =>
  value === undefined ? undefined : Array.isArray(value) ? value.join(",") : String(value)

export interface SettingsCode {
  /** The variables the code reads. */
  readonly variables: ReadonlyArray<string>
  /** `readSettings({})`: the defaults, keyed by setting. */
  readonly defaults: Readonly<Record<string, unknown>>
  /** Which variable(s) each setting is read from. */
  readonly variablesOf: Readonly<Record<string, ReadonlyArray<string>>>
  /** `readSettings(env)`: the settings, or the name of the variable it refused. */
  readonly parse: (env: Record<string, string>) => Readonly<Record<string, unknown>> | { readonly refused: string }
  /** A default as written in the README, made concrete (`$TMPDIR` expanded). */
  readonly expand: (literal: string) => string
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/**
 * Where the README's settings table and the code disagree: a variable the code reads
 * with no row, a row for a variable the code does not read, or a different default.
 */
export const settingsTableProblems = (readme: string, code: SettingsCode): ReadonlyArray<string> => {
  const problems: Array<string> = []
  const rows = settingRows(readme)
  const documented = rows.flatMap((r) => r.names)
  for (const name of documented.filter((n, i) => documented.indexOf(n) !== i)) {
    problems.push(`${name}: more than one row in the README's settings table`)
  }
  for (const name of code.variables.filter((v) => !documented.includes(v))) {
    problems.push(`${name}: read by src/layers/Config.ts, but no row in the README's settings table`)
  }
  for (const name of documented.filter((n) => !code.variables.includes(n))) {
    problems.push(`${name}: a row in the README's settings table, but src/layers/Config.ts does not read it`)
  }
  const mapped = Object.values(code.variablesOf).flat()
  for (const name of code.variables.filter((v) => !mapped.includes(v))) {
    problems.push(`${name}: read by the code, but the test does not know which setting it sets`)
  }
  for (const key of Object.keys(code.defaults).filter((k) => !(k in code.variablesOf))) {
    problems.push(`setting ${key}: the test does not know which variable sets it`)
  }
  for (const [key, variables] of Object.entries(code.variablesOf)) {
    const row = rows.find((r) => r.names.includes(variables[0] ?? ""))
    if (row === undefined) continue
    const value = code.defaults[key]
    const label = row.names.join(" / ")
    if (row.literal === undefined) {
      if (value !== undefined && !sameValue(value, [])) {
        problems.push(
          `${label}: the README's default is ${JSON.stringify(row.defaultCell)} (no value), the code's is ${
            JSON.stringify(value)
          }`
        )
      }
      continue
    }
    const written = code.expand(row.literal)
    if (asText(value) !== written) {
      problems.push(
        `${label}: the README's default is ${JSON.stringify(written)}, the code's is ${JSON.stringify(value)}`
      )
      continue
    }
    // The default written back as the variable's value must read as the default.
    const parsed = code.parse({ [variables[0]!]: written })
    if ("refused" in parsed || !sameValue(parsed[key], value)) {
      problems.push(`${label}=${JSON.stringify(written)} does not read as the code's default`)
    }
  }
  return problems
}

// Log messages against the strings in src/.

const sourceFiles = (dir: string): ReadonlyArray<string> =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sourceFiles(join(dir, e.name))
      : e.name.endsWith(".ts")
      ? [join(dir, e.name)]
      : []
  )

/** A string or template literal: its literal parts, between which the code interpolates. */
type Literal = ReadonlyArray<string>

/**
 * Every string and template literal of a TypeScript source, comments skipped
 * (the sources have no regular expression with a quote or backtick in it).
 */
export const literalsOf = (source: string): ReadonlyArray<Literal> => {
  const found: Array<Literal> = []
  let i = 0
  const quoted = (quote: string): string => {
    let text = ""
    for (i++; i < source.length && source[i] !== quote; i++) {
      if (source[i] === "\\") i++
      text += source[i] ?? ""
    }
    i++
    return text
  }
  const skipPast = (end: string) => {
    const at = source.indexOf(end, i)
    i = at === -1 ? source.length : at + end.length
  }
  // Code up to the `}` that closes an interpolation (or the end), collecting its literals.
  const code = (closing: boolean): void => {
    let depth = 0
    while (i < source.length) {
      const c = source[i]
      if (source.startsWith("//", i)) skipPast("\n")
      else if (source.startsWith("/*", i)) skipPast("*/")
      else if (c === "\"" || c === "'") found.push([quoted(c)])
      else if (c === "`") found.push(template())
      else {
        if (c === "}" && closing && depth === 0) return void i++
        if (c === "{") depth++
        if (c === "}") depth--
        i++
      }
    }
  }
  const template = (): Literal => {
    const parts: Array<string> = []
    let part = ""
    for (i++; i < source.length && source[i] !== "`";) {
      if (source[i] === "\\") {
        part += source[i + 1] ?? ""
        i += 2
      } else if (source[i] === "$" && source[i + 1] === "{") {
        parts.push(part)
        part = ""
        i += 2
        code(true)
      } else {
        part += source[i] ?? ""
        i++
      }
    }
    i++
    return [...parts, part]
  }
  code(false)
  return found
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * Patterns of the messages the code can write: each literal of src/ as a
 * regular expression in which an interpolation stands for any text. Literals
 * with fewer than 10 characters of their own are left out: they match too much.
 */
export const sourceMessagePatterns = (): ReadonlyArray<RegExp> =>
  sourceFiles("src").flatMap((f) => literalsOf(readRepoFile(f)))
    .filter((parts) => parts.join("").length >= 10)
    .map((parts) => new RegExp(`^${parts.map(escape).join("[\\s\\S]*?")}$`))

// Links and headings.

/** GitHub's anchor for a heading. */
export const slug = (heading: string): string =>
  heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")

export const anchorsOf = (markdown: string): ReadonlyArray<string> =>
  [...prose(markdown).matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!))

/** Relative links `[text](target)` outside code blocks. */
export const relativeLinks = (markdown: string): ReadonlyArray<string> =>
  [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t))
