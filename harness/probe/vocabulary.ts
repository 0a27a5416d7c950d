/**
 * What kalloc_probe (modules/kalloc_probe/kalloc_probe.c) says, in one table:
 * every fact a response carries with its wire name and type, the guest
 * constants, and every command with the keys it accepts. The scenario schema,
 * the response parser, the size-expression constants and the reporters all
 * derive from here; test/unit/vocabulary.test.ts reads the C file and fails
 * when a key exists on one side only. Pure data.
 */

/** Allocation APIs (kp_api_names) and the contexts an allocation can run in (kp_ctx_names). */
export const APIS = ['kmalloc', 'kzalloc', 'kcalloc', 'vmalloc', 'vzalloc', 'kvmalloc', 'pages', '__vmalloc', 'kmalloc_nolock'] as const;
export type Api = (typeof APIS)[number];
/**
 * APIs that only some kernel versions have (the C file compiles each in only
 * where it exists): a step naming one is skipped, before boot, on a target
 * outside the range. `__vmalloc` takes the step's GFP flags (vmalloc is always
 * GFP_KERNEL); `kmalloc_nolock` (7.2's "from any context") takes only
 * __GFP_ZERO and __GFP_ACCOUNT.
 */
export const API_VERSIONS: Readonly<Partial<Record<Api, { since?: string; until?: string }>>> = {
  kmalloc_nolock: { since: '7.2' },
};
/** APIs that take no GFP flags: the step's `gfp:` is refused for them. */
export const APIS_WITHOUT_GFP: readonly Api[] = ['vmalloc', 'vzalloc'];
export const CONTEXTS = ['process', 'atomic', 'softirq', 'hardirq', 'raw_atomic'] as const;
export type Context = (typeof CONTEXTS)[number];
/** What a query step may ask. */
export const QUERIES = ['constants', 'zones', 'self'] as const;
export type Query = (typeof QUERIES)[number];

export interface GfpFlag {
  /** First kernel version that has it ("6.3"); absent: every version kharness runs. */
  since?: string;
  /** First kernel version that no longer has it. */
  until?: string;
}

/**
 * GFP flag names the module resolves (kp_gfp_names), and the kernel versions
 * each exists in: a scenario naming one is checked when it loads, and a
 * flag a target's kernel lacks skips that step on that target, before boot.
 */
export const GFP_FLAGS: Readonly<Record<string, GfpFlag>> = {
  GFP_KERNEL: {},
  GFP_ATOMIC: {},
  GFP_NOWAIT: {},
  GFP_NOIO: {},
  GFP_NOFS: {},
  GFP_USER: {},
  GFP_DMA: {},
  GFP_DMA32: {},
  GFP_HIGHUSER: {},
  GFP_KERNEL_ACCOUNT: {},
  __GFP_DMA: {},
  __GFP_DMA32: {},
  __GFP_HIGHMEM: {},
  __GFP_ZERO: {},
  __GFP_NOWARN: {},
  __GFP_NORETRY: {},
  __GFP_RETRY_MAYFAIL: {},
  __GFP_NOFAIL: {},
  __GFP_HIGH: {},
  __GFP_IO: {},
  __GFP_FS: {},
  __GFP_DIRECT_RECLAIM: {},
  __GFP_KSWAPD_RECLAIM: {},
  __GFP_RECLAIM: {},
  __GFP_COMP: {},
  __GFP_MEMALLOC: {},
  __GFP_NOMEMALLOC: {},
  __GFP_ACCOUNT: {},
  // Folded into __GFP_HIGH and friends in 6.3 (commit "mm: discard __GFP_ATOMIC").
  __GFP_ATOMIC: { until: '6.3' },
};

/** How a value is written on the wire: bool is 0/1, hex is 0x…, text is one token. */
export type WireType = 'bool' | 'int' | 'hex' | 'text';
export type FactValue = number | boolean | string;
/** Facts as the harness holds them: harness names, typed values. */
export type Facts = Record<string, FactValue>;

