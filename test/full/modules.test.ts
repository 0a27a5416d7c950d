/**
 * The user-module checks on real kernels, as run by hand on 2026-12-07
 * (x86_64 6.1-debug: 60.5 s for the two leak scenarios warm; arm64 Debian
 * 6.12 cloud: 59.3 s for four scenarios, module builds included, on a host
 * at load ~25): each detector catches its example module, the clean one
 * passes with no leak and no report. In the full tier: 6.1-debug is a kernel
 * build of its own (50 min on that loaded host).
 */
import { describe, expect, it } from 'vitest';
import { cli, results, steps, tempDir } from '../e2e/helpers.ts';

const scenario = (name: string) => `scenarios/modules/${name}.yaml`;

describe('user modules on a kernel with kmemleak (x86_64 6.1-debug)', () => {
  it('finds the leak after the unload with its frame named, the clean module leaks nothing, the bugs are reported in their phase', async () => {
    const out = tempDir();
    const r = await cli(
      [
        'run',
        ...['clean', 'leak-kmemleak', 'leak-on-unload', 'gfp-kernel-under-spinlock', 'write-past-kmalloc'].map(scenario),
        '--arch',
        'x86_64',
        '--kernel',
        '6.1-debug',
        '--out',
        out,
      ],
      { timeoutMs: 120 * 60_000 },
    );
    expect(r.exitCode, r.all).toBe(0);
    const s = steps(results(out));
    const unload = s.find((x) => x.scenario === 'module-leak-kmemleak' && x.name === 'unload')!;
    expect(unload.facts?.leaks).toBeGreaterThanOrEqual(4);
    expect(unload.splats?.some((p) => p.kind === 'kmemleak' && p.lines.some((l) => l.includes('kh_leak_alloc')))).toBe(true);
    expect(s.filter((x) => x.scenario === 'module-clean').map((x) => x.facts?.leaks)).toEqual([0, 0, 0, 0, 0, 0]);
    const atomic = s.find((x) => x.scenario === 'module-gfp-kernel-under-spinlock' && x.name === 'exercise')!;
    expect(atomic.splats?.map((p) => p.kind)).toContain('sleep-in-atomic');
    const load = s.find((x) => x.scenario === 'module-gfp-kernel-under-spinlock' && x.name === 'load')!;
    expect(load.splats ?? []).toEqual([]);
  });
});

describe("user modules on Debian's 6.12 cloud kernel (arm64, no build)", () => {
  it('KFENCE catches the use after kfree, SLUB debug the write past kmalloc, and a cycle shows the vmalloc leak', async () => {
    const out = tempDir();
    const r = await cli(
      [
        'run',
        ...['clean', 'use-after-kfree', 'write-past-kmalloc', 'leak-on-unload'].map(scenario),
        '--arch',
        'arm64',
        '--kernel',
        'debian:6.12-cloud',
        '--out',
        out,
      ],
      { timeoutMs: 30 * 60_000 },
    );
    expect(r.exitCode, r.all).toBe(0);
    const s = steps(results(out));
    const uaf = s.find((x) => x.scenario === 'module-use-after-kfree' && x.name === 'exercise')!;
    expect(uaf.splats?.some((p) => p.kind === 'kfence' && p.title.includes('use-after-free read'))).toBe(true);
    const unload = s.find((x) => x.scenario === 'module-leak-on-unload' && x.name === 'unload')!;
    expect(unload.facts?.vmalloc_used_delta).toBeGreaterThanOrEqual(1 << 20);
  });

  it('check-module: a clean module exits 0, a directory that is not a module exits 2 before anything boots', async () => {
    const clean = await cli(
      ['check-module', 'modules/examples/clean', '--arch', 'arm64', '--kernel', 'debian:6.12-cloud', '--out', tempDir()],
      {
        timeoutMs: 30 * 60_000,
      },
    );
    expect(clean.exitCode, clean.all).toBe(0);
    const bad = await cli(['check-module', 'test/fixtures', '--arch', 'arm64', '--kernel', 'debian:6.12-cloud']);
    expect(bad.exitCode).toBe(2);
    expect(bad.all).toMatch(/is not a kernel module: it has no Kbuild or Makefile/);
    expect(bad.all).not.toMatch(/booting/);
  });
});
