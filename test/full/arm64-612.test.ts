/**
 * arm64 6.12 built from Debian's source (4 KiB pages, Debian's allocator
 * options, DEBUG_ATOMIC_SLEEP and the kernel's own test modules, which
 * Debian's prebuilt kernels lack): every shipped scenario, the kernel's own
 * tests in 6.12's KTAP shape with the kunit.py cross-check, and two arm64
 * targets side by side. npm test covers arm64 on Debian's prebuilt 6.12.
 */
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '../../harness/paths.ts';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { ARM64_16K } from '../e2e/archive.ts';
import { cli, qemusUnder, results, shipped, steps, tempDir } from '../e2e/helpers.ts';
import { checkKernelTestReports, checkKernelTests } from '../e2e/kernel-test-checks.ts';
import { overlap, runningSpan, stepOf } from '../e2e/shared.ts';

const all = readdirSync(SCENARIOS_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();

describe('every shipped scenario on arm64 6.12 from source', () => {
  const out = tempDir();
  let exitCode: number | undefined;
  let output = '';
  let records: ResultRecord[] = [];
  let s: StepRecord[] = [];
  const step = (scenario: string, name: string) => stepOf(s, scenario, name);

  beforeAll(async () => {
    const r = await cli(['run', '--arch', 'arm64', '--kernel', '6.12', '--reporter', 'default,ktap,junit,html', '--out', out]);
    exitCode = r.exitCode;
    output = r.all ?? '';
    records = results(out);
    s = steps(records);
  });

  it('runs every scenario and passes, skipping only the PREEMPT_RT, fault-injection, detector-suite and 7.2 steps', () => {
    expect([...new Set(s.map((x) => x.scenario))].sort()).toEqual(all);
    expect(s.filter((x) => x.status === 'fail' || x.status === 'error').map((x) => `${x.scenario} › ${x.name}`)).toEqual([]);
    const skipped = s.filter((x) => x.status === 'skip');
    expect(skipped.length).toBeGreaterThan(0);
    expect(
      [...new Set(skipped.map((x) => `${x.scenario}: ${x.reason?.replace(/target is 6\.12\.\S+/, 'target is 6.12')}`))].sort(),
    ).toEqual([
      'gfp-atomic-injected: kernel config lacks CONFIG_FAULT_INJECTION, CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC',
      'gfp-atomic-rt: kernel config lacks CONFIG_PREEMPT_RT',
      // The detector suites run on the catalog's -kasan and -kfence variants.
      "kernel-test-kasan: kernel config lacks CONFIG_KASAN_KUNIT_TEST (the kernel's test module kasan_test)",
      "kernel-test-kfence: kernel config lacks CONFIG_KFENCE_KUNIT_TEST (the kernel's test module kfence_test)",
      // What 7.2 does instead (vmalloc and kvmalloc with GFP_ATOMIC, vmalloc's large pages).
      'kvmalloc-fallback: needs kernel >= 7.2, target is 6.12',
      'memchr-inv-large: needs kernel <= 5.10, target is 6.12',
      'vmalloc-atomic-from-72: needs kernel >= 7.2, target is 6.12',
      'vmalloc-contiguity: needs kernel >= 7.2, target is 6.12',
    ]);
    expect(exitCode, output).toBe(0);
    const p = records.find((r) => r.type === 'kernel-profile');
    expect(p?.type === 'kernel-profile' && p.options).toMatchObject({ SLUB_TINY: 'n', KFENCE: 'y', DEBUG_ATOMIC_SLEEP: 'y' });
  });

  it('reports GFP_KERNEL in hard IRQ on arm64 (DEBUG_ATOMIC_SLEEP, which Debian lacks)', () => {
    expect(step('gfp-atomic-irq', 'GFP_KERNEL in hard IRQ is reported').splats.map((x) => x.kind)).toContain('sleep-in-atomic');
  });

  it("runs the kernel's own tests in 6.12's shape, and agrees with kunit.py", async () => {
    await checkKernelTests(records, 'arm64/6.12', out, '6.12');
    checkKernelTestReports(out, 'arm64.6_12');
  });

  it('leaves no QEMU behind', async () => {
    expect(await qemusUnder(out)).toEqual([]);
  });
});

describe('two arm64 targets at once', () => {
  it("runs Debian's 16k kernel beside the 6.12 source build, with both guests up at the same time", async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      shipped('kmalloc-size-limits'),
      '--arch',
      'arm64',
      '--kernel',
      `${ARM64_16K},6.12`,
      '--jobs',
      '2',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const recs = results(out);
    const ss = steps(recs);
    for (const k of [ARM64_16K, '6.12']) {
      const mine = ss.filter((x) => x.target.kernel === k);
      expect(mine.length, k).toBeGreaterThan(20);
      expect(
        mine.filter((x) => x.status !== 'pass'),
        k,
      ).toEqual([]);
    }
    // Really side by side: each guest was up and working while the other was.
    expect(overlap(runningSpan(recs, 'arm64', ARM64_16K), runningSpan(recs, 'arm64', '6.12'))).toBe(true);
    expect(await qemusUnder(out)).toEqual([]);
  });
});