export interface FactSpec {
  type: WireType;
  /** The key on the wire when it differs from the harness's name. */
  wire?: string;
  doc: string;
  /** A metric: which way is better. Compare, history and bisect --metric call a change the other way a regression. */
  better?: 'lower' | 'higher';
}

/** Zones the probe may report an extent for (`<zone>_start`, `<zone>_end`: byte addresses). */
export const ZONE_NAMES = ['DMA', 'DMA32', 'Normal', 'HighMem', 'Movable'] as const;
/** `time` reports each timing fact once per API: plain for `api`, prefixed vs_ for `vs`. */
export const TIMING_PREFIXES = ['', 'vs_'] as const;

const TIMING: Record<string, FactSpec> = {
  failures: { type: 'int', doc: 'allocations that returned NULL' },
  alloc_ns_min: { type: 'int', doc: 'fastest allocation, ns' },
  alloc_ns_median: { type: 'int', doc: 'median allocation, ns', better: 'lower' },
  free_ns_min: { type: 'int', doc: 'fastest free, ns' },
  free_ns_median: { type: 'int', doc: 'median free, ns', better: 'lower' },
};

/** Facts in command responses (the constants response has its own table below). */
const WIRE_FACTS: Readonly<Record<string, FactSpec>> = {
  // What the request was, as the module understood it.
  api: { type: 'text', doc: 'allocation API' },
  size: { type: 'int', doc: 'requested size, bytes' },
  order: { type: 'int', doc: 'page order (api pages)' },
  gfp: { type: 'hex', doc: 'GFP mask as resolved by this kernel' },
  ctx: { type: 'text', doc: 'context the allocation ran in' },
  repeat: { type: 'int', doc: 'iterations of a time request' },
  vs: { type: 'text', doc: 'second API of a time request' },
  name: { type: 'text', doc: 'name of a held allocation' },
  held: { type: 'text', doc: 'the allocation is kept under this name' },
  // The allocation.
  ok: { type: 'bool', wire: 'success', doc: 'the allocation returned memory' },
  zero_size_ptr: { type: 'bool', doc: 'a zero-size request returned ZERO_SIZE_PTR' },
  in_hardirq: { type: 'bool', doc: 'in_hardirq() inside the allocating context' },
  in_serving_softirq: { type: 'bool', doc: 'in_serving_softirq() inside the allocating context' },
  in_atomic: { type: 'bool', doc: 'in_atomic() inside the allocating context' },
  irqs_disabled: { type: 'bool', doc: 'irqs_disabled() inside the allocating context' },
  preempt_count: { type: 'hex', doc: 'preempt_count() inside the allocating context' },
  alloc_ns: { type: 'int', doc: 'time the allocation took, ns' },
  // Fault injection (alloc's inject=N): the task's fail-nth, armed right before the allocation.
  inject_nth: { type: 'int', wire: 'inject', doc: 'which allocation the step asked to fail (fail-nth)' },
  fail_nth_left: { type: 'int', doc: "the task's fail-nth read back after the operation: 0 when the Nth allocation was failed" },
  free_ns: { type: 'int', doc: 'time the free took, ns' },
  // The memory.
  vmalloc_addr: { type: 'bool', doc: 'is_vmalloc_addr()' },
  linear_map: { type: 'bool', doc: 'virt_addr_valid(): in the direct map' },
  pages: { type: 'int', doc: 'pages the range spans' },
  phys_runs: { type: 'int', doc: 'physically contiguous runs of page frames' },
  first_pfn: { type: 'hex', doc: 'first page frame' },
  last_pfn: { type: 'hex', doc: 'last page frame' },
  virt_contiguous: { type: 'bool', doc: 'every page of the virtual range is mapped' },
  zone: { type: 'text', doc: 'zone of the first page' },
  compound_order: { type: 'int', doc: 'order of the compound page (-1 for vmalloc)' },
  zeroed: { type: 'bool', doc: 'every byte was zero when it came back' },
  page_mapped: { type: 'bool', doc: 'vmalloc_to_page() finds the module text' },
  // memchr_inv(), the scan behind SLUB's poison and redzone checks, over a held allocation.
  scan_len: { type: 'int', doc: 'bytes memchr_inv() was asked to scan' },
  scan_first: { type: 'int', doc: 'offset of the first non-zero byte memchr_inv() found, -1 for none' },
  paused_ms: { type: 'int', doc: 'how long the probe slept in process context' },
  // Fragmenting free memory.
  taken: { type: 'int', doc: 'pages taken by fragment' },
  kept: { type: 'int', doc: 'pages fragment kept (every other one)' },
  released: { type: 'int', doc: 'pages unfragment gave back' },
  // Timing.
  ...Object.fromEntries(TIMING_PREFIXES.flatMap((p) => Object.entries(TIMING).map(([k, v]) => [`${p}${k}`, v]))),
  // Zones.
  ...Object.fromEntries(
    ZONE_NAMES.flatMap((z) => [
      [`${z}_start`, { type: 'int', doc: `first byte address of ZONE_${z}` }],
      [`${z}_end`, { type: 'int', doc: `end (exclusive) of ZONE_${z}` }],
    ]),
  ),
  zone_names: { type: 'text', doc: 'populated zones, |-separated' },
  highmem: { type: 'bool', doc: 'CONFIG_HIGHMEM' },
  names: { type: 'text', doc: 'GFP flag names this kernel knows, |-separated' },
};

