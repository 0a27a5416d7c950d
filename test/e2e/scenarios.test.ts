/**
 * Every shipped scenario on real kernels, x86_64 6.1 and arm64 6.12 (both
 * arches and both versions, on two builds), checking the facts behind each
 * of the article's claims, not just the pass count.
 */
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '../../harness/paths.ts';
import type { ResultRecord, StepRecord } from '../../harness/run/results.ts';
import { cli, qemusUnder, results, steps, tempDir } from './helpers.ts';

const shipped = readdirSync(SCENARIOS_DIR).filter((f) => f.endsWith('.yaml')).length;

describe.each([
  ['x86_64', '6.1'],
  ['arm64', '6.12'],
])('all shipped scenarios on %s %s', (arch, kernel) => {
  const out = tempDir();
  let exitCode: number | undefined;
  let output = '';
  let records: ResultRecord[] = [];
  let all: StepRecord[] = [];
  const step = (scenario: string, name: string) => {
    const s = all.find((r) => r.scenario === scenario && r.name === name);
    if (!s) throw new Error(`no step ${scenario} › ${name}`);
    return s;
  };

  beforeAll(async () => {
    const r = await cli(['run', '--arch', arch, '--kernel', kernel, '--out', out]);
    exitCode = r.exitCode;
    output = r.all ?? '';
    records = results(out);
    all = steps(records);
  });

  it('runs every scenario and passes', () => {
    expect(new Set(all.map((s) => s.scenario)).size).toBe(shipped);
    expect(
      all
        .filter((s) => s.status === 'fail' || s.status === 'error')
        .map((s) => `${s.scenario} › ${s.name}: ${JSON.stringify(s.failures)} ${s.reason ?? ''}`),
    ).toEqual([]);
    expect(exitCode, output).toBe(0);
    expect(records.find((r) => r.type === 'guest' && r.constants.release)).toMatchObject({
      constants: { release: expect.stringMatching(new RegExp(`^${kernel.replace('.', '\\.')}\\.`)) },
    });
  });

  it("runs Debian's allocator, not tinyconfig's: the kernel's profile is on record", () => {
    const p = records.find((r) => r.type === 'kernel-profile');
    expect(p?.type === 'kernel-profile' && p.options).toMatchObject({
      SLUB: 'y',
      SLUB_DEBUG: 'y',
      SLAB_FREELIST_RANDOM: 'y',
      SHUFFLE_PAGE_ALLOCATOR: 'y',
      INIT_ON_ALLOC_DEFAULT_ON: 'y',
      MEMCG: 'y',
      TRANSPARENT_HUGEPAGE: 'y',
      PREEMPT_VOLUNTARY: 'y',
      DEBUG_ATOMIC_SLEEP: 'y',
      // 6.12's tinyconfig picks SLUB_TINY; 6.1 has no such option.
      SLUB_TINY: kernel === '6.12' ? 'n' : '-',
      KFENCE: kernel === '6.12' ? 'y' : 'n',
    });
  });

  it('proves where each context ran, and GFP_KERNEL in hard IRQ is reported', () => {
    expect(step('gfp-atomic-irq', 'GFP_ATOMIC in hard IRQ').facts).toMatchObject({ ok: true, in_hardirq: true, irqs_disabled: true });
    expect(step('gfp-atomic-irq', 'GFP_ATOMIC in softirq').facts).toMatchObject({ ok: true, in_serving_softirq: true, in_hardirq: false });
    const k = step('gfp-atomic-irq', 'GFP_KERNEL in hard IRQ is reported');
    expect(k.splats.map((s) => s.kind)).toContain('sleep-in-atomic');
    expect(step('gfp-atomic-irq', 'GFP_ATOMIC in hard IRQ').splats).toEqual([]);
  });

  it('shows vmalloc memory physically scattered after fragmenting, and virtually contiguous', () => {
    const v = step('vmalloc-contiguity', 'vmalloc 16 MiB on fragmented memory');
    expect(v.facts).toMatchObject({ ok: true, virt_contiguous: true, pages: 4096 });
    expect(v.facts.phys_runs as number).toBeGreaterThanOrEqual(16);
    expect(v.meminfoDelta!.VmallocUsed).toBeGreaterThanOrEqual(16 << 20);
  });

  it('confirms the expected vmalloc-in-IRQ crash from the console, on a VM of its own', () => {
    const crash = step('vmalloc-in-irq', 'vmalloc in hard IRQ kills the kernel');
    expect(crash.status).toBe('expected-crash');
    expect(crash.splats.find((s) => s.kind === 'bug')?.at).toMatch(/^mm\/vmalloc\.c:\d+$/);
    expect(crash.splats.map((s) => s.kind)).toContain('panic');
    // The shared VM, the crash's own, and one for init_on_alloc=0 of the kernel's own tests (init_on_alloc=1 is this
    // kernel's default, Debian's INIT_ON_ALLOC_DEFAULT_ON: that scenario runs on the shared VM).
    expect(records.filter((r) => r.type === 'guest').length).toBe(3);
  });

  it('reports zeroing, zones and module placement as facts', () => {
    expect(step('kzalloc-zeroing', 'kzalloc 512 bytes is zeroed').facts.zeroed).toBe(true);
    expect(step('gfp-dma-zone', 'kmalloc with GFP_DMA lands in ZONE_DMA').facts.zone).toBe('DMA');
    const zones = step('gfp-dma-zone', 'the zones this kernel has').facts;
    expect(zones).toMatchObject({ DMA_start: expect.any(Number), highmem: false });
    // x86's ZONE_DMA is the ISA 16 MiB; arm64's is what its devices address, within the first 4 GiB of RAM.
    if (arch === 'x86_64') expect(zones.DMA_end).toBe(16 << 20);
    else expect(zones.DMA_end as number).toBeLessThanOrEqual(2 ** 32 + (zones.DMA_start as number));
    expect(step('modules-and-leaks', "where this module's code lives").facts).toMatchObject({ linear_map: false, page_mapped: true });
  });

  it('leaves no QEMU behind', async () => {
    expect(await qemusUnder(out)).toEqual([]);
  });
});

