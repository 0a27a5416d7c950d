/**
 * kmemleak's report (/sys/kernel/debug/kmemleak, or the console with
 * kmemleak.verbose=1) as leaks: address, size, comm, frames, and a
 * fingerprint that names the same leak across runs. Pure.
 *
 * The two formats (mm/kmemleak.c print_unreferenced):
 *   6.1:  unreferenced object 0xffff888003a4c000 (size 128):
 *           comm "insmod", pid 91, jiffies 4294893212 (age 8.260s)
 *           hex dump (first 32 bytes):
 *             5a 5a ...
 *           backtrace:
 *             [<000000004f8a1b4c>] kmalloc_trace+0x26/0x90
 *             [<00000000d2d1f1a0>] kh_leak_alloc+0x2a/0x80 [kh_leak]
 *   6.12: the same, but "backtrace (crc 1a2b3c4d):" and frames without the
 *         hashed pointer: "    kh_leak_alloc+0x2a/0x80 [kh_leak]".
 * A frame in code that is gone (an unloaded module, __init text after init)
 * prints as a bare address, "0xffffffffc01d2036"; resolveFrames names it
 * from the module's symbols read while it was loaded.
 */

export interface Frame {
  /** As printed, without the 6.1 hashed pointer. */
  text: string;
  func?: string;
  module?: string;
  /** A frame printed as a bare address. */
  addr?: bigint;
}

export interface Leak {
  address: string;
  size: number;
  comm?: string;
  pid?: number;
  frames: Frame[];
  /** The report's lines, as printed (indentation kept). */
  lines: string[];
}

const HEAD = /^unreferenced object (0x[0-9a-f]+) \(size (\d+)\):/;
const COMM = /^\s+comm "(.*)", pid (\d+), jiffies/;
const BACKTRACE = /^\s+backtrace(?: \(crc [0-9a-f]+\))?:/;
const FRAME = /^\s+(?:\[<[0-9a-f]+>\] )?(\S.*)$/;

export function parseFrame(text: string): Frame {
  const named = /^([A-Za-z0-9_.$]+)\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[(\S+?)\])?/.exec(text);
  if (named) return { text, func: named[1], module: named[2] };
  const bare = /^0x([0-9a-f]+)$/.exec(text);
  return bare ? { text, addr: BigInt(`0x${bare[1]}`) } : { text };
}

/** The leaks in kmemleak's report; the kernel log's timestamps may prefix each line. */
export function parseKmemleak(text: string | readonly string[]): Leak[] {
  const input = typeof text === 'string' ? text.split('\n') : text;
  const out: Leak[] = [];
  let cur: Leak | undefined;
  let inTrace = false;
  for (const raw of input) {
    const line = raw.replace(/\r$/, '').replace(/^\s*\[\s*\d+\.\d+\]\s?/, '');
    const h = HEAD.exec(line);
    if (h) {
      cur = { address: h[1]!, size: Number(h[2]), frames: [], lines: [line] };
      out.push(cur);
      inTrace = false;
      continue;
    }
    if (!cur) continue;
    // A report's lines are indented; anything else ends it.
    if (!/^\s/.test(line) || !line.trim()) {
      cur = undefined;
      continue;
    }
    cur.lines.push(line);
    const c = COMM.exec(line);
    if (c) {
      cur.comm = c[1];
      cur.pid = Number(c[2]);
    } else if (BACKTRACE.test(line)) inTrace = true;
    else if (inTrace) {
      const f = FRAME.exec(line);
      if (f) cur.frames.push(parseFrame(f[1]!));
    }
  }
  return out;
}

/** A module's symbols while it was loaded: `/proc/kallsyms` lines tagged [module]. */
export interface ModuleSymbol {
  addr: bigint;
  name: string;
}

/** `ffffffffc0201000 t kh_leak_alloc\t[kh_leak]` lines of one module, sorted by address. Pure. */
export function moduleSymbols(kallsyms: string, module: string): ModuleSymbol[] {
  const out: ModuleSymbol[] = [];
  for (const line of kallsyms.split('\n')) {
    const m = /^([0-9a-f]+) [tTdDbBrR] (\S+)\s+\[(\S+)\]$/.exec(line.trim());
    if (m && m[3] === module && m[1] !== '0000000000000000') out.push({ addr: BigInt(`0x${m[1]}`), name: m[2]! });
  }
  return out.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
}

/** How far past its symbol a bare address may lie and still be named by it (a function is rarely longer). */
const MAX_OFFSET = 0x10000n;

/**
 * Bare addresses named from a module's symbols: `kh_leak_alloc+0x2a [kh_leak] (unloaded)`.
 * `note` says where the symbols came from when not from this very load.
 */
export function resolveFrames(leak: Leak, module: string, symbols: readonly ModuleSymbol[], note = 'unloaded'): Leak {
  const frames = leak.frames.map((f) => {
    if (f.addr === undefined) return f;
    let best: ModuleSymbol | undefined;
    for (const s of symbols) if (s.addr <= f.addr) best = s;
    if (!best || f.addr - best.addr > MAX_OFFSET) return f;
    return {
      ...f,
      func: best.name,
      module,
      text: `${f.text} = ${best.name}+0x${(f.addr - best.addr).toString(16)} [${module}] (${note})`,
    };
  });
  return { ...leak, frames };
}

/** The allocator's own frames: they say how, not where, and differ between versions. */
const ALLOCATOR = new RegExp(
  `^(${[
    'kmalloc',
    '__kmalloc',
    'kmem_cache_alloc',
    'kmalloc_trace',
    '__kmem_cache_alloc',
    'slab_post_alloc_hook',
    'kmemleak_',
    '__vmalloc',
    'vmalloc',
    '__alloc_pages',
    'alloc_pages',
    'kvmalloc',
    '__kvmalloc',
    'kzalloc',
    'kmalloc_node',
    '__kmalloc_node',
    'kmalloc_large',
    '__kmalloc_large',
    '___slab_alloc',
    '__slab_alloc',
    'slab_alloc',
    'create_object',
    '__create_object',
    '__get_vm_area',
    'alloc_vmap_area',
  ].join('|')})`,
);

/**
 * The first five frames below the allocator, by function name, with the
 * module that holds the first of them: the same leak has the same
 * fingerprint on every run and kernel build (offsets and addresses left out).
 */
export function fingerprint(leak: Leak): string {
  const frames = leak.frames.filter((f) => !f.func || !ALLOCATOR.test(f.func));
  const names = frames.slice(0, 5).map((f) => f.func ?? '?');
  const mod = frames.find((f) => f.module)?.module;
  return `${mod ? `[${mod}] ` : ''}${names.join(' < ')}`;
}

/** The failures that make kmemleak's silence meaningless (mm/kmemleak.c): an infrastructure error, never a pass. */
export const KMEMLEAK_BROKEN = [
  /kmemleak: Kernel memory leak detector disabled/,
  /kmemleak: Memory pool empty/,
  /kmemleak: Cannot allocate a kmemleak_object structure/,
  /kmemleak: Early log buffer exceeded/,
  /kmemleak: Kmemleak disabled without freeing internal data/,
];

/** The first kernel-log line saying kmemleak stopped working, if any. */
export function kmemleakBroken(lines: readonly string[]): string | undefined {
  return lines.find((l) => KMEMLEAK_BROKEN.some((re) => re.test(l)))?.replace(/^\s*\[\s*\d+\.\d+\]\s?/, '');
}
