/**
 * The kernel's own test modules: the catalogue, the readers on real captured
 * kernel logs (test/fixtures/ktest, provenance in its README), and the
 * scenario checks that refuse a typo before anything boots.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readKtapSuite } from '../../harness/analysis/ktap.ts';
import { parseSplats, type Splat } from '../../harness/analysis/splats.ts';
import { ScenarioError } from '../../harness/errors.ts';
import { KERNEL_TESTS } from '../../harness/ktest/catalog.ts';
import { casesOn, completionOf, paramsOn, type RunInput, readRun } from '../../harness/ktest/read.ts';
import { PROJECT_ROOT } from '../../harness/paths.ts';
import { FLAG_CONSTANTS, SIZE_CONSTANTS } from '../../harness/probe/vocabulary.ts';
import { guestCmdlineNote } from '../../harness/report/summary.ts';
import type { ResultRecord } from '../../harness/results/records.ts';
import { MachineLease } from '../../harness/run/lease.ts';
import type { Machine } from '../../harness/run/machine.ts';
import { orderScenarios } from '../../harness/run/phases.ts';
import { stepUnmetReason } from '../../harness/run/steps/index.ts';
import { loadScript } from '../../harness/run/steps/kernel-test.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import { parsePredicate } from '../../harness/scenario/size.ts';

const FIX = join(PROJECT_ROOT, 'test', 'fixtures', 'ktest');
const log = (name: string) => readFileSync(join(FIX, name), 'utf8').trimEnd().split('\n');

const CONFIG = new Map([
  ['CONFIG_TEST_VMALLOC', 'm'],
  ['CONFIG_SLUB_KUNIT_TEST', 'm'],
  ['CONFIG_TEST_MEMINIT', 'm'],
  ['CONFIG_TEST_FREE_PAGES', 'm'],
]);

function input(lines: string[], over: Partial<RunInput> = {}): RunInput {
  return {
    lines,
    load: { rc: 0, output: '' },
    params: {},
    version: '6.1.192',
    config: CONFIG,
    holds: () => false,
    splats: parseSplats(lines),
    ...over,
  };
}

const EAGAIN = { rc: 1, output: "insmod: can't insert '/proc/self/fd/0': Resource temporarily unavailable" };
const statuses = (r: ReturnType<typeof readRun>) => Object.fromEntries(r.cases.map((c) => [c.name, c.status]));

describe('the catalogue of kernel test modules', () => {
  it('parses every expected failure condition over the guest constants', () => {
    for (const t of Object.values(KERNEL_TESTS))
      for (const e of t.expectedFailures) {
        if (e.when) expect(() => parsePredicate(e.when!, [...SIZE_CONSTANTS, ...FLAG_CONSTANTS])).not.toThrow();
        for (const c of e.cases) expect(t.cases.map((x) => x.name)).toContain(c);
      }
  });

  it('gives each case-mask case its own bit and defaults only the parameters a module has', () => {
    for (const t of Object.values(KERNEL_TESTS)) {
      for (const k of Object.keys(t.defaults)) expect(Object.keys(t.params)).toContain(k);
      if (!t.caseMask) continue;
      const bits = t.cases.map((c) => c.bit);
      expect(new Set(bits).size).toBe(bits.length);
    }
  });

  it('knows which cases each version has (slub_kunit: 5 on 6.1, 8 on 6.12; none of the poison cases under KASAN)', () => {
    expect(casesOn(KERNEL_TESTS.slub_kunit!, '6.1.192', CONFIG)).toHaveLength(5);
    expect(casesOn(KERNEL_TESTS.slub_kunit!, '6.12.117', CONFIG)).toHaveLength(8);
    expect(casesOn(KERNEL_TESTS.slub_kunit!, '6.12.117', new Map([['CONFIG_KASAN', 'y']]))).toHaveLength(5);
    expect(casesOn(KERNEL_TESTS.test_vmalloc!, '6.1.192', CONFIG).map((c) => c.name)).not.toContain('vm_map_ram_test');
    expect(casesOn(KERNEL_TESTS.test_vmalloc!, '6.12.117', CONFIG).map((c) => c.name)).toContain('vm_map_ram_test');
  });

  it('names the errno insmod printed', () => {
    expect(completionOf(EAGAIN)).toBe('EAGAIN');
    expect(completionOf({ rc: 0, output: '' })).toBe('0');
    expect(completionOf({ rc: 1, output: "insmod: can't insert 'x': Invalid argument" })).toBe('EINVAL');
    expect(completionOf({ rc: 127, output: 'sh: insmod: not found' })).toMatch(/^failed \(exit 127/);
  });
});

describe('KTAP as KUnit prints it', () => {
  it('reads 6.1 (no top-level header) and 6.12 (header and # module) shapes', () => {
    const a = readKtapSuite(log('6.1-x86_64-slub_kunit.log'), 'slub_test')!;
    expect(a).toMatchObject({ plan: 5, ended: true, status: 'pass' });
    expect(a.cases.map((c) => c.name)).toEqual([
      'test_clobber_zone',
      'test_next_pointer',
      'test_first_word',
      'test_clobber_50th_byte',
      'test_clobber_redzone_free',
    ]);
    const b = readKtapSuite(log('6.12-arm64-slub_kunit.log'), 'slub_test')!;
    expect(b).toMatchObject({ plan: 8, ended: true, status: 'pass' });
    expect(b.cases.every((c) => c.status === 'pass')).toBe(true);
    // Other kernel output while a case ran stays with the case it preceded.
    expect(b.cases.find((c) => c.name === 'test_kmalloc_redzone_access')!.diagnostics.join('\n')).toMatch(/stackdepot/);
  });

  it('reads a failing case with its EXPECTATION FAILED lines', () => {
    const s = readKtapSuite(log('6.1-x86_64-slub_kunit-redzone-break.log'), 'slub_test')!;
    const c = s.cases.find((x) => x.name === 'test_clobber_zone')!;
    expect(c.status).toBe('fail');
    expect(c.diagnostics.join('\n')).toMatch(/EXPECTATION FAILED at lib\/slub_kunit\.c:\d+/);
  });
});

describe('reading a run', () => {
  it('test_vmalloc: every case per worker, its time as facts, align_shift_alloc_test an expected failure with its known report', () => {
    for (const [file, version, n] of [
      ['6.1-x86_64-test_vmalloc.log', '6.1.192', 10],
      ['6.12-arm64-test_vmalloc.log', '6.12.117', 11],
      // 7.2 counts align_shift_alloc_test as xfailed (failed: 0): still its expected failure.
      ['7.2-x86_64-test_vmalloc.log', '7.2.13', 13],
    ] as const) {
      const lines = log(file);
      const r = readRun(KERNEL_TESTS.test_vmalloc!, input(lines, { load: EAGAIN, version, params: { nr_threads: 2 } }));
      expect(r.status, r.reason).toBe('pass');
      expect(r.cases).toHaveLength(n);
      expect(statuses(r).align_shift_alloc_test).toBe('expected-fail');
      expect(r.cases.filter((c) => c.status === 'pass')).toHaveLength(n - 1);
      expect(r.facts.workers).toBe(2);
      expect(r.facts.cycles_worker0).toBeGreaterThan(0);
      expect(r.facts.cycles_worker1).toBeGreaterThan(0);
      const fix = r.cases.find((c) => c.name === 'fix_size_alloc_test')!;
      expect(fix.facts).toMatchObject({ passed: 2, failed: 0, loops: 1000 });
      expect(fix.facts.avg_usec).toBeGreaterThan(0);
      expect(fix.evidence).toHaveLength(2);
      // The vmalloc error align_shift_alloc_test prints is forgiven; nothing else is.
      expect(r.known.map((s) => s.kind)).toContain('vmalloc-failure');
      expect(r.unexpected).toEqual([]);
    }
  });

  it("test_vmalloc: with no case chosen, every case the kernel's version has is asked for (7.2's module runs 3 by default)", () => {
    const t = KERNEL_TESTS.test_vmalloc!;
    const none = new Map<string, string>();
    expect(paramsOn(t, {}, '6.1.192', none)).toEqual({
      nr_threads: 2,
      test_loop_count: 1000,
      sequential_test_order: true,
      run_test_mask: 0b11_1111_1111,
    });
    expect(paramsOn(t, { nr_threads: 2 }, '6.12.117', none).run_test_mask).toBe(0b111_1111_1111);
    expect(paramsOn(t, { nr_threads: 2 }, '7.2.13', none).run_test_mask).toBe(0b1_1111_1111_1111);
    // A mask the scenario gave (its `cases:`) stays; kharness's defaults come first, the scenario's win.
    expect(paramsOn(t, { run_test_mask: 5 }, '7.2.13', none)).toEqual({
      nr_threads: 2,
      test_loop_count: 1000,
      sequential_test_order: true,
      run_test_mask: 5,
    });
    expect(paramsOn(t, { nr_threads: 4 }, '7.2.13', none).nr_threads).toBe(4);
    // 5.10's module has no nr_threads (one worker per CPU): the default is not passed there.
    expect(paramsOn(t, {}, '5.10.262', none)).toEqual({
      test_loop_count: 1000,
      sequential_test_order: true,
      run_test_mask: 0b11_1111_1111,
    });
    expect(paramsOn(KERNEL_TESTS.slub_kunit!, {}, '7.2.13', none)).toEqual({});
  });

  it('test_vmalloc: no_block_alloc_test (7.2) may fail or pass; its failure is expected', () => {
    const lines = log('7.2-x86_64-test_vmalloc.log').map((l) =>
      l.replace(/no_block_alloc_test passed: 1 failed: 0 xfailed: 0/, 'no_block_alloc_test passed: 0 failed: 0 xfailed: 1'),
    );
    const r = readRun(KERNEL_TESTS.test_vmalloc!, input(lines, { load: EAGAIN, version: '7.2.13', params: { nr_threads: 2 } }));
    expect(r.status, r.reason).toBe('pass');
    expect(statuses(r).no_block_alloc_test).toBe('expected-fail');
    const passing = readRun(
      KERNEL_TESTS.test_vmalloc!,
      input(log('7.2-x86_64-test_vmalloc.log'), { load: EAGAIN, version: '7.2.13', params: { nr_threads: 2 } }),
    );
    expect(statuses(passing).no_block_alloc_test).toBe('pass');
    // A real failure (failed: N) of a case with no expected failure still fails the run.
    const broken = readRun(
      KERNEL_TESTS.test_vmalloc!,
      input(
        log('7.2-x86_64-test_vmalloc.log').map((l) => l.replace(/vrealloc_test passed: 1 failed: 0/, 'vrealloc_test passed: 0 failed: 1')),
        { load: EAGAIN, version: '7.2.13', params: { nr_threads: 2 } },
      ),
    );
    expect(broken.status).toBe('fail');
    expect(statuses(broken).vrealloc_test).toBe('fail');
  });

  it('test_vmalloc: a worker whose summary never printed is a truncated run, never a pass', () => {
    const lines = log('6.1-x86_64-test_vmalloc.log');
    const cut = lines.slice(0, lines.findIndex((l) => /All test took worker1/.test(l)) - 3);
    const r = readRun(KERNEL_TESTS.test_vmalloc!, input(cut, { load: EAGAIN, params: { nr_threads: 2 } }));
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/cut short: 1 of 2 workers printed "All test took"/);
  });

  it("test_vmalloc: a case missing from one worker's summary is an error, not a pass on the other worker's word", () => {
    const lines = log('6.12-arm64-test_vmalloc.log');
    const hits = lines.flatMap((l, i) => (/Summary: pcpu_alloc_test/.test(l) ? [i] : []));
    const drop = hits[hits.length - 1]!;
    const r = readRun(
      KERNEL_TESTS.test_vmalloc!,
      input([...lines.slice(0, drop), ...lines.slice(drop + 1)], { load: EAGAIN, version: '6.12.117', params: { nr_threads: 2 } }),
    );
    expect(statuses(r).pcpu_alloc_test).toBe('error');
    expect(r.cases.find((c) => c.name === 'pcpu_alloc_test')!.reason).toBe('only 1 of 2 workers reported it');
    expect(r.status).toBe('error');
  });

  it('test_vmalloc: a load that did not end with EAGAIN is an error, and says what insmod said', () => {
    const r = readRun(
      KERNEL_TESTS.test_vmalloc!,
      input(log('6.1-x86_64-test_vmalloc.log'), { load: { rc: 1, output: 'insmod: cannot insert: Invalid argument' } }),
    );
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/ended with EINVAL; it completes with EAGAIN/);
  });

  it('test_vmalloc: any other kernel report during the run fails it', () => {
    const lines = [...log('6.1-x86_64-test_vmalloc.log')];
    const warning = ['WARNING: CPU: 0 PID: 1 at mm/vmalloc.c:3100 __vmalloc_node_range+0x1/0x2', '---[ end trace 0 ]---'];
    const splats: Splat[] = [...parseSplats(lines), ...parseSplats(warning)];
    const r = readRun(KERNEL_TESTS.test_vmalloc!, input(lines, { load: EAGAIN, params: { nr_threads: 2 }, splats }));
    expect(r.status).toBe('fail');
    expect(r.unexpected.map((s) => s.kind)).toEqual(['warning']);
  });

  it('kfence_test: the 21 KFENCE reports the suite provokes are its evidence, not findings; a case it fails still fails', () => {
    const lines = log('6.12-x86_64-kfence_test.log');
    const config = new Map([['CONFIG_KFENCE_KUNIT_TEST', 'm']]);
    const r = readRun(KERNEL_TESTS.kfence_test!, input(lines, { version: '6.12.118', config }));
    expect(r.status).toBe('pass');
    expect(r.known).toHaveLength(21);
    expect(r.known.every((x) => x.kind === 'kfence')).toBe(true);
    expect(r.unexpected).toEqual([]);
    const st = Object.values(statuses(r));
    expect([st.length, st.filter((x) => x === 'pass').length, st.filter((x) => x === 'skip').length]).toEqual([25, 23, 2]);
    // Any other report still counts against the run.
    const warning = ['WARNING: CPU: 1 PID: 58 at mm/slub.c:1234 kfree+0x1/0x2', '---[ end trace 0 ]---'];
    const extra = readRun(
      KERNEL_TESTS.kfence_test!,
      input(lines, { version: '6.12.118', config, splats: [...parseSplats(lines), ...parseSplats(warning)] }),
    );
    expect(extra.status).toBe('fail');
    expect(extra.unexpected.map((x) => x.kind)).toEqual(['warning']);
    // A case whose report never came is the suite's own failure.
    const missed = readRun(
      KERNEL_TESTS.kfence_test!,
      input(
        lines.map((l) => l.replace(/ ok 7 test_double_free$/, ' not ok 7 test_double_free')),
        { version: '6.12.118', config },
      ),
    );
    expect(missed.status).toBe('fail');
    expect(statuses(missed).test_double_free).toBe('fail');
  });

  it('kasan_test and kfence_test: the cases each checked version has, none expected where it is gone', () => {
    const kasan = new Map([['CONFIG_KASAN_KUNIT_TEST', 'm']]);
    expect(casesOn(KERNEL_TESTS.kasan_test!, '6.1.192', kasan)).toHaveLength(55);
    expect(casesOn(KERNEL_TESTS.kasan_test!, '6.12.118', kasan)).toHaveLength(72);
    // copy_to_kernel_nofault_oob exists only when the suite is built in.
    expect(casesOn(KERNEL_TESTS.kasan_test!, '7.2.13', kasan)).toHaveLength(75);
    expect(casesOn(KERNEL_TESTS.kasan_test!, '6.6.50', kasan).map((c) => c.name)).not.toContain('kmalloc_pagealloc_uaf');
    expect(casesOn(KERNEL_TESTS.kfence_test!, '6.12.118', new Map())).toHaveLength(25);
    expect(casesOn(KERNEL_TESTS.kfence_test!, '7.3.4', new Map())).toHaveLength(27);
  });

  it('slub_kunit: a plan of 8 with fewer results is truncated, and each missing case is an error', () => {
    const lines = log('6.12-arm64-slub_kunit.log');
    const cut = lines.slice(0, lines.findIndex((l) => /ok 4 test_clobber_50th_byte/.test(l)) + 1);
    const r = readRun(KERNEL_TESTS.slub_kunit!, input(cut, { version: '6.12.117' }));
    expect(r.status).toBe('error');
    expect(r.reason).toMatch(/plan says 1\.\.8 and the log has 4 results/);
    expect(r.cases.filter((c) => c.status === 'error').map((c) => c.name)).toEqual([
      'test_clobber_redzone_free',
      'test_kmalloc_redzone_access',
      'test_kfree_rcu',
      'test_leak_destroy',
    ]);
  });

  it('slub_kunit: a failing case is a failure with its evidence, whether the log keeps a record on one line or several', () => {
    const lines = log('6.1-x86_64-slub_kunit-redzone-break.log');
    // /dev/kmsg gives KUnit's "Expected ..." lines inside the EXPECTATION FAILED record: one entry with newlines.
    const records: string[] = [];
    for (const l of lines) {
      if (l.startsWith('[') || !records.length) records.push(l);
      else records[records.length - 1] += `\n${l}`;
    }
    expect(records.length).toBeLessThan(lines.length);
    for (const shape of [lines, records]) {
      const r = readRun(KERNEL_TESTS.slub_kunit!, input(shape));
      expect(r.status).toBe('fail');
      expect(statuses(r)).toEqual({
        test_clobber_zone: 'fail',
        test_next_pointer: 'pass',
        test_first_word: 'pass',
        test_clobber_50th_byte: 'pass',
        test_clobber_redzone_free: 'fail',
      });
      const c = r.cases.find((x) => x.name === 'test_clobber_zone')!;
      expect(c.evidence).toEqual([
        '# test_clobber_zone: EXPECTATION FAILED at lib/slub_kunit.c:22',
        'Expected 2 == slab_errors, but',
        'slab_errors == 0',
        'not ok 1 test_clobber_zone',
      ]);
    }
  });

  it('test_meminit: failures without init_on_* are expected, test_rcu_persistent still passes; the same log with init on is a failure', () => {
    for (const file of ['6.1-x86_64-test_meminit-init-off.log', '6.12-arm64-test_meminit-init-off.log']) {
      const off = input(log(file), { load: { rc: 1, output: 'Invalid argument' }, holds: () => true });
      const r = readRun(KERNEL_TESTS.test_meminit!, off);
      expect(r.status, r.reason).toBe('pass');
      expect(statuses(r)).toEqual({
        test_pages: 'expected-fail',
        test_kvmalloc: 'expected-fail',
        test_kmemcache: 'expected-fail',
        test_rcu_persistent: 'pass',
      });
      expect(r.cases[0]!.facts).toMatchObject({ failed: expect.any(Number), total: expect.any(Number) });
      // The guest had init_on_alloc=1 after all: the failures are real.
      const on = readRun(KERNEL_TESTS.test_meminit!, { ...off, holds: () => false });
      expect(on.status).toBe('fail');
      expect(statuses(on).test_pages).toBe('fail');
    }
  });

  it('test_meminit: a case that passes where it is expected to fail is reported as such', () => {
    const r = readRun(KERNEL_TESTS.test_meminit!, input(log('6.12-arm64-test_meminit-init-on.log'), { holds: () => true }));
    expect(r.status).toBe('fail');
    expect(statuses(r).test_pages).toBe('unexpected-pass');
    expect(r.cases[0]!.reason).toMatch(/passed, but it is expected to fail/);
  });

  it('test_meminit: no closing line is a truncated run', () => {
    const lines = log('6.1-x86_64-test_meminit-init-on.log').slice(0, 2);
    const r = readRun(KERNEL_TESTS.test_meminit!, input(lines));
    expect(r.status).toBe('error');
    expect(statuses(r)).toMatchObject({ test_pages: 'pass', test_kvmalloc: 'pass', test_kmemcache: 'error' });
  });

  it('test_free_pages: a case passes when the next begins; one still running when the guest died is cut short', () => {
    const full = [
      '[    2.6] test_free_pages: Testing with GFP_KERNEL',
      '[   50.1] test_free_pages: Testing with GFP_KERNEL | __GFP_COMP',
      '[   98.5] test_free_pages: Test completed',
    ];
    expect(statuses(readRun(KERNEL_TESTS.test_free_pages!, input(full)))).toEqual({
      GFP_KERNEL: 'pass',
      'GFP_KERNEL | __GFP_COMP': 'pass',
    });
    const died = readRun(KERNEL_TESTS.test_free_pages!, input(full.slice(0, 2), { cut: 'the guest died during the run' }));
    expect(died.status).toBe('error');
    expect(statuses(died)).toEqual({ GFP_KERNEL: 'pass', 'GFP_KERNEL | __GFP_COMP': 'error' });
  });
});

describe('kernel test steps in scenarios', () => {
  const errorOf = (src: string): string => {
    try {
      parseScenario(src, 'k.yaml');
    } catch (e) {
      if (e instanceof ScenarioError) return e.message;
      throw e;
    }
    throw new Error('no error');
  };

  it('refuses an unknown module, parameter or case, a bad value, and expectations, at file:line:column', () => {
    const head = 'name: k\nsteps:\n  - kernel_test:\n';
    expect(errorOf(`${head}      module: test_vmaloc\n`)).toMatch(/^k\.yaml:4:15: must be one of: test_vmalloc, slub_kunit/);
    expect(errorOf(`${head}      module: test_vmalloc\n      params: { test_loop_cnt: 5 }\n`)).toMatch(
      /^k\.yaml:5:17: test_vmalloc has no parameter "test_loop_cnt" \(it has: nr_threads, /,
    );
    expect(errorOf(`${head}      module: slub_kunit\n      params: { x: 1 }\n`)).toMatch(
      /slub_kunit has no parameter "x" \(it takes none\)/,
    );
    expect(errorOf(`${head}      module: test_vmalloc\n      params: { test_loop_count: 0 }\n`)).toMatch(
      /^k\.yaml:5:34: "test_loop_count" must be between 1 and 1000000/,
    );
    expect(errorOf(`${head}      module: test_vmalloc\n      params: { use_huge: 1 }\n`)).toMatch(/"use_huge" is true or false/);
    expect(errorOf(`${head}      module: slub_kunit\n      cases: [test_clobber_zone, test_clober]\n`)).toMatch(
      /^k\.yaml:5:34: slub_kunit has no case "test_clober" \(its cases: test_clobber_zone,/,
    );
    expect(errorOf(`${head}      module: slub_kunit\n    expect: { ok: true }\n`)).toMatch(/judged by the module itself: leave out expect/);
    expect(errorOf(`name: k\nboot: { cmdline: "init_on_alloc=0 \`reboot\`" }\nsteps:\n  - unfragment: true\n`)).toMatch(
      /^k\.yaml:2:\d+: "`reboot`" is not a kernel parameter/,
    );
  });

  it('turns cases into the case mask, and a module the kernel does not build into a skip naming the option', () => {
    const s = parseScenario(
      'name: k\nboot: { cmdline: [init_on_alloc=0] }\nsteps:\n  - kernel_test: { module: test_vmalloc, cases: [full_fit_alloc_test, pcpu_alloc_test] }\n',
      'k.yaml',
    );
    expect(s.cmdline).toEqual(['init_on_alloc=0']);
    const a = s.steps[0]!.action;
    expect(a.kind === 'kernel-test' && a.params.run_test_mask).toBe(2 | 128);
    const facts = { arch: 'x86_64', release: '6.1.0-56-cloud-amd64', config: new Map([['CONFIG_SLUB', 'y']]) };
    expect(stepUnmetReason(s.steps[0]!, facts)).toBe("kernel config lacks CONFIG_TEST_VMALLOC (the kernel's test module test_vmalloc)");
    const huge = parseScenario('name: k\nsteps:\n  - kernel_test: { module: test_vmalloc, params: { use_huge: true } }\n', 'k.yaml');
    expect(stepUnmetReason(huge.steps[0]!, { ...facts, release: '6.1.192', config: CONFIG })).toBe(
      'test_vmalloc on 6.1.192 has no parameter use_huge',
    );
  });

  it('runs scenarios with a command line of their own after the shared VM, equal command lines together, kernel tests last on each', () => {
    const sc = (name: string, cmdline?: string, ktest = false) => {
      const boot = cmdline ? `boot: { cmdline: "${cmdline}" }\n` : '';
      const step = ktest ? 'kernel_test: { module: slub_kunit }' : 'unfragment: true';
      return parseScenario(`name: ${name}\n${boot}steps:\n  - ${step}\n`, `${name}.yaml`);
    };
    const order = orderScenarios([
      sc('k1', undefined, true),
      sc('a', 'init_on_alloc=1'),
      sc('k2', 'init_on_alloc=0', true),
      sc('b'),
      sc('c', 'init_on_alloc=0'),
      sc('d', 'init_on_alloc=1'),
      sc('e'),
    ]);
    expect(order.map((s) => s.name)).toEqual(['b', 'e', 'k1', 'c', 'k2', 'a', 'd']);
  });

  it('loads the module through a pipe, between the kernel-log markers, and removes it again', () => {
    const script = loadScript(7, 'test_vmalloc', { test_loop_count: 1000, sequential_test_order: true });
    expect(script.split('\n')).toEqual([
      'echo "kalloc_probe: begin seq=7 cmd=ktest module=test_vmalloc" > /dev/kmsg',
      'cat /lib/kharness-ktest/test_vmalloc.ko | insmod /proc/self/fd/0 test_loop_count=1000 sequential_test_order=1 2>&1; rc=$?',
      'rmmod test_vmalloc 2>/dev/null',
      'echo "kalloc_probe: end seq=7" > /dev/kmsg',
      'echo "kharness-rc=$rc"',
    ]);
  });

  it('boots a new VM when the command line changes, and reuses one while it stays the same', async () => {
    const booted: (string[] | undefined)[] = [];
    const closed: number[] = [];
    const lease = new MachineLease(async (n, cmdline) => {
      booted.push(cmdline);
      return { info: { boot: n, extraCmdline: cmdline }, close: async () => void closed.push(n) } as unknown as Machine;
    });
    await lease.acquire(false);
    await lease.acquire(false);
    await lease.acquire(false, ['init_on_alloc=0']);
    await lease.acquire(false, ['init_on_alloc=0']);
    await lease.acquire(false, ['init_on_alloc=1']);
    await lease.acquire(false);
    await lease.close();
    expect(booted).toEqual([undefined, ['init_on_alloc=0'], ['init_on_alloc=1'], undefined]);
    expect(closed).toEqual([1, 2, 3, 4]);
  });

  it('shares machines by the parameters that change the kernel, and boots one with every parameter the scenario gave', async () => {
    const booted: (string[] | undefined)[] = [];
    const lease = new MachineLease(async (n, cmdline) => {
      booted.push(cmdline);
      return { info: { boot: n, extraCmdline: cmdline }, close: async () => {} } as unknown as Machine;
    });
    // init_on_free=0 restates the default (left out of the effective line), init_on_alloc=0 does not.
    const a = await lease.acquire(false, ['init_on_alloc=0', 'init_on_free=0'], ['init_on_alloc=0']);
    const b = await lease.acquire(false, ['init_on_alloc=0'], ['init_on_alloc=0']);
    // Only restated defaults: the machine without parameters.
    await lease.acquire(false, ['init_on_alloc=1'], []);
    await lease.close();
    expect(a).toBe(b);
    expect(booted).toEqual([['init_on_alloc=0', 'init_on_free=0'], undefined]);
  });

  it('says in the reports what the guests were booted with', () => {
    const guest = (extra?: string[]) =>
      ({
        type: 'guest',
        target: { arch: 'x86_64', kernel: '6.1' },
        boot: 1,
        consoleLog: 'console-1.log',
        accel: 'tcg',
        cmdline: ['console=ttyS0', 'watchdog_thresh=60', 'rcupdate.rcu_cpu_stall_timeout=300', ...(extra ?? [])].join(' '),
        extraCmdline: extra,
        bootMs: 1,
        sshMs: 1,
        constants: {},
      }) as ResultRecord;
    expect(guestCmdlineNote([guest(), guest(['init_on_alloc=0', 'init_on_free=0'])])).toBe(
      'Guests boot with watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=300: the soft-lockup and RCU-stall thresholds are raised ' +
        'for an emulated CPU, so a long kernel test is not taken for a hang (the step and console-silence timeouts still catch one). ' +
        'Scenarios with kernel parameters of their own ran on VMs booted with: init_on_alloc=0 init_on_free=0.',
    );
    expect(guestCmdlineNote([])).toBeUndefined();
  });
});
