// The image assembly's ELF reader and strip (scripts/image/elf.ts), on the Node
// binary this test runs on: what it needs, and a stripped copy that still runs.
import { execFileSync } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { readElf, stripElf } from "../scripts/image/elf.ts"

const node = readFileSync(process.execPath)
const arch = { x64: "amd64", arm64: "arm64" }[process.arch as string]

describe("image assembly: ELF", () => {
  it("reads node's machine, program interpreter and needed libraries", () => {
    const elf = readElf(node)
    expect(elf.arch).toBe(arch)
    expect(elf.interpreter).toMatch(/^\/lib(64)?\/ld-linux-[-\w]+\.so\.\d$/)
    expect(elf.needed).toEqual(expect.arrayContaining(["libc.so.6", "libstdc++.so.6", "libm.so.6"]))
    expect(() => readElf(Buffer.from("#!/bin/sh\n".padEnd(64)))).toThrow("not an ELF file")
  })

  it("a stripped node keeps every mapped byte, loses its symbols and debug info, and runs", () => {
    const stripped = stripElf(node)
    // Fewer sections (e_shnum), the allocated ones: the official binaries keep their symbol table (and, from Node 26, some DWARF).
    expect(stripped.readUInt16LE(60)).toBeLessThan(node.readUInt16LE(60))
    expect(stripped.length).toBeLessThan(node.length)
    expect(readElf(stripped)).toEqual(readElf(node))
    // Twice is the same as once: nothing is left to strip.
    expect(stripElf(stripped).equals(stripped)).toBe(true)
    const dir = mkdtempSync(join(tmpdir(), "nlb-sidecar-elf-"))
    try {
      const file = join(dir, "node")
      writeFileSync(file, stripped)
      chmodSync(file, 0o755)
      const out = execFileSync(file, [
        "-e",
        "console.log(process.version, require('node:crypto').createHash('sha256').update('x').digest('hex').slice(0, 8))"
      ], { encoding: "utf8" })
      expect(out.trim()).toBe(`${process.version} 2d711642`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
