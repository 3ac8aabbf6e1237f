// What the image assembly needs to know about an ELF executable or shared library,
// read on the build platform whatever the target's CPU: its machine, the program
// interpreter and the libraries it needs; and a strip that drops what the loader never
// reads (symbol tables, debug info), leaving every loaded byte as it was.

const EM: Record<number, { readonly arch: string; readonly triplet: string }> = {
  62: { arch: "amd64", triplet: "x86_64-linux-gnu" },
  183: { arch: "arm64", triplet: "aarch64-linux-gnu" }
}
const PT_LOAD = 1
const PT_DYNAMIC = 2
const PT_INTERP = 3
const DT_NEEDED = 1n
const DT_STRTAB = 5n
const DT_RPATH = 15n
const DT_RUNPATH = 29n
const SHF_ALLOC = 0x2n
const SHF_INFO_LINK = 0x40n
const SHT_NOBITS = 8

interface Segment {
  readonly type: number
  readonly offset: number
  readonly vaddr: bigint
  readonly filesz: number
}

interface Section {
  readonly index: number
  readonly type: number
  readonly flags: bigint
  readonly offset: number
  readonly size: number
  readonly header: Buffer
}

export interface ElfInfo {
  /** Debian's name for the CPU: amd64 or arm64. */
  readonly arch: string
  /** The multiarch directory of its libraries (x86_64-linux-gnu, aarch64-linux-gnu). */
  readonly triplet: string
  /** PT_INTERP: the dynamic loader's absolute path, for an executable. */
  readonly interpreter: string | undefined
  /** DT_NEEDED, in order. */
  readonly needed: ReadonlyArray<string>
}

const header = (file: Buffer) => {
  if (file.length < 64 || file.readUInt32BE(0) !== 0x7f454c46) throw new Error("not an ELF file")
  if (file[4] !== 2 || file[5] !== 1) throw new Error("only 64-bit little-endian ELF is supported")
  const machine = EM[file.readUInt16LE(18)]
  if (machine === undefined) throw new Error(`unsupported ELF machine ${file.readUInt16LE(18)}`)
  const phoff = Number(file.readBigUInt64LE(32))
  const phentsize = file.readUInt16LE(54)
  const phnum = file.readUInt16LE(56)
  const segments: Array<Segment> = Array.from({ length: phnum }, (_, i) => {
    const at = phoff + i * phentsize
    return {
      type: file.readUInt32LE(at),
      offset: Number(file.readBigUInt64LE(at + 8)),
      vaddr: file.readBigUInt64LE(at + 16),
      filesz: Number(file.readBigUInt64LE(at + 32))
    }
  })
  return { machine, phoff, phentsize, phnum, segments }
}

const cString = (file: Buffer, at: number) => file.toString("latin1", at, file.indexOf(0, at))

/** Machine, interpreter and needed libraries, from the program headers alone (as the loader reads them). */
export const readElf = (file: Buffer): ElfInfo => {
  const { machine, segments } = header(file)
  const interp = segments.find((s) => s.type === PT_INTERP)
  const dynamic = segments.find((s) => s.type === PT_DYNAMIC)
  const needed: Array<string> = []
  if (dynamic !== undefined) {
    const entries: Array<[bigint, bigint]> = []
    for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.filesz; at += 16) {
      const tag = file.readBigInt64LE(at)
      if (tag === 0n) break
      entries.push([tag, file.readBigUInt64LE(at + 8)])
    }
    const strtab = entries.find(([tag]) => tag === DT_STRTAB)?.[1]
    const load = segments.find((s) =>
      s.type === PT_LOAD && strtab !== undefined && strtab >= s.vaddr && strtab < s.vaddr + BigInt(s.filesz)
    )
    if (strtab === undefined || load === undefined) throw new Error("dynamic string table not found")
    const strings = load.offset + Number(strtab - load.vaddr)
    for (const [tag, value] of entries) {
      if (tag === DT_NEEDED) needed.push(cString(file, strings + Number(value)))
      // The image resolves libraries in the default directories only, as the loader does without these.
      if (tag === DT_RPATH || tag === DT_RUNPATH) {
        throw new Error(`RPATH/RUNPATH ${cString(file, strings + Number(value))} is not supported`)
      }
    }
  }
  return { ...machine, interpreter: interp === undefined ? undefined : cString(file, interp.offset), needed }
}

/**
 * The file without its non-allocated sections (`.symtab`, `.strtab`, `.debug_*`,
 * `.comment`), as `strip` would leave it: everything the program headers map is
 * kept byte for byte, then the section-name table and a section header table
 * naming the allocated sections only. Throws when a section the loader maps lies
 * outside the mapped range, instead of guessing.
 */
export const stripElf = (file: Buffer): Buffer => {
  const { segments, phoff, phentsize, phnum } = header(file)
  const shoff = Number(file.readBigUInt64LE(40))
  const shentsize = file.readUInt16LE(58)
  const shnum = file.readUInt16LE(60)
  const shstrndx = file.readUInt16LE(62)
  if (shoff === 0 || shnum === 0) return file
  const sections: Array<Section> = Array.from({ length: shnum }, (_, index) => {
    const at = shoff + index * shentsize
    return {
      index,
      type: file.readUInt32LE(at + 4),
      flags: file.readBigUInt64LE(at + 8),
      offset: Number(file.readBigUInt64LE(at + 24)),
      size: Number(file.readBigUInt64LE(at + 32)),
      header: file.subarray(at, at + shentsize)
    }
  })
  const mappedEnd = Math.max(...segments.map((s) => s.offset + s.filesz), phoff + phnum * phentsize)
  const kept = sections.filter((s) => s.index === 0 || s.index === shstrndx || (s.flags & SHF_ALLOC) !== 0n)
  for (const s of kept) {
    if (s.index !== 0 && s.index !== shstrndx && s.type !== SHT_NOBITS && s.offset + s.size > mappedEnd) {
      throw new Error(`allocated section ${s.index} lies outside the mapped range`)
    }
  }
  const newIndex = new Map(kept.map((s, i) => [s.index, i]))
  const names = sections[shstrndx]
  if (names === undefined) throw new Error("no section name table")
  const namesAt = mappedEnd
  const headersAt = Math.ceil((namesAt + names.size) / 8) * 8
  const out = Buffer.alloc(headersAt + kept.length * shentsize)
  file.copy(out, 0, 0, mappedEnd)
  file.copy(out, namesAt, names.offset, names.offset + names.size)
  kept.forEach((s, i) => {
    const h = Buffer.from(s.header)
    const remap = (at: number) => {
      const old = h.readUInt32LE(at)
      if (old === 0) return
      const to = newIndex.get(old)
      if (to === undefined) throw new Error(`section ${s.index} refers to removed section ${old}`)
      h.writeUInt32LE(to, at)
    }
    remap(40) // sh_link
    if ((s.flags & SHF_INFO_LINK) !== 0n) remap(44) // sh_info names a section
    if (s.index === shstrndx) h.writeBigUInt64LE(BigInt(namesAt), 24)
    h.copy(out, headersAt + i * shentsize)
  })
  out.writeBigUInt64LE(BigInt(headersAt), 40)
  out.writeUInt16LE(kept.length, 60)
  out.writeUInt16LE(newIndex.get(shstrndx) ?? 0, 62)
  // What the loader reads is unchanged: every byte up to the end of the mapped range, but the header's section fields.
  for (const [from, to] of [[0, 40], [48, 60], [64, mappedEnd]] as const) {
    if (!out.subarray(from, to).equals(file.subarray(from, to))) throw new Error("strip changed a mapped byte")
  }
  return out
}
