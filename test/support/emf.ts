// CloudWatch's "Specification: Embedded metric format", written out as a
// validator (test/metrics.test.ts shows it rejects each kind of bad record).
import { isDeepStrictEqual } from "node:util"
import { metricUnits } from "../../src/metrics/emf.ts"

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)
const printableAscii = /^[\x20-\x7e]+$/

/** Every rule of the specification a document breaks; none for a valid one. */
export const emfProblems = (doc: unknown): Array<string> => {
  const problems: Array<string> = []
  const text = JSON.stringify(doc)
  // The LogEvent message is one JSON object, limited like any log event (256 KB).
  if (!isObject(doc)) return ["the root is not a JSON object"]
  if (Buffer.byteLength(text) > 256 * 1024) problems.push("larger than 256 KB")
  if (!isObject(doc._aws)) return [...problems, "_aws is not an object"]
  const { _aws } = doc
  for (const key of Object.keys(_aws)) {
    if (key !== "Timestamp" && key !== "CloudWatchMetrics") {
      problems.push(`_aws has a member the specification does not define: ${key}`)
    }
  }
  if (!Number.isSafeInteger(_aws.Timestamp) || (_aws.Timestamp as number) < 0) {
    problems.push("_aws.Timestamp is not epoch milliseconds (an integer)")
  }
  if (!Array.isArray(_aws.CloudWatchMetrics)) return [...problems, "_aws.CloudWatchMetrics is not an array"]
  _aws.CloudWatchMetrics.forEach((directive: unknown, d) => {
    const at = `CloudWatchMetrics[${d}]`
    if (!isObject(directive)) return problems.push(`${at} is not an object`)
    for (const key of Object.keys(directive)) {
      if (key !== "Namespace" && key !== "Dimensions" && key !== "Metrics") {
        problems.push(`${at} has a member the specification does not define: ${key}`)
      }
    }
    const { Namespace, Dimensions, Metrics } = directive
    if (typeof Namespace !== "string" || Namespace.length < 1 || Namespace.length > 255) {
      problems.push(`${at}.Namespace is not a string of 1-255 characters`)
    }
    if (!Array.isArray(Dimensions) || Dimensions.length < 1) {
      problems.push(`${at}.Dimensions is not an array of dimension sets`)
    } else {
      Dimensions.forEach((set: unknown, s) => {
        if (!Array.isArray(set)) return problems.push(`${at}.Dimensions[${s}] is not an array`)
        if (set.length > 30) problems.push(`${at}.Dimensions[${s}] has more than 30 dimension keys`)
        for (const name of set) {
          if (typeof name !== "string" || name.length < 1 || name.length > 255) {
            problems.push(`${at}.Dimensions[${s}] holds a name that is not a string of 1-255 characters`)
            continue
          }
          const value = doc[name]
          if (typeof value !== "string") problems.push(`dimension ${name} is not a string member of the root`)
          else if (value.length > 1024 || !printableAscii.test(value) || value.trim() === "") {
            problems.push(`dimension ${name}'s value is not 1-1024 printable ASCII characters with one not whitespace`)
          }
        }
      })
    }
    if (!Array.isArray(Metrics)) return problems.push(`${at}.Metrics is not an array`)
    if (Metrics.length > 100) problems.push(`${at}.Metrics has more than 100 metric definitions`)
    Metrics.forEach((definition: unknown, m) => {
      if (!isObject(definition)) return problems.push(`${at}.Metrics[${m}] is not an object`)
      for (const key of Object.keys(definition)) {
        if (key !== "Name" && key !== "Unit" && key !== "StorageResolution") {
          problems.push(`${at}.Metrics[${m}] has a member the specification does not define: ${key}`)
        }
      }
      const { Name, Unit, StorageResolution } = definition
      if (typeof Name !== "string" || Name.length < 1 || Name.length > 255) {
        return problems.push(`${at}.Metrics[${m}].Name is not a string of 1-255 characters`)
      }
      if (Unit !== undefined && !(metricUnits as ReadonlyArray<unknown>).includes(Unit)) {
        problems.push(`metric ${Name}: unit ${String(Unit)} is not a CloudWatch unit`)
      }
      if (StorageResolution !== undefined && StorageResolution !== 1 && StorageResolution !== 60) {
        problems.push(`metric ${Name}: StorageResolution is not 1 or 60`)
      }
      const value = doc[Name]
      const numeric = isNumber(value) || (Array.isArray(value) && value.length <= 100 && value.every(isNumber))
      if (!numeric) problems.push(`metric ${Name} is not a number (or an array of at most 100 numbers) at the root`)
    })
    return undefined
  })
  // What JSON cannot carry (undefined, NaN, Infinity, functions) would not reach the log as it is.
  if (!isDeepStrictEqual(JSON.parse(text), doc)) problems.push("does not survive JSON as it is")
  return problems
}
