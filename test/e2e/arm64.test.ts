/**
 * The same scenarios, unchanged, on arm64 guests (TCG): Debian's prebuilt
 * 6.1 with 4 KiB pages (a download, no build). 16 KiB pages (Debian's
 * prebuilt 16k flavour): kernels.test.ts and matrix.test.ts; 64 KiB pages
 * (a kernel only a build gives): test/full/arm64-64k.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord } from '../../harness/run/results.ts';
import { cli, guestConstants, qemusUnder, results, shipped, steps, tempDir } from './helpers.ts';

describe("arm64 6.1, 4 KiB pages (Debian's prebuilt kernel)", () => {
  const out = tempDir();
  let r: Awaited<ReturnType<typeof cli>>;
  let records: ResultRecord[];

  beforeAll(async () => {
    r = await cli([
      'run',
      shipped('kmalloc-size-limits'),
      shipped('gfp-atomic-irq'),
      shipped('vmalloc-contiguity'),
      '--arch',
      'arm64',
      '--kernel',
      'debian:6.1.0-56-cloud',
      '--out',
      out,
    ]);
    records = results(out);
  });

  it('passes kmalloc-size-limits, gfp-atomic-irq and vmalloc-contiguity', () => {
    const bad = steps(records).filter((s) => s.status !== 'pass');
    // Debian's config has no DEBUG_ATOMIC_SLEEP: the one step that needs its report is skipped.
    expect(bad.map((s) => `${s.scenario} › ${s.name}: ${s.status} ${JSON.stringify(s.failures)} ${s.reason ?? ''}`)).toEqual([
      'gfp-atomic-irq › GFP_KERNEL in hard IRQ is reported: skip [] kernel config lacks CONFIG_DEBUG_ATOMIC_SLEEP',
    ]);
    expect(r.exitCode, r.all).toBe(0);
  });

  it('is a real arm64 guest with 4 KiB pages', () => {
    expect(guestConstants(records)).toMatchObject({ machine: 'aarch64', PAGE_SIZE: 4096, KMALLOC_MAX_SIZE: 4194304 });
  });

  it('proves hard IRQ context there too', () => {
    const s = steps(records).find((x) => x.name === 'GFP_ATOMIC in hard IRQ')!;
    expect(s.facts).toMatchObject({ ok: true, in_hardirq: true, irqs_disabled: true });
  });

  it('leaves no QEMU behind', async () => {
    expect(await qemusUnder(out)).toEqual([]);
  });
});