export interface DerivedFactSpec extends FactSpec {
  /** The value from the response's own facts; undefined when they are not there. */
  of: (f: Facts) => number | undefined;
}

const perMille = (a: FactValue | undefined, b: FactValue | undefined) =>
  typeof a === 'number' && typeof b === 'number' && b > 0 ? Math.round((1000 * a) / b) : undefined;

/**
 * Facts the harness computes from a response's own facts; never on the wire.
 * A `time` request with `vs:` runs both APIs interleaved in one loop, so
 * whatever makes a whole boot slower slows both alike, and their ratio
 * cancels it. Under TCG that matters: of five fresh boots of one kernel,
 * some ran every allocation and free about twice as slowly as the others
 * (alloc-cost, x86_64 6.1, vmalloc 64 KiB 9.3 µs on some boots and 18-21 µs
 * on the rest), which makes the absolute medians of two builds overlap
 * while the ratio of the same samples stays within ±20 %.
 */
export const DERIVED_FACTS: Readonly<Record<string, DerivedFactSpec>> = {
  alloc_vs_permille: {
    type: 'int',
    doc: "median allocation in thousandths of vs's median, measured in the same loop",
    better: 'lower',
    of: (f) => perMille(f.alloc_ns_median, f.vs_alloc_ns_median),
  },
  free_vs_permille: {
    type: 'int',
    doc: "median free in thousandths of vs's median, measured in the same loop",
    better: 'lower',
    of: (f) => perMille(f.free_ns_median, f.vs_free_ns_median),
  },
};

/**
 * Facts the harness observes itself in a user module's steps (run/steps/module.ts):
 * insmod's, rmmod's and the exercising command's outcome, where the module's
 * code was placed, and the memory a load/unload cycle did not give back.
 * `ok` is shared with the probe's: the step did what it was asked.
 */
export const MODULE_FACTS: Readonly<Record<string, FactSpec>> = {
  rc: { type: 'int', doc: 'exit status of insmod, rmmod or the exercising command (ok: it was 0)' },
  output: { type: 'text', doc: 'what insmod, rmmod or the exercising command printed (stdout and stderr, at most 4 KiB)' },
  cycle: { type: 'int', doc: 'which load/exercise/unload cycle of a module_cycles step' },
  text_addr: { type: 'hex', doc: "start of the loaded module's .text" },
  vmalloc_caller: {
    type: 'text',
    doc:
      "the allocator of the /proc/vmallocinfo area holding the module's .text (module_alloc, execmem_vmalloc); none: in no area; " +
      "unknown: the kernel hashes the file's pointers",
  },
  in_vmalloc_area: { type: 'bool', doc: "the module's .text lies in an area /proc/vmallocinfo lists (allocated by the vmalloc machinery)" },
  mem_available_delta: { type: 'int', doc: 'MemAvailable after the unload less before the load, bytes' },
  sunreclaim_delta: { type: 'int', doc: 'SUnreclaim after the unload less before the load, bytes' },
  vmalloc_used_delta: { type: 'int', doc: 'VmallocUsed after the unload less before the load, bytes' },
  leaks: { type: 'int', doc: 'objects kmemleak reported as unreferenced after this phase' },
  leaked_bytes: { type: 'int', doc: 'bytes of the objects kmemleak reported after this phase' },
};

