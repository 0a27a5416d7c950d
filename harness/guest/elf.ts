/**
 * What an ELF program needs to run: its interpreter (PT_INTERP) and the
 * shared libraries it names (DT_NEEDED), read from the file without running
 * it, for any arch. The guest image keeps only the libraries its programs
 * need: Debian's libc6 alone ships libm, libmvec and a dozen others that
 * busybox and dropbear never load, and every byte of the initramfs is copied,
 * then poisoned and freed, by an emulated CPU at each boot.
 */

export interface ElfNeeds {
  /** The program interpreter's path (the dynamic loader), if any. */
  interp?: string;
  /** DT_NEEDED names, in order. */
  needed: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;

/**
 * The needs of an ELF file, or undefined when it is not ELF or cannot be
 * read (a truncated or odd file: the caller then keeps every library).
 * A static program needs nothing.
 */
export function elfNeeds(b: Buffer): ElfNeeds | undefined {
  if (b.length < 64 || !isElf(b)) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] === 1;
  if (!is64 && b[4] !== 1) return undefined;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const word = (o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(o));
  try {
    const phoff = word(is64 ? 0x20 : 0x1c);
    const phentsize = u16(is64 ? 0x36 : 0x2a);
    const phnum = u16(is64 ? 0x38 : 0x2c);
    const phdrs = Array.from({ length: phnum }, (_, i) => {
      const o = phoff + i * phentsize;
      return is64
        ? { type: u32(o), offset: word(o + 8), vaddr: word(o + 16), filesz: word(o + 32) }
        : { type: u32(o), offset: u32(o + 4), vaddr: u32(o + 8), filesz: u32(o + 16) };
    });
    const needs: ElfNeeds = { needed: [] };
    const interp = phdrs.find((p) => p.type === PT_INTERP);
    if (interp) needs.interp = cString(b, interp.offset, interp.offset + interp.filesz);
    const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
    if (!dyn) return needs;
    // The dynamic section names its string table by address: the load segment holding it gives the file offset.
    const entry = is64 ? 16 : 8;
    const tags: { tag: number; val: number }[] = [];
    for (let o = dyn.offset; o + entry <= dyn.offset + dyn.filesz; o += entry) {
      const tag = word(o);
      if (tag === DT_NULL) break;
      tags.push({ tag, val: word(o + entry / 2) });
    }
    const strtab = tags.find((t) => t.tag === DT_STRTAB)?.val;
    if (strtab === undefined) return undefined;
    const seg = phdrs.find((p) => p.type === PT_LOAD && strtab >= p.vaddr && strtab < p.vaddr + p.filesz);
    if (!seg) return undefined;
    const strOff = seg.offset + (strtab - seg.vaddr);
    for (const t of tags) if (t.tag === DT_NEEDED) needs.needed.push(cString(b, strOff + t.val, b.length));
    return needs;
  } catch {
    // An offset past the end of the file: not a program this can read.
    return undefined;
  }
}

/** Whether a file starts with ELF's magic number (a script or a data file does not). */
export function isElf(b: Buffer): boolean {
  return b.length >= 4 && b.readUInt32BE(0) === 0x7f454c46;
}

function cString(b: Buffer, from: number, to: number): string {
  const end = b.indexOf(0, from);
  return b.toString('latin1', from, end < 0 || end > to ? to : end);
}

/** A file of the guest tree as the closure sees it: its path (relative, no leading /), and what it is. */
export type TreeFile = { path: string; kind: 'file'; data: Buffer } | { path: string; kind: 'symlink'; target: string };

/** Whether a path is a shared library in one of the loader's directories (what the closure may leave out). */
export function isLibrary(path: string): boolean {
  return /^(usr\/)?lib(32|64)?\/([^/]+\/)?[^/]+\.so(\.[\d.]+)?$/.test(path);
}

/**
 * The shared libraries the tree's programs need, as paths of the tree:
 * every file that is not a library is a root (busybox, dropbear and its
 * tools, init); their interpreters and DT_NEEDED libraries, followed through
 * symlinks and onwards, are kept. Libraries are looked up where the loader
 * looks: each directory of the tree that holds libraries. Undefined when a
 * program cannot be read or a library it names is not found: the caller
 * keeps everything rather than ship a guest that cannot start sshd.
 */
export function neededLibraries(files: readonly TreeFile[]): Set<string> | undefined {
  const byPath = new Map(files.map((f) => [f.path, f]));
  const dirs = [...new Set(files.filter((f) => isLibrary(f.path)).map((f) => f.path.replace(/\/[^/]+$/, '')))].sort();
  const keep = new Set<string>();
  const queue: TreeFile[] = files.filter((f) => f.kind === 'file' && !isLibrary(f.path));
  /** A path and every symlink on the way to its file, kept; the file itself, or undefined. */
  const follow = (path: string): TreeFile | undefined => {
    for (let hops = 0, p = path.replace(/^\/+/, ''); hops < 16; hops++) {
      const f = byPath.get(p);
      if (!f) return undefined;
      if (isLibrary(p)) keep.add(p);
      if (f.kind === 'file') return f;
      p = f.target.startsWith('/') ? f.target.slice(1) : `${p.replace(/[^/]+$/, '')}${f.target}`.replace(/[^/]+\/\.\.\//g, '');
    }
    return undefined;
  };
  const seen = new Set<string>();
  while (queue.length) {
    const f = queue.shift()!;
    if (f.kind !== 'file' || seen.has(f.path)) continue;
    seen.add(f.path);
    if (!isElf(f.data)) continue;
    const needs = elfNeeds(f.data);
    if (!needs) return undefined;
    const paths: string[] = needs.interp ? [needs.interp] : [];
    for (const name of needs.needed) {
      const found = name.includes('/') ? name : dirs.map((d) => `${d}/${name}`).find((p) => byPath.has(p));
      if (!found) return undefined;
      paths.push(found);
    }
    for (const p of paths) {
      const lib = follow(p);
      if (!lib) return undefined;
      queue.push(lib);
    }
  }
  return keep;
}
