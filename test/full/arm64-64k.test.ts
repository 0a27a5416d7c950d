/**
 * arm64 6.1 with 64 KiB pages, cross-built from source (catalog 6.1-64k):
 * every page-size-derived constant is different, KMALLOC_MAX_SIZE is 512 MiB,
 * and kmalloc-size-limits still passes because its sizes are written with
 * the guest's own constants. Debian ships no 64 KiB flavour, so this needs a
 * build of its own: the slow tier. (`npm test` shows the same mechanism on
 * Debian's prebuilt 16 KiB kernel: KMALLOC_MAX_SIZE 32 MiB.)
 */
import { describe, expect, it } from 'vitest';
import { cli, guestConstants, qemusUnder, results, shipped, steps, tempDir } from '../e2e/helpers.ts';

describe('arm64 6.1 with 64 KiB pages', () => {
  it('passes the same kmalloc-size-limits scenario with its own, larger KMALLOC_MAX_SIZE, and reports GFP_KERNEL in hard IRQ', async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      shipped('kmalloc-size-limits'),
      shipped('gfp-atomic-irq'),
      '--arch',
      'arm64',
      '--kernel',
      '6.1-64k',
      '--out',
      out,
    ]);
    const records = results(out);
    const c = guestConstants(records);
    expect(c).toMatchObject({ machine: 'aarch64', PAGE_SIZE: 65536 });
    expect(c.KMALLOC_MAX_SIZE as number).toBeGreaterThan(4194304);
    const max = steps(records).find((s) => s.name === 'KMALLOC_MAX_SIZE, the real limit')!;
    expect(max.facts).toMatchObject({ ok: true, phys_runs: 1, size: c.KMALLOC_MAX_SIZE });
    const k = steps(records).find((x) => x.name === 'GFP_KERNEL in hard IRQ is reported')!;
    expect(k.facts).toMatchObject({ in_hardirq: true });
    expect(k.splats.map((x) => x.kind)).toContain('sleep-in-atomic');
    expect(r.exitCode, r.all).toBe(0);
    expect(await qemusUnder(out)).toEqual([]);
  });
});
