/**
 * Kernel series beyond 6.1 and 6.12, on Debian's prebuilt kernels (downloads;
 * the probe builds in a toolchain root of the kernel's own compiler): the
 * newest 7.2 cloud kernel runs the version-dependent scenarios (vmalloc and
 * kvmalloc with GFP_ATOMIC, vmalloc's large pages) on x86_64 and
 * arm64, two guests at once, and the newest 5.10 cloud kernel boots and
 * answers the probe. Cost on this 2-core machine, warm: about 60 s (two 7.2
 * guests, then one 5.10 guest); the downloads and toolchain roots are made
 * by the e2e setup.
 */
import { describe, expect, it } from 'vitest';
import { CLOUD_72, CLOUD_510 } from './archive.ts';
import { cli, results, steps, tempDir } from './helpers.ts';

const VERSIONED = ['vmalloc-atomic-from-72', 'vmalloc-atomic-until-612', 'kvmalloc-fallback', 'vmalloc-contiguity'];

describe('Debian 7.2 and 5.10 prebuilt kernels', () => {
  it('7.2, x86_64 and arm64: __vmalloc(GFP_ATOMIC) under raw_spin_lock and kmalloc_nolock in hard IRQ succeed; 6.12-only steps skip', async () => {
    const out = tempDir();
    const r = await cli(
      ['run', ...VERSIONED.map((s) => `scenarios/${s}.yaml`), '--kernel', CLOUD_72, '--arch', 'x86_64,arm64', '--jobs', '2', '--out', out],
      { timeoutMs: 10 * 60_000 },
    );
    const all = steps(results(out));
    for (const arch of ['x86_64', 'arm64']) {
      const mine = all.filter((s) => s.target.arch === arch);
      expect(mine[0]?.target.release, arch).toMatch(/^7\.2\.\d+\+deb\d+-cloud-(amd64|arm64)$/);
      expect(
        mine.filter((s) => s.scenario === 'vmalloc-atomic-from-72').map((s) => `${s.name}: ${s.status}`),
        arch,
      ).toEqual([
        '__vmalloc GFP_ATOMIC under raw_spin_lock: pass',
        '__vmalloc GFP_NOWAIT under spin_lock: pass',
        'kmalloc_nolock in hard IRQ: pass',
      ]);
      const nolock = mine.find((s) => s.name === 'kmalloc_nolock in hard IRQ')!;
      expect(nolock.facts).toMatchObject({ ok: true, in_hardirq: true, zeroed: true });
      const old = mine.filter((s) => s.scenario === 'vmalloc-atomic-until-612');
      expect(old.map((s) => `${s.status}: ${s.reason}`)).toEqual([expect.stringMatching(/^skip: needs kernel <= 6\.12, target is 7\.2\./)]);
      // kvmalloc falls back to vmalloc with GFP_ATOMIC too, and vmalloc takes large free blocks first (7.2.13, measured).
      const step = (scenario: string, name: string) => mine.find((s) => s.scenario === scenario && s.name === name)!;
      expect(step('kvmalloc-fallback', 'from 7.2 GFP_ATOMIC falls back to vmalloc too')).toMatchObject({
        status: 'pass',
        facts: { ok: true, vmalloc_addr: true },
      });
      expect(step('kvmalloc-fallback', 'with GFP_ATOMIC there is no vmalloc fallback').status).toBe('skip');
      expect(step('vmalloc-contiguity', 'from 7.2 vmalloc takes large free blocks first').status).toBe('pass');
      expect(mine.filter((s) => s.status === 'fail' || s.status === 'error')).toEqual([]);
    }
    expect(r.exitCode, r.all).toBe(0);
  });

  it('5.10 on x86_64 boots and answers the probe (built with gcc-10 in a toolchain root)', async () => {
    const out = tempDir();
    const r = await cli(['run', 'scenarios/kzalloc-zeroing.yaml', '--kernel', CLOUD_510, '--arch', 'x86_64', '--out', out], {
      timeoutMs: 10 * 60_000,
    });
    const all = steps(results(out));
    expect(all.length).toBeGreaterThan(0);
    expect(all[0]!.target.release).toMatch(/^5\.10\.0-\d+-cloud-amd64$/);
    expect(all.filter((s) => s.status === 'fail' || s.status === 'error').map((s) => `${s.name}: ${s.reason ?? ''}`)).toEqual([]);
    expect(r.exitCode, r.all).toBe(0);
  });
});
