/**
 * The kernel's own test modules kharness runs, as data: how each is loaded,
 * what its normal completion looks like, how its results are read, which of
 * its cases exist on which versions and which are expected to fail. Adding
 * lib/test_kasan, kfence_test or overflow_kunit is an entry here (a KTAP
 * suite needs nothing else). Facts checked against the 6.1.192 and 6.12.117
 * sources (lib/test_vmalloc.c, lib/slub_kunit.c, lib/test_meminit.c,
 * lib/test_free_pages.c) and against their output on booted guests.
 */
import type { SplatPattern } from '../analysis/splats.ts';

/** A range of kernel versions: since is inclusive, until exclusive ("6.2"). */
export interface Versions {
  since?: string;
  until?: string;
}

export interface CaseSpec extends Versions {
  name: string;
  /** The bit that selects it in the module's case-mask parameter. */
  bit?: number;
  /** Not built when any of these options is on (slub_kunit's poison cases under KASAN). */
  unlessConfig?: string[];
}

export interface ParamSpec extends Versions {
  type: 'int' | 'bool';
  min?: number;
  max?: number;
  doc: string;
}

/** Cases the kernel's authors expect to fail, and when. */
export interface ExpectedFailure extends Versions {
  cases: string[];
  why: string;
  /** Only when this holds on the guest (a `when:` comparison over its constants, e.g. INIT_ON_ALLOC + INIT_ON_FREE == 0). */
  when?: string;
  /** Kernel reports the failure is known to print: they do not count against the run. */
  reports?: SplatPattern[];
  /** It may also pass (the module's own xfail: a failure is allowed, not required). */
  mayPass?: boolean;
}

/**
 * How results are read from the kernel log:
 * - ktap: a KUnit suite's KTAP block (`# Subtest: SUITE`, `1..N`, `ok|not ok K case`);
 * - summary: test_vmalloc's per-worker `Summary:` lines (from 7.2 with an xfailed count) and `All test took` line;
 * - lines: one line per case saying passed or failed, and a line for the end;
 * - progress: a line as each case starts; a case passed when the next one (or the end) is reached.
 */
export type Reader =
  | { kind: 'ktap'; suite: string }
  | { kind: 'summary' }
  | { kind: 'lines'; pass: RegExp; fail: RegExp; done: RegExp }
  | { kind: 'progress'; start: RegExp; done: RegExp };

export interface KernelTestModule {
  /** The .ko's name, without .ko. */
  module: string;
  /** The option that builds it, and any other it needs to run. */
  config: string[];
  doc: string;
  params: Record<string, ParamSpec>;
  /** Parameters kharness passes unless the scenario says otherwise: what finishes in seconds under TCG. */
  defaults: Record<string, number | boolean>;
  /** The parameter that selects cases by bit, when the module has one. */
  caseMask?: string;
  /** What loading it returns when it ran to its end: 0, or an errno name (test_vmalloc always "fails" with EAGAIN). */
  completes: string[];
  reader: Reader;
  cases: CaseSpec[];
  expectedFailures: ExpectedFailure[];
  /** The numeric facts of its cases that are metrics, and which way is better (compare, history, bisect --metric). */
  metrics?: Record<string, 'lower' | 'higher'>;
  /** The versions whose module prints results the reader can read, and why not outside them. */
  readable?: Versions & { why: string };
}

