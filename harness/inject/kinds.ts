/**
 * The kernel's allocation fault injection as data: which capability fails
 * which allocations, the debugfs knobs that otherwise block it, what each
 * kernel version and arch can do, and why a target cannot inject at all.
 * Facts from lib/fault-inject.c, mm/failslab.c, mm/page_alloc.c (6.1) and
 * mm/fail_page_alloc.c (6.12), lib/Kconfig.debug of both. Pure.
 *
 * The traps this table exists for (a harness that misses one "injects"
 * nothing and passes):
 * - failslab skips every allocation that may sleep (GFP_KERNEL) unless its
 *   ignore-gfp-wait is N; fail_page_alloc skips order-0 pages unless
 *   min-order is 0, and sleeping or highmem ones unless its two ignore knobs
 *   are N. Those filters run before fail-nth counts: a skipped allocation
 *   is not even the Nth.
 * - fail-nth (/proc/thread-self/fail-nth; there is no /proc/self one) counts
 *   every should_fail() of that task, of every capability, only in_task().
 *   It bypasses probability, interval and times, but still decrements times:
 *   `times` read before and after is how many injections each capability
 *   made, and which one did.
 * - `times` defaults to 1 (one injection ever); `verbose` 2 prints a stack
 *   per injection, which a report scanner must not take for a crash.
 * - __GFP_NOWARN allocations are injected without any message: the proof is
 *   fail-nth read back as 0, never the kernel log.
 * - kmalloc above KMALLOC_MAX_CACHE_SIZE goes to the page allocator: only
 *   fail_page_alloc fails it. vmalloc has no capability of its own: its
 *   vm_struct is failslab's, its pages fail_page_alloc's (and a failed bulk
 *   page allocation falls back to one page at a time).
 */
import { isEnabled } from '../analysis/kconfig.ts';
import { compareVersions } from '../analysis/version.ts';

/** What a step's `inject` may fail: slab objects, page-allocator pages, or whichever comes Nth. */
export const INJECT_KINDS = ['slab', 'page', 'any'] as const;
export type InjectKind = (typeof INJECT_KINDS)[number];

/** The largest N a step may name: past it the operation is not an allocation sweep any more. */
export const INJECT_NTH_MAX = 10_000;

export type Capability = 'failslab' | 'fail_page_alloc';

/** One fault-injection capability: its option, its debugfs directory, and its knobs. */
export interface CapabilitySpec {
  /** The kind of allocation it fails. */
  kind: Exclude<InjectKind, 'any'>;
  config: string;
  dir: string;
  /** Its own knobs set so that it counts every allocation it can (when its kind is asked for). */
  armed: Readonly<Record<string, string>>;
  /** Its own knobs set so that it counts none (when only the other kind is asked for). */
  excluded: Readonly<Record<string, string>>;
  /** The kernel's defaults of its own knobs: what a reset writes back. */
  defaults: Readonly<Record<string, string>>;
}

export const CAPABILITIES: Readonly<Record<Capability, CapabilitySpec>> = {
  failslab: {
    kind: 'slab',
    config: 'CONFIG_FAILSLAB',
    dir: '/sys/kernel/debug/failslab',
    // cache-filter=N: every cache, not only those marked SLAB_FAILSLAB.
    armed: { 'ignore-gfp-wait': 'N', 'cache-filter': 'N' },
    // cache-filter=Y with no cache marked (no slub_debug=A): no slab allocation reaches should_fail().
    excluded: { 'ignore-gfp-wait': 'Y', 'cache-filter': 'Y' },
    defaults: { 'ignore-gfp-wait': 'Y', 'cache-filter': 'N' },
  },
  fail_page_alloc: {
    kind: 'page',
    config: 'CONFIG_FAIL_PAGE_ALLOC',
    dir: '/sys/kernel/debug/fail_page_alloc',
    armed: { 'min-order': '0', 'ignore-gfp-wait': 'N', 'ignore-gfp-highmem': 'N' },
    // An order no allocation has: min-order is checked first.
    excluded: { 'min-order': '4294967295', 'ignore-gfp-wait': 'Y', 'ignore-gfp-highmem': 'Y' },
    defaults: { 'min-order': '1', 'ignore-gfp-wait': 'Y', 'ignore-gfp-highmem': 'Y' },
  },
};
export const CAPABILITY_NAMES = Object.keys(CAPABILITIES) as Capability[];

/**
 * The knobs every capability shares (lib/fault-inject.c), armed and at their
 * defaults. probability stays 0: fail-nth needs none, so nothing but the
 * armed task's Nth allocation can fail, and task-filter=Y keeps even a
 * non-zero probability to tasks marked make-it-fail. times is a counter
 * large enough never to reach 0: its decrease is the number of injections.
 * verbose 2 prints the stack, whose frames name the allocation's call site.
 */
export const TIMES_ARMED = 1_000_000;
export const COMMON_ARMED: Readonly<Record<string, string>> = {
  probability: '0',
  interval: '1',
  space: '0',
  times: String(TIMES_ARMED),
  'task-filter': 'Y',
  verbose: '2',
};
export const COMMON_DEFAULTS: Readonly<Record<string, string>> = {
  probability: '0',
  interval: '1',
  space: '0',
  times: '1',
  'task-filter': 'N',
  verbose: '2',
};

/** Which capabilities count toward fail-nth for a kind. */
export function capabilitiesOf(kind: InjectKind): Capability[] {
  return CAPABILITY_NAMES.filter((c) => kind === 'any' || CAPABILITIES[c].kind === kind);
}

/** A feature of fault injection that not every kernel or arch has. */
export interface Feature {
  config: string;
  doc: string;
  /** Per arch, the first version that can have it (absent arch: every version). */
  since?: Readonly<Record<string, string>>;
}

export const FEATURES: Readonly<Record<string, Feature>> = {
  // 6.1's lib/Kconfig.debug says `depends on !X86_64`; 6.12's has no such line. The patch that
  // dropped it ("fault-injection: allow stacktrace filter for x86-64") was still being posted
  // for -next in December 2022, so 6.3 is the first release that can have it (6.2 is unchecked).
  'stacktrace-filter': {
    config: 'CONFIG_FAULT_INJECTION_STACKTRACE_FILTER',
    doc: 'require-start/-end and reject-start/-end: inject only when the stack passes through an address range (a module)',
    since: { x86_64: '6.3' },
  },
};

/** Why the target cannot have a feature (its arch and version), or undefined. */
export function featureUnmet(name: keyof typeof FEATURES, arch: string, release: string): string | undefined {
  const f = FEATURES[name]!;
  const since = f.since?.[arch];
  if (since && compareVersions(release, since) < 0) return `${arch} kernels before ${since} have no fault-injection ${name}`;
  return undefined;
}

/** What a target's config must have for a kind of injection, by capability. */
export function injectUnmet(kind: InjectKind, t: { config: Map<string, string>; release: string }): string | undefined {
  const need = ['CONFIG_FAULT_INJECTION', 'CONFIG_FAULT_INJECTION_DEBUG_FS', ...capabilitiesOf(kind).map((c) => CAPABILITIES[c].config)];
  const missing = need.filter((o) => !isEnabled(t.config, o));
  if (!missing.length) return undefined;
  return `fault injection (${kind}) needs ${missing.join(', ')}, which kernel ${t.release} lacks (kernels/config/fault-injection.config adds them)`;
}
