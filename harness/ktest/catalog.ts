/**
 * The kernel's own test modules kharness runs, as data: how each is loaded,
 * what its normal completion looks like, how its results are read, which of
 * its cases exist on which versions and which are expected to fail. Adding
 * overflow_kunit or another KTAP suite is an entry here (it needs nothing
 * else). Facts checked against the 6.1.192 and 6.12.117 sources
 * (lib/test_vmalloc.c, lib/slub_kunit.c, lib/test_meminit.c,
 * lib/test_free_pages.c; the KASAN and KFENCE suites also against 7.2.13 and
 * 7.3.4) and against their output on booted guests.
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
  /**
   * Kernel reports the suite provokes on purpose and checks case by case
   * (KASAN's suite makes KASAN report, and a case fails when no report came):
   * they are its evidence, not findings.
   */
  provokes?: SplatPattern[];
}

/**
 * Cases named in one string, all existing in the same versions. A case first
 * seen in a later checked source is `since` that source; one gone from the
 * next checked source is `until` the release after the last that has it. So
 * a version between two checked ones may show a case the table does not
 * expect there (reported as found), but never lacks one it expects.
 */
function casesIn(v: Versions, names: string): CaseSpec[] {
  return names.split(' ').map((name) => ({ name, ...v }));
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
  kasan_test: {
    module: 'kasan_test',
    config: ['CONFIG_KASAN_KUNIT_TEST'],
    doc: "KASAN's KUnit suite: each case makes one bad access (out of bounds, use after free, double or invalid free) and fails unless KASAN reports it",
    params: {},
    defaults: {},
    completes: ['0'],
    reader: { kind: 'ktap', suite: 'kasan' },
    provokes: [{ kind: 'kasan' }],
    // 5.10 builds the same suite as lib/test_kasan.ko; mm/kasan/kasan_test.ko from 6.1 (6.12 on: kasan_test_c.c).
    readable: { since: '6.1', why: 'before 6.1 (checked: 5.10) the suite is lib/test_kasan.ko' },
    // Cases that need the tag-based modes (the *_tags and match_all_* ones) or Rust skip themselves on generic
    // KASAN (`# SKIP`); copy_to_kernel_nofault_oob exists only when the suite is built in, never as a module.
    cases: [
      ...casesIn(
        {},
        'kmalloc_oob_right kmalloc_oob_left kmalloc_node_oob_right kmalloc_large_oob_right krealloc_more_oob ' +
          'krealloc_less_oob krealloc_uaf kmalloc_oob_16 kmalloc_uaf_16 kmalloc_oob_in_memset kmalloc_oob_memset_2 ' +
          'kmalloc_oob_memset_4 kmalloc_oob_memset_8 kmalloc_oob_memset_16 kmalloc_memmove_negative_size ' +
          'kmalloc_memmove_invalid_size kmalloc_uaf kmalloc_uaf_memset kmalloc_uaf2 kmalloc_uaf3 kfree_via_page ' +
          'kfree_via_phys kmem_cache_oob kmem_cache_accounted kmem_cache_bulk kasan_global_oob_right ' +
          'kasan_global_oob_left kasan_stack_oob kasan_alloca_oob_left kasan_alloca_oob_right ksize_unpoisons_memory ' +
          'ksize_uaf kmem_cache_double_free kmem_cache_invalid_free kmem_cache_double_destroy kasan_memchr kasan_memcmp ' +
          'kasan_strings kasan_bitops_generic kasan_bitops_tags kmalloc_double_kzfree vmalloc_helpers_tags vmalloc_oob ' +
          'vmap_tags vm_map_ram_tags match_all_not_assigned match_all_ptr_tag match_all_mem_tag',
      ),
      ...casesIn(
        { until: '6.2' },
        'kmalloc_pagealloc_oob_right kmalloc_pagealloc_uaf kmalloc_pagealloc_invalid_free pagealloc_oob_right ' +
          'pagealloc_uaf krealloc_pagealloc_more_oob krealloc_pagealloc_less_oob',
      ),
      ...casesIn(
        { since: '6.12' },
        'kmalloc_big_oob_right kmalloc_large_uaf kmalloc_large_invalid_free page_alloc_oob_right page_alloc_uaf ' +
          'krealloc_large_more_oob krealloc_large_less_oob rcu_uaf workqueue_uaf kmem_cache_rcu_uaf ' +
          'mempool_kmalloc_oob_right mempool_kmalloc_large_oob_right mempool_slab_oob_right mempool_kmalloc_uaf ' +
          'mempool_kmalloc_large_uaf mempool_slab_uaf mempool_page_alloc_uaf mempool_kmalloc_double_free ' +
          'mempool_kmalloc_large_double_free mempool_page_alloc_double_free mempool_kmalloc_invalid_free ' +
          'mempool_kmalloc_large_invalid_free kasan_atomics rust_uaf',
      ),
      ...casesIn({ since: '7.2' }, 'kmalloc_track_caller_oob_right kmem_cache_rcu_reuse copy_user_test_oob'),
    ],
    expectedFailures: [],
  },
  kfence_test: {
    module: 'kfence_test',
    config: ['CONFIG_KFENCE_KUNIT_TEST'],
    doc:
      "KFENCE's KUnit suite: bad accesses to sampled objects (out of bounds, use after free, double and invalid free, " +
      'corruption) must be reported, with the right type and address',
    params: {},
    defaults: {},
    completes: ['0'],
    reader: { kind: 'ktap', suite: 'kfence' },
    provokes: [{ kind: 'kfence' }],
    // KFENCE arrived in 5.12. Each case waits for an allocation to land in the KFENCE pool: the sample interval
    // (kfence.config: 10 ms) bounds how long it takes.
    readable: { since: '5.12', why: 'KFENCE and its suite arrived in 5.12' },
    cases: [
      ...casesIn(
        {},
        'test_out_of_bounds_read test_out_of_bounds_read-memcache test_out_of_bounds_write ' +
          'test_out_of_bounds_write-memcache test_use_after_free_read test_use_after_free_read-memcache test_double_free ' +
          'test_double_free-memcache test_invalid_addr_free test_invalid_addr_free-memcache test_corruption ' +
          'test_corruption-memcache test_free_bulk test_free_bulk-memcache test_init_on_free test_init_on_free-memcache ' +
          'test_kmalloc_aligned_oob_read test_kmalloc_aligned_oob_write test_shrink_memcache test_memcache_ctor ' +
          'test_invalid_access test_gfpzero test_memcache_typesafe_by_rcu test_krealloc test_memcache_alloc_bulk',
      ),
      ...casesIn({ since: '7.2' }, 'test_use_after_free_read_nofault test_use_after_free_read_nofault-memcache'),
    ],
    expectedFailures: [],
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
