/**
 * The detector variants on both arches, built from Debian's 6.12 source:
 * 6.12-kasan (generic KASAN, KASAN_VMALLOC), 6.12-kfence (KFENCE sampling
 * every 10 ms) and 6.12-debug (kmemleak, SLUB debug, DEBUG_ATOMIC_SLEEP,
 * allocation profiling, fault injection). On each: the kernel's own suite for
 * that detector, case by case, agreeing with kunit.py's parser on the same
 * kernel log; the example modules each detector exists for, caught in the
 * phase that made the bug; and the clean module passing. In the full tier
 * because each variant is a kernel build of its own (11-17 minutes each on
 * two cores, cold, 2026-12-07; KASAN instruments every object file). Warm:
 * the KASAN test 48 s and the KFENCE test 69 s, both arches at once.
 */
import { describe, expect, it } from 'vitest';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { cli, qemusUnder, results, shipped, steps, tempDir } from '../e2e/helpers.ts';
import { asKunit, caseStatus, kunitParse, sourceOf } from '../e2e/kernel-test-checks.ts';

const ARCHES = ['x86_64', 'arm64'];
const module = (name: string) => `scenarios/modules/${name}.yaml`;

async function run(args: string[]): Promise<{ exitCode?: number; output: string; records: ResultRecord[]; s: StepRecord[]; out: string }> {
  const out = tempDir();
  const r = await cli(['run', ...args, '--arch', ARCHES.join(','), '--jobs', '2', '--out', out], { timeoutMs: 150 * 60_000 });
  const records = results(out);
  return { exitCode: r.exitCode, output: r.all ?? '', records, s: steps(records), out };
}

describe('KASAN: its own suite and the example modules, x86_64 and arm64 (6.12-kasan)', () => {
  it('passes kasan_test case by case (as kunit.py reads it), and reports the write past kmalloc and the use after kfree at the access', async () => {
    const r = await run([
      shipped('kernel-test-kasan'),
      ...['clean', 'write-past-kmalloc-kasan', 'use-after-kfree-kasan'].map(module),
      '--kernel',
      '6.12-kasan',
    ]);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    for (const arch of ARCHES) {
      const mine = r.s.filter((x) => x.target.arch === arch);
      const whole = mine.find((x) => x.name === 'kasan_test')!;
      expect(whole.status, `${arch}: ${whole.reason}`).toBe('pass');
      const cases = mine.filter((x) => x.kernelTest?.case && x.scenario === 'kernel-test-kasan');
      expect(cases.filter((x) => x.status === 'pass').length, arch).toBeGreaterThan(50);
      const src = await sourceOf(r.records, `${arch}/6.12-kasan`);
      expect(asKunit(caseStatus(cases)), arch).toEqual(await kunitParse(src, whole, r.out, 'kasan'));
      const write = mine.find((x) => x.scenario === 'module-write-past-kmalloc-kasan' && x.name === 'exercise')!;
      expect(write.splats.find((p) => p.kind === 'kasan')?.title, arch).toMatch(
        /^BUG: KASAN: slab-out-of-bounds in poke_set\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kh_overflow\]/,
      );
      const uaf = mine.find((x) => x.scenario === 'module-use-after-kfree-kasan' && x.name === 'exercise')!;
      expect(uaf.splats.find((p) => p.kind === 'kasan')?.title, arch).toMatch(
        /^BUG: KASAN: slab-use-after-free in poke_set\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kh_uaf\]/,
      );
      expect(mine.filter((x) => x.scenario === 'module-clean').every((x) => x.status === 'pass' && x.splats.length === 0)).toBe(true);
    }
    expect(await qemusUnder(r.out)).toEqual([]);
  });
});

describe('KFENCE: its own suite and the use after kfree, x86_64 and arm64 (6.12-kfence)', () => {
  it('passes kfence_test case by case (as kunit.py reads it), and catches the use after kfree on a sampled object', async () => {
    const r = await run([shipped('kernel-test-kfence'), ...['clean', 'use-after-kfree'].map(module), '--kernel', '6.12-kfence']);
    expect(r.exitCode, r.output.slice(-3000)).toBe(0);
    for (const arch of ARCHES) {
      const mine = r.s.filter((x) => x.target.arch === arch);
      const whole = mine.find((x) => x.name === 'kfence_test')!;
      expect(whole.status, `${arch}: ${whole.reason}`).toBe('pass');
      expect(whole.reason).toMatch(/\d+ kernel report\(s\) the suite provokes on purpose and checks/);
      const cases = mine.filter((x) => x.kernelTest?.case && x.scenario === 'kernel-test-kfence');
      expect(cases, arch).toHaveLength(25);
      const src = await sourceOf(r.records, `${arch}/6.12-kfence`);
      expect(asKunit(caseStatus(cases)), arch).toEqual(await kunitParse(src, whole, r.out, 'kfence'));
      const uaf = mine.find((x) => x.scenario === 'module-use-after-kfree' && x.name === 'exercise')!;
      expect(
        uaf.splats.some((p) => p.kind === 'kfence' && p.title.includes('use-after-free read')),
        arch,
      ).toBe(true);
    }
    expect(await qemusUnder(r.out)).toEqual([]);
  });
});