/**
 * Facts the harness records of a step's `inject` (run/steps/inject.ts), from
 * the fail-nth readback and the capabilities' `times` counters.
 */
export const INJECT_FACTS: Readonly<Record<string, FactSpec>> = {
  injected: {
    type: 'bool',
    doc: 'the Nth allocation was failed: fail-nth read back as 0 (proof even for __GFP_NOWARN, which prints nothing)',
  },
  injections: { type: 'int', doc: 'failures the capabilities made during the step (their times counters)' },
  inject_counted: { type: 'int', doc: 'allocations that counted toward N (N when injected; fewer when the operation made fewer)' },
  inject_kind: { type: 'text', doc: 'which allocator was failed: slab, page, slab+page, or none' },
  inject_site: { type: 'text', doc: "the failed allocation's caller, from the injection's stack (func+0xoff [module])" },
  inject_api: { type: 'text', doc: 'the allocator entry the site called (kmalloc, vmalloc, alloc_pages, ...)' },
};

/** Every fact a step can report: the probe's, those derived from them, a user module's steps', and an injection's. */
export const FACTS: Readonly<Record<string, FactSpec>> = { ...WIRE_FACTS, ...DERIVED_FACTS, ...MODULE_FACTS, ...INJECT_FACTS };

/** The response's facts with the derived ones added. */
export function withDerivedFacts(facts: Facts): Facts {
  const out = { ...facts };
  for (const [name, spec] of Object.entries(DERIVED_FACTS)) {
    const v = spec.of(facts);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

export interface ConstantSpec extends FactSpec {
  /** Usable in size expressions (`KMALLOC_MAX_SIZE + 1`). */
  size?: boolean;
  /** Shown in the "what differs between targets" table. */
  compare?: boolean;
}

/** The constants response: what the running kernel is. */
export const CONSTANTS: Readonly<Record<string, ConstantSpec>> = {
  release: { type: 'text', doc: 'uname -r', compare: true },
  machine: { type: 'text', doc: 'uname -m' },
  PAGE_SIZE: { type: 'int', doc: 'bytes per page', size: true, compare: true },
  PAGE_SHIFT: { type: 'int', doc: 'log2 PAGE_SIZE' },
  KMALLOC_MIN_SIZE: { type: 'int', doc: 'smallest kmalloc cache', size: true },
  KMALLOC_MAX_CACHE_SIZE: { type: 'int', doc: 'largest kmalloc served by a slab cache', size: true, compare: true },
  KMALLOC_MAX_SIZE: { type: 'int', doc: 'largest kmalloc', size: true, compare: true },
  MAX_ORDER: { type: 'int', doc: 'largest buddy order (inclusive)', compare: true },
  TOTALRAM_PAGES: { type: 'int', doc: 'totalram_pages()' },
  INIT_ON_ALLOC: { type: 'bool', doc: 'want_init_on_alloc(): memory is zeroed on allocation', compare: true },
  INIT_ON_FREE: { type: 'bool', doc: 'want_init_on_free(): memory is zeroed when it is freed', compare: true },
  PREEMPT_RT: { type: 'bool', doc: 'CONFIG_PREEMPT_RT: spinlock_t sleeps, the allocator is preemptible', compare: true },
  PREEMPT_COUNT: {
    type: 'bool',
    doc: 'CONFIG_PREEMPT_COUNT: spinlocks count in preempt_count, so in_atomic() sees them (without it, only IRQ contexts)',
    compare: true,
  },
  GFP_KERNEL: { type: 'hex', doc: 'the mask on this kernel' },
  GFP_ATOMIC: { type: 'hex', doc: 'the mask on this kernel' },
  GFP_NOWAIT: { type: 'hex', doc: 'the mask on this kernel' },
};

/** Guest facts the harness adds itself after boot (not on the wire). */
export const HOST_CONSTANTS: Readonly<Record<string, ConstantSpec>> = {
  CLOCKSOURCE: { type: 'text', doc: 'the guest clocksource: timing facts are only as fine as it', compare: true },
};

/** Constants computed from others, usable in size expressions. */
export const DERIVED_CONSTANTS: Readonly<Record<string, { doc: string; from: (c: Facts) => number }>> = {
  TOTALRAM_SIZE: { doc: 'RAM the kernel manages, bytes', from: (c) => num(c.TOTALRAM_PAGES) * num(c.PAGE_SIZE) },
};

function num(v: FactValue | undefined): number {
  return typeof v === 'number' ? v : Number.NaN;
}

/** Names a size expression may use. */
export const SIZE_CONSTANTS: readonly string[] = [
  ...Object.keys(CONSTANTS).filter((k) => CONSTANTS[k]!.size),
  ...Object.keys(DERIVED_CONSTANTS),
];

/** Constants that are flags: usable in `when:` guards as 0/1 (INIT_ON_ALLOC). */
export const FLAG_CONSTANTS: readonly string[] = Object.keys(CONSTANTS).filter((k) => CONSTANTS[k]!.type === 'bool');

/** The constants as numbers, for size expressions and `when:` guards (booleans as 0/1). */
export function sizeConstants(c: Facts): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(CONSTANTS)) {
    const v = c[k];
    if (CONSTANTS[k]!.size || typeof v === 'boolean') out[k] = typeof v === 'boolean' ? (v ? 1 : 0) : num(v);
  }
  for (const [k, d] of Object.entries(DERIVED_CONSTANTS)) out[k] = d.from(c);
  return out;
}

