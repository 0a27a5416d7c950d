/**
 * Every shipped scenario on real kernels, checking the facts behind each of
 * the article's claims, not just the pass count: x86_64 6.1 from Debian's
 * source (shared run A, all scenarios) and Debian's prebuilt arm64 6.12
 * (shared run B). arm64 6.12 built from source, with the kernel's own test
 * modules: test/full/arm64-612.test.ts.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '../../harness/paths.ts';
import type { StepRecord } from '../../harness/results/records.ts';
import { targetLabel } from '../../harness/results/view.ts';
import { CLOUD_612 } from './archive.ts';
import { cli, qemusUnder, results, steps, tempDir } from './helpers.ts';
import { type SharedRun, sharedRun, stepOf } from './shared.ts';

const shipped = readdirSync(SCENARIOS_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();

describe('all shipped scenarios on x86_64 6.1 (Debian source, Debian allocator options)', () => {
  let a: SharedRun;
  const step = (scenario: string, name: string) => stepOf(a.steps, scenario, name);
  beforeAll(async () => {
    a = await sharedRun('A');
  });

  it('runs every scenario and passes; skips only what this kernel cannot run, saying why', () => {
    expect([...new Set(a.steps.map((s) => s.scenario))].sort()).toEqual(shipped);
    expect(
      a.steps
        .filter((s) => s.status === 'fail' || s.status === 'error')
        .map((s) => `${s.scenario} › ${s.name}: ${JSON.stringify(s.failures)} ${s.reason ?? ''}`),
    ).toEqual([]);
    // The exact set: a kernel that lost an option (test modules, ZONE_DMA, ...) turns steps into skips with exit 0.
    const skipped = a.steps.filter((s) => s.status === 'skip');
    expect(skipped.length).toBeGreaterThan(0);
    expect([...new Set(skipped.map((s) => `${s.scenario}: ${s.reason?.replace(/target is 6\.1\.\S+/, 'target is 6.1')}`))].sort()).toEqual([
      // No fault injection in this kernel (kernels/config/fault-injection.config).
      'gfp-atomic-injected: kernel config lacks CONFIG_FAULT_INJECTION, CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC',
      'gfp-atomic-rt: kernel config lacks CONFIG_PREEMPT_RT',
      // The detector suites run on the catalog's -kasan and -kfence variants.
      "kernel-test-kasan: kernel config lacks CONFIG_KASAN_KUNIT_TEST (the kernel's test module kasan_test)",
      "kernel-test-kfence: kernel config lacks CONFIG_KFENCE_KUNIT_TEST (the kernel's test module kfence_test)",
      // Steps of what 7.2 does instead (measured on its source build), and of 5.10's memchr_inv.
      'kvmalloc-fallback: needs kernel >= 7.2, target is 6.1',
      'memchr-inv-large: needs kernel <= 5.10, target is 6.1',
      'vmalloc-atomic-from-72: needs kernel >= 7.2, target is 6.1',
      'vmalloc-contiguity: needs kernel >= 7.2, target is 6.1',
    ]);
    const skips = ['gfp-atomic-rt', 'vmalloc-atomic-from-72', 'gfp-atomic-injected', 'kernel-test-kasan', 'kernel-test-kfence'];
    const otherVersions = [
      'kvmalloc-fallback › from 7.2 GFP_ATOMIC falls back to vmalloc too',
      'memchr-inv-large › 5.10 still stops a scan of 32 GiB + 16 bytes early',
      'vmalloc-contiguity › from 7.2 vmalloc takes large free blocks first',
    ];
    expect(
      skipped
        .filter((s) => !skips.includes(s.scenario))
        .map((s) => `${s.scenario} › ${s.name}`)
        .sort(),
    ).toEqual(otherVersions);
    expect(skipped.length).toBe(a.steps.filter((s) => skips.includes(s.scenario)).length + otherVersions.length);
    expect(a.exitCode, a.output).toBe(0);
    expect(a.records.find((r) => r.type === 'guest' && r.constants.release)).toMatchObject({
      constants: { release: expect.stringMatching(/^6\.1\./) },
    });
  });

  it("runs Debian's allocator, not tinyconfig's: the kernel's profile is on record", () => {
    const p = a.records.find((r) => r.type === 'kernel-profile');
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
      SLUB_TINY: '-',
      KFENCE: 'n',
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
    // The shared VM, one for each of the two crash-expecting scenarios (vmalloc-in-irq, vmalloc-atomic-in-irq), and
    // one for init_on_alloc=0 of the kernel's own tests (init_on_alloc=1 is this kernel's default, Debian's
    // INIT_ON_ALLOC_DEFAULT_ON: that scenario runs on the shared VM).
    expect(a.records.filter((r) => r.type === 'guest').length).toBe(4);
    expect(a.steps.filter((s) => s.scenario === 'vmalloc-atomic-in-irq').map((s) => s.status)).toContain('expected-crash');
  });

  it('reports zeroing, zones and module placement as facts', () => {
    expect(step('kzalloc-zeroing', 'kzalloc 512 bytes is zeroed').facts.zeroed).toBe(true);
    expect(step('gfp-dma-zone', 'kmalloc with GFP_DMA lands in ZONE_DMA').facts.zone).toBe('DMA');
    const zones = step('gfp-dma-zone', 'the zones this kernel has').facts;
    // x86's ZONE_DMA is the ISA 16 MiB.
    expect(zones).toMatchObject({ DMA_start: expect.any(Number), DMA_end: 16 << 20, highmem: false });
    expect(step('modules-and-leaks', "where this module's code lives").facts).toMatchObject({ linear_map: false, page_mapped: true });
  });

  it('judges kmalloc cheaper where it clearly is, and records the near tie under init_on_alloc without judging it', () => {
    const cost = a.steps.filter((s) => s.scenario === 'alloc-cost');
    expect(cost.map((s) => s.name)).toEqual([
      'kmalloc vs vmalloc [64 B]',
      'kmalloc vs vmalloc [4 KiB]',
      'kmalloc vs vmalloc [64 KiB]',
      'kmalloc vs vmalloc [1 MiB]',
    ]);
    for (const s of cost.slice(0, 2)) expect(s.facts.alloc_ns_median as number).toBeLessThan(s.facts.vs_alloc_ns_median as number);
    for (const s of cost) expect(s.facts).toMatchObject({ failures: 0, vs_failures: 0, alloc_ns_median: expect.any(Number) });
  });

  it('writes the JSON and Markdown reports with the counts and claims of the results', () => {
    const json = JSON.parse(readFileSync(join(a.out, 'report.json'), 'utf8')) as {
      outcome: string;
      counts: Record<string, number>;
    };
    const count = (status: string) => a.steps.filter((s) => s.status === status).length;
    expect(json.outcome).toBe('passed');
    expect(json.counts).toMatchObject({ pass: count('pass'), skip: count('skip'), fail: 0, error: 0 });
    expect(json.counts.pass).toBeGreaterThan(0);
    const md = readFileSync(join(a.out, 'summary.md'), 'utf8');
    expect(md).toMatch(/^# kharness: passed\n/);
    expect(md).toContain(`${count('pass')} passed,`);
    expect(md).toMatch(/\| kmalloc-128k-limit \| fails — KMALLOC_MAX_SIZE = 4 MiB/);
  });

  it('leaves no QEMU behind', async () => {
    expect(await qemusUnder(a.out)).toEqual([]);
  });
});

describe("the same scenarios on Debian's prebuilt arm64 6.12 (shared run B)", () => {
  let b: SharedRun;
  let arm: StepRecord[];
  const step = (scenario: string, name: string) => stepOf(arm, scenario, name);
  beforeAll(async () => {
    b = await sharedRun('B');
    arm = b.steps.filter((s) => s.target.arch === 'arm64' && s.target.kernel === CLOUD_612);
  });

  it('proves hard IRQ and softirq context on arm64, and skips only the report Debian cannot give', () => {
    expect(arm.length).toBeGreaterThan(0);
    expect(step('gfp-atomic-irq', 'GFP_ATOMIC in hard IRQ').facts).toMatchObject({ ok: true, in_hardirq: true, irqs_disabled: true });
    expect(step('gfp-atomic-irq', 'GFP_ATOMIC in softirq').facts).toMatchObject({ ok: true, in_serving_softirq: true });
    expect(step('gfp-atomic-irq', 'GFP_KERNEL in hard IRQ is reported')).toMatchObject({
      status: 'skip',
      reason: 'kernel config lacks CONFIG_DEBUG_ATOMIC_SLEEP',
    });
  });

  it('shows vmalloc scattered, the expected crash on a real PL011 console, zones within 4 GiB and module placement', () => {
    const v = step('vmalloc-contiguity', 'vmalloc 16 MiB on fragmented memory');
    expect(v.facts).toMatchObject({ ok: true, virt_contiguous: true, pages: 4096 });
    expect(v.facts.phys_runs as number).toBeGreaterThanOrEqual(16);
    const crash = step('vmalloc-in-irq', 'vmalloc in hard IRQ kills the kernel');
    expect(crash.status).toBe('expected-crash');
    expect(crash.splats.map((s) => s.kind)).toContain('panic');
    const zones = step('gfp-dma-zone', 'the zones this kernel has').facts;
    // arm64's ZONE_DMA is what its devices address, within the first 4 GiB of RAM.
    expect(zones).toMatchObject({ DMA_start: expect.any(Number), highmem: false });
    expect(zones.DMA_end as number).toBeLessThanOrEqual(2 ** 32 + (zones.DMA_start as number));
    expect(step('modules-and-leaks', "where this module's code lives").facts).toMatchObject({ linear_map: false, page_mapped: true });
  });

  it('lists its targets in plan order in JUnit and the terminal summary, whichever finished first (no boot of its own)', () => {
    const begin = b.records.find((r) => r.type === 'run-begin');
    const plan = begin?.type === 'run-begin' ? (begin.targets ?? []).map(targetLabel) : [];
    const ended = b.records.flatMap((r) => (r.type === 'target-end' ? [targetLabel(r.target)] : []));
    expect(plan.length).toBeGreaterThan(1);
    expect([...ended].sort()).toEqual([...plan].sort());
    const junit = readFileSync(join(b.out, 'junit.xml'), 'utf8');
    expect([...junit.matchAll(/<testsuite name="([^"]+)"/g)].map((m) => m[1])).toEqual(plan);
    const summary = b.stdout.split("The article's claims, per target\n")[1]!;
    const at = plan.map((t) => summary.indexOf(`  ${t} `));
    expect(at.every((x) => x >= 0)).toBe(true);
    expect([...at].sort((x, y) => x - y)).toEqual(at);
  });
});

describe('after a crash the run goes on', () => {
  it('fails an unexpected crash with the console excerpt, and passes the next scenario on a fresh VM', async () => {
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
    const recs = results(join(dir, 'out'));
    const s = steps(recs);
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
    // The scenario after the crash ran on a guest of its own.
    expect(recs.filter((x) => x.type === 'guest').length).toBe(2);
    expect(s[2]!.boot).not.toBe(s[0]!.boot);
    expect(await qemusUnder(dir)).toEqual([]);
  });
});