describe('after a crash the run goes on', () => {
  it('fails an unexpected crash with the console excerpt, and passes the next scenario on a fresh VM', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = tempDir();
    const sc = join(dir, 'scenarios');
    mkdirSync(sc);
    writeFileSync(
      join(sc, 'a-surprise.yaml'),
      `name: a-surprise
steps:
  - name: vmalloc in hard IRQ, wrongly believed safe
    alloc: { api: vmalloc, size: 4KiB, ctx: hardirq }
    expect: { ok: true }
  - name: never runs
    alloc: { api: kmalloc, size: 8 }
`,
    );
    writeFileSync(join(sc, 'b-after.yaml'), `name: b-after\nsteps:\n  - alloc: { api: kmalloc, size: 8 }\n    expect: { ok: true }\n`);
    const r = await cli(['run', sc, '--arch', 'x86_64', '--kernel', '6.1', '--out', join(dir, 'out')]);
    expect(r.exitCode, r.all).toBe(1);
    const s = steps(results(join(dir, 'out')));
    expect(s.map((x) => [x.scenario, x.status])).toEqual([
      ['a-surprise', 'fail'],
      ['a-surprise', 'skip'],
      ['b-after', 'pass'],
    ]);
    expect(s[0]!.failures[0]).toMatchObject({
      what: 'crash',
      expected: 'the guest survives',
      observed: expect.stringMatching(/^kernel BUG at mm\/vmalloc\.c/),
    });
    expect(s[0]!.dmesg.some((l) => l.includes('Kernel panic'))).toBe(true);
    expect(s[1]!.reason).toMatch(/the guest died/);
    expect(await qemusUnder(dir)).toEqual([]);
  });
});