export const KERNEL_TESTS: Readonly<Record<string, KernelTestModule>> = {
  test_vmalloc: {
    module: 'test_vmalloc',
    config: ['CONFIG_TEST_VMALLOC'],
    doc: 'vmalloc stress: each worker runs every selected case test_loop_count times and prints a summary per case',
    params: {
      // 5.10 runs one worker per online CPU (and has single_cpu_test instead).
      nr_threads: { type: 'int', min: 0, max: 65535, since: '5.13', doc: 'workers, each running every case (0 and 1: one)' },
      sequential_test_order: { type: 'bool', doc: 'run the cases in order instead of shuffled' },
      test_repeat_count: { type: 'int', min: 1, max: 1000, doc: 'times each case is run' },
      test_loop_count: { type: 'int', min: 1, max: 1000000, doc: 'allocations per case run (default 1,000,000: minutes under TCG)' },
      nr_pages: { type: 'int', min: 0, max: 65536, doc: 'pages for fix_size_alloc_test (0: one)' },
      use_huge: { type: 'bool', since: '6.3', doc: 'vmalloc_huge in fix_size_alloc_test' },
      run_test_mask: { type: 'int', min: 1, max: 2147483647, doc: 'cases to run, one bit each (set from `cases:`)' },
    },
    defaults: { nr_threads: 2, test_loop_count: 1000, sequential_test_order: true },
    caseMask: 'run_test_mask',
    completes: ['EAGAIN'],
    reader: { kind: 'summary' },
    metrics: { avg_usec: 'lower', max_avg_usec: 'lower' },
    cases: [
      { name: 'fix_size_alloc_test', bit: 0 },
      { name: 'full_fit_alloc_test', bit: 1 },
      { name: 'long_busy_list_alloc_test', bit: 2 },
      { name: 'random_size_alloc_test', bit: 3 },
      { name: 'fix_align_alloc_test', bit: 4 },
      { name: 'random_size_align_alloc_test', bit: 5 },
      { name: 'align_shift_alloc_test', bit: 6 },
      { name: 'pcpu_alloc_test', bit: 7 },
      { name: 'kvfree_rcu_1_arg_vmalloc_test', bit: 8 },
      { name: 'kvfree_rcu_2_arg_vmalloc_test', bit: 9 },
      { name: 'vm_map_ram_test', bit: 10, since: '6.2' },
      // Both appeared between Debian's 6.12 and 7.2 sources (neither has them in 6.12, both in 7.2).
      { name: 'no_block_alloc_test', bit: 11, since: '7.2' },
      { name: 'vrealloc_test', bit: 12, since: '7.2' },
    ],
    expectedFailures: [
      {
        cases: ['align_shift_alloc_test'],
        why: 'asks for alignments up to 2^(BITS_PER_LONG-1), which no vmalloc area can meet: it fails by design',
        reports: [{ kind: 'vmalloc-failure' }],
      },
      {
        cases: ['no_block_alloc_test'],
        since: '7.2',
        why: '__vmalloc with GFP_ATOMIC or GFP_NOWAIT under preempt_disable() may fail (the module counts it as xfailed)',
        reports: [{ kind: 'vmalloc-failure' }],
        mayPass: true,
      },
    ],
  },
  slub_kunit: {
    module: 'slub_kunit',
    config: ['CONFIG_SLUB_KUNIT_TEST'],
    doc: "KUnit tests of SLUB's debugging: redzones, freepointer and poison corruption are detected and counted",
    params: {},
    defaults: {},
    completes: ['0'],
    reader: { kind: 'ktap', suite: 'slub_test' },
    cases: [
      { name: 'test_clobber_zone' },
      { name: 'test_next_pointer', unlessConfig: ['CONFIG_KASAN'] },
      { name: 'test_first_word', unlessConfig: ['CONFIG_KASAN'] },
      { name: 'test_clobber_50th_byte', unlessConfig: ['CONFIG_KASAN'] },
      { name: 'test_clobber_redzone_free' },
      { name: 'test_kmalloc_redzone_access', since: '6.2' },
      { name: 'test_kfree_rcu', since: '6.12' },
      { name: 'test_leak_destroy', since: '6.12' },
    ],
    expectedFailures: [],
  },
  test_meminit: {
    module: 'test_meminit',
    config: ['CONFIG_TEST_MEMINIT'],
    doc: 'memory handed out again after being dirtied and freed must come back zeroed (init_on_alloc / init_on_free)',
    params: {},
    defaults: {},
    completes: ['0', 'EINVAL'],
    reader: {
      kind: 'lines',
      pass: /^test_meminit: all (?<total>\d+) tests in (?<case>\w+) passed$/,
      fail: /^test_meminit: (?<case>\w+) failed (?<failed>\d+) out of (?<total>\d+) times$/,
      done: /^test_meminit: (?:all \d+ tests passed!|failures: \d+ out of \d+)$/,
    },
    cases: [{ name: 'test_pages' }, { name: 'test_kvmalloc' }, { name: 'test_kmemcache' }, { name: 'test_rcu_persistent' }],
    expectedFailures: [
      {
        cases: ['test_pages', 'test_kvmalloc', 'test_kmemcache'],
        when: 'INIT_ON_ALLOC + INIT_ON_FREE == 0',
        why: 'without init_on_alloc=1 or init_on_free=1 nothing zeroes reused memory, which is what the test checks',
      },
    ],
  },
  test_free_pages: {
    module: 'test_free_pages',
    config: ['CONFIG_TEST_FREE_PAGES'],
    doc: 'a million order-3 allocations freed while a speculative reference is held, with and without __GFP_COMP: free_pages() must not leak',
    params: {},
    defaults: {},
    completes: ['0'],
    reader: { kind: 'progress', start: /^test_free_pages: Testing with (?<case>.+)$/, done: /^test_free_pages: Test completed$/ },
    cases: [{ name: 'GFP_KERNEL' }, { name: 'GFP_KERNEL | __GFP_COMP' }],
    expectedFailures: [],
    // Measured: 5.10.262's module prints nothing at all; 6.1's prints a line per case.
    readable: { since: '5.11', why: 'it prints no line per case before 5.11 (5.10 prints nothing)' },
  },
};