export interface CommandSpec {
  /** Keys the command accepts besides cmd and seq. */
  keys: readonly string[];
  doc: string;
}

/** Every command of the control file, with the keys it accepts (unknown keys are refused). */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  constants: { keys: [], doc: 'what the running kernel is' },
  gfp_names: { keys: [], doc: 'GFP flag names this build of the module resolves' },
  alloc: {
    keys: ['api', 'size', 'order', 'gfp', 'ctx', 'hold', 'fill', 'inject'],
    doc: 'allocate in a context, report, free or hold; inject=N fails its Nth allocation',
  },
  inspect: { keys: ['name'], doc: 'report a held allocation again' },
  free: { keys: ['name'], doc: 'free a held allocation' },
  fragment: { keys: ['pages'], doc: 'take pages and give back every other one' },
  unfragment: { keys: [], doc: 'give back what fragment kept' },
  time: { keys: ['api', 'size', 'order', 'gfp', 'repeat', 'vs'], doc: 'alloc+free N times; min and median' },
  zones: { keys: [], doc: 'populated zones and their extents' },
  self: { keys: [], doc: 'where the module text lives' },
  scan: { keys: ['name', 'len', 'mark'], doc: 'memchr_inv() over a held allocation with one marker byte' },
  pause: { keys: ['ms'], doc: 'sleep in process context (rate-limited kernel reports fire again after 1 s)' },
};

/** Keys every response may carry around the facts. */
export const ENVELOPE = ['status', 'errno', 'msg'] as const;

/** Wire key → harness name and spec, over facts and constants. */
export const BY_WIRE: ReadonlyMap<string, { name: string; spec: FactSpec }> = new Map(
  Object.entries({ ...WIRE_FACTS, ...CONSTANTS }).map(([name, spec]) => [spec.wire ?? name, { name, spec }]),
);
