// Deterministic identifiers: the same scenario always yields the same Docker
// ids, ENI ids and MAC addresses, so answers can be compared across runs.
import { createHash } from "node:crypto"

/** `length` hex digits derived from `seed`. */
export const hex = (seed: string, length: number): string => {
  let out = ""
  for (let round = 0; out.length < length; round++) {
    out += createHash("sha256").update(`${round}:${seed}`).digest("hex")
  }
  return out.slice(0, length)
}

/** A version-4-shaped UUID derived from `seed`. */
export const uuid = (seed: string): string => {
  const h = hex(seed, 32)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${"89ab"[Number.parseInt(h[16] ?? "0", 16) % 4]}${
    h.slice(17, 20)
  }-${h.slice(20, 32)}`
}

/** `count` decimal digits derived from `seed`. */
export const digits = (seed: string, count: number): string =>
  [...hex(seed, count)].map((c) => String(Number.parseInt(c, 16) % 10)).join("")

export const mac = (seed: string): string => {
  const h = hex(seed, 10)
  // 0e / 0a / 02: locally administered, as EC2 hands out for ENIs.
  return ["0e", ...(h.match(/../g) ?? [])].join(":")
}
