/**
 * Debian's prebuilt kernels, on real booted guests with no kernel build
 * (shared run B): the newest 6.12 cloud kernel on x86_64 and arm64 (4 KiB
 * pages) and the arm64 16k flavour, two targets at a time; what their
 * configs allow and what they cannot run, each said; and the CI data path
 * (shards merged into one run, JUnit against the consumer's schema) on two
 * real runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';
import { ARM64_16K, CLOUD_612 } from './archive.ts';
import { cli, guestConstants, qemusUnder, results, steps, tempDir } from './helpers.ts';
import { B_SCENARIOS, overlap, runningSpan, type SharedRun, sharedRun, stepOf } from './shared.ts';

const TARGETS = [
  ['x86_64', CLOUD_612],
  ['arm64', CLOUD_612],
  ['arm64', ARM64_16K],
] as const;

describe("Debian's prebuilt 6.12 kernels (shared run B)", () => {
  let b: SharedRun;
  beforeAll(async () => {
    b = await sharedRun('B');
  });

  it('runs every planned target to the end, each on the Debian release its name resolved to', () => {
    const ends = b.records.flatMap((x) => (x.type === 'target-end' ? [`${x.target.arch}/${x.target.kernel} ${x.status}`] : []));
    expect(ends.sort()).toEqual(TARGETS.map(([a, k]) => `${a}/${k} ok`).sort());
    for (const [arch, kernel] of TARGETS) {
      const mine = b.steps.filter((s) => s.target.arch === arch && s.target.kernel === kernel);
      expect([...new Set(mine.map((s) => s.scenario))].sort(), `${arch}/${kernel}`).toEqual([...B_SCENARIOS].sort());
      expect(mine[0]!.target.release, `${arch}/${kernel}`).toMatch(
        new RegExp(`^6\\.12\\.\\d+\\+deb\\d+-${arch === 'x86_64' ? 'cloud-amd64' : kernel === ARM64_16K ? 'arm64-16k' : 'cloud-arm64'}$`),
      );
    }
    expect(b.exitCode, b.output).toBe(0);
  });

  it('skips exactly what a Debian config cannot run, naming the option', () => {
    const skipped = b.steps
      .filter((s) => s.status === 'skip')
      .map(
        (s) =>
          `${s.target.arch}/${s.target.kernel} ${s.scenario} › ${s.name}: ${s.reason?.replace(/target is 6\.12\.\S+/, 'target is 6.12')}`,
      );
    const expected = TARGETS.flatMap(([arch, kernel]) => [
      `${arch}/${kernel} vmalloc-contiguity › from 7.2 vmalloc takes large free blocks first: needs kernel >= 7.2, target is 6.12`,
      `${arch}/${kernel} gfp-atomic-irq › GFP_KERNEL in hard IRQ is reported: kernel config lacks CONFIG_DEBUG_ATOMIC_SLEEP`,
      `${arch}/${kernel} kernel-test-slub › slub_kunit: kernel config lacks CONFIG_SLUB_KUNIT_TEST (the kernel's test module slub_kunit)`,
    ]);
    expect(skipped.sort()).toEqual(expected.sort());
    expect(b.steps.filter((s) => s.status === 'fail' || s.status === 'error')).toEqual([]);
  });

  it('measures KMALLOC_MAX_SIZE per page size: 4 MiB with 4 KiB pages, 32 MiB with 16 KiB', () => {
    expect(guestConstants(b.records, ARM64_16K)).toMatchObject({ machine: 'aarch64', PAGE_SIZE: 16384, KMALLOC_MAX_SIZE: 32 << 20 });
    const arm4k = b.records.find((r) => r.type === 'guest' && r.target.arch === 'arm64' && r.target.kernel === CLOUD_612);
    expect(arm4k?.type === 'guest' && arm4k.constants).toMatchObject({ machine: 'aarch64', PAGE_SIZE: 4096, KMALLOC_MAX_SIZE: 4 << 20 });
    for (const [arch, kernel] of TARGETS)
      expect(stepOf(b.steps, 'kmalloc-size-limits', 'KMALLOC_MAX_SIZE, the real limit', kernel, arch).facts).toMatchObject({
        ok: true,
        phys_runs: 1,
      });
  });

  it('proves hard IRQ context on every target, with no DEBUG_ATOMIC_SLEEP to report GFP_KERNEL there', () => {
    const hard = b.steps.filter((s) => s.name === 'GFP_ATOMIC in hard IRQ');
    expect(hard.map((s) => s.status)).toEqual(['pass', 'pass', 'pass']);
    for (const s of hard) expect(s.facts).toMatchObject({ ok: true, in_hardirq: true, irqs_disabled: true });
  });

  it("records Debian's allocator options, and Debian zeroes every allocation (init_on_alloc)", () => {
    const profile = b.records.find((x) => x.type === 'kernel-profile' && x.target.arch === 'x86_64');
    expect(profile?.type === 'kernel-profile' && profile.options).toMatchObject({
      SLUB_TINY: 'n',
      INIT_ON_ALLOC_DEFAULT_ON: 'y',
      KFENCE: 'y',
    });
    expect(guestConstants(b.records, CLOUD_612)).toMatchObject({ INIT_ON_ALLOC: true });
    for (const [arch, kernel] of TARGETS)
      expect(stepOf(b.steps, 'kzalloc-zeroing', 'plain kmalloc 512 bytes after it', kernel, arch).facts).toMatchObject({
        ok: true,
        zeroed: true,
      });
  });

  it('ran two targets at once: two guests up and working at the same time, not just admitted together', () => {
    const spans = TARGETS.map(([a, k]) => runningSpan(b.records, a, k));
    const pairs = [
      [0, 1],
      [0, 2],
      [1, 2],
    ].filter(([i, j]) => overlap(spans[i]!, spans[j]!));
    expect(pairs.length).toBeGreaterThan(0);
    // Targets run side by side, so either may finish first: the header lists all three, whatever the order.
    const header = /What differs between targets\n(.*)/.exec(b.stdout)?.[1] ?? '';
    expect(
      header
        .split(/\s+/)
        .filter((c) => /^(x86_64|arm64)\//.test(c))
        .sort(),
    ).toEqual(TARGETS.map(([a, k]) => `${a}/${k}`).sort());
  });

  it('leaves no QEMU behind', async () => {
    expect(await qemusUnder(b.out)).toEqual([]);
  });
});

describe('shards merged into one run', () => {
  it('merges two real runs, knows every planned target, and writes JUnit the consumer schema accepts', async () => {
    const [a, b] = [await sharedRun('A'), await sharedRun('B')];
    const out = join(tempDir(), 'merged');
    const planned = ['x86_64/6.1', ...TARGETS.map(([x, k]) => `${x}/${k}`)];
    const r = await cli(['report', 'merge', out, a.out, b.out, '--reporter', 'default,junit', '--expect', planned.join(',')]);
    expect(r.exitCode, r.all).toBe(0);
    const merged = results(out);
    expect(steps(merged).length).toBe(a.steps.length + b.steps.length);
    const xsd = join(PROJECT_ROOT, 'test', 'schema', 'junit-10.xsd');
    const lint = await execa('xmllint', ['--noout', '--schema', xsd, join(out, 'junit.xml')], { reject: false });
    expect(lint.exitCode, lint.stderr).toBe(0);
    expect(readFileSync(join(out, 'junit.xml'), 'utf8')).toContain('classname="arm64.debian:6_12-16k.kmalloc-size-limits"');
    // A planned target no shard has makes the merged run incomplete.
    const missing = await cli(['report', 'merge', join(tempDir(), 'm2'), b.out, '--expect', planned.join(',')]);
    expect(missing.exitCode).toBe(2);
    expect(missing.all).toContain('x86_64/6.1');
  });
});
