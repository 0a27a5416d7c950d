/**
 * The matrix for real: two targets at once (--jobs 2) with both result sets
 * complete; a git kernel built, then rebuilt after a one-line change in its
 * build directory (incremental, not a full rebuild).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { allocatorProfile, parseConfig } from '../../harness/analysis/kconfig.ts';
import { readMeta } from '../../harness/cache/store.ts';
import { profileOptions } from '../../harness/kernel/distro.ts';
import { cacheRoot, SCENARIOS_DIR } from '../../harness/paths.ts';
import { cli, ensureFixtureRepo, kernelBuildDir, qemusUnder, results, steps, tempDir } from './helpers.ts';

describe('matrix', () => {
  it('runs two targets concurrently and keeps both result sets', async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      join(SCENARIOS_DIR, 'kmalloc-size-limits.yaml'),
      // Two kernels the rest of the suite has anyway: 16 KiB pages (Debian's prebuilt, a download) and 4 KiB pages (built).
      '--arch',
      'arm64',
      '--kernel',
      'debian:6.12.117-16k,6.12',
      '--jobs',
      '2',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const recs = results(out);
    const order = recs
      .filter((x) => x.type === 'target-begin' || x.type === 'target-end')
      .map((x) => `${x.type} ${'target' in x ? x.target.kernel : ''}`);
    // Both targets began before either ended: they ran side by side.
    expect(order.slice(0, 2).sort()).toEqual(['target-begin 6.12', 'target-begin debian:6.12.117-16k']);
    for (const [k, version] of [
      ['debian:6.12.117-16k', '6\\.12\\.117\\+deb12-arm64-16k'],
      ['6.12', '6\\.12\\.'],
    ]) {
      const s = steps(recs).filter((x) => x.target.kernel === k);
      expect(s.length).toBeGreaterThan(20);
      expect(s.every((x) => x.status === 'pass')).toBe(true);
      expect(s[0]!.target.release).toMatch(new RegExp(`^${version}`));
    }
    // Targets run side by side, so either may start first and head the first column.
    const header = /What differs between targets\n(.*)/.exec(r.stdout)?.[1] ?? '';
    expect(
      header
        .split(/\s+/)
        .filter((c) => c.startsWith('arm64/'))
        .sort(),
    ).toEqual(['arm64/6.12', 'arm64/debian:6.12.117-16k']);
    expect(await qemusUnder(out)).toEqual([]);
  });

  it('builds a git kernel and rebuilds it incrementally after a one-line change', async () => {
    const repo = await ensureFixtureRepo();
    const base = await cli(['build', '--arch', 'x86_64', '--kernel', `git:${repo}@fixture-good`]);
    expect(base.exitCode, base.all).toBe(0);
    // The build directory sits directly inside the clone, so Kbuild names the tree `..` in every
    // command line: no absolute path of the tree, so ccache can serve what matches another tree's build.
    const meta = await readMeta<{ srcDir: string; buildDir: string }>(join(base.stdout.trim().split('\n')[0]!, '..'), cacheRoot());
    const cmd = readFileSync(join(meta!.buildDir, 'mm', '.slab_common.o.cmd'), 'utf8');
    expect(cmd).toMatch(/ -I\.\.\/include /);
    expect(cmd).not.toContain(meta!.srcDir);
    // Debian's allocator options of 6.1, as the catalog's 6.1 takes them (kernels/distro-mm.yaml):
    // the fixture's git kernel has the catalog kernel's allocator profile, PREEMPT_VOLUNTARY and memcg included.
    const catalog61 = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(catalog61.exitCode, catalog61.all).toBe(0);
    const profile = (dir: string) => allocatorProfile(parseConfig(readFileSync(join(dir, '.config'), 'utf8')), profileOptions());
    const gitProfile = profile(meta!.buildDir);
    expect(gitProfile).toMatchObject({ PREEMPT_VOLUNTARY: 'y', MEMCG: 'y', SLUB: 'y' });
    expect(gitProfile).toEqual(profile(kernelBuildDir(catalog61.stdout.trim().split('\n')[0]!)));
    // fixture-good~-1: "fixture change 1", one comment line in mm/slab_common.c.
    const next = (await execa('git', ['-C', repo, 'rev-list', '--reverse', 'fixture-good..fixture-bad'])).stdout.split('\n')[0]!;
    const t0 = Date.now();
    const inc = await cli(['build', '--arch', 'x86_64', '--kernel', `git:${repo}@${next}`]);
    const ms = Date.now() - t0;
    expect(inc.exitCode, inc.all).toBe(0);
    const entry = join(inc.stdout.trim().split('\n')[0]!, '..');
    const log = readFileSync(join(entry, 'build.log'), 'utf8');
    const compiled = log
      .split('\n')
      .filter((l) => /^\s+CC\s/.test(l))
      .map((l) => l.trim());
    // The full build compiles ~760 objects; this one only what the change touched.
    expect(compiled.length, compiled.join('\n')).toBeLessThan(20);
    expect(compiled.some((l) => l.endsWith('mm/slab_common.o'))).toBe(true);
    console.log(`incremental git kernel build: ${ms} ms, ${compiled.length} objects compiled`);
    // The user's repository was only read: still on its branch.
    expect((await execa('git', ['-C', repo, 'symbolic-ref', '--short', 'HEAD'])).stdout).toBe('main');
  });
});

describe('a prebuilt Debian kernel', () => {
  it('boots with no build, loads its network modules, and skips what its config lacks', async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      join(SCENARIOS_DIR, 'kzalloc-zeroing.yaml'),
      join(SCENARIOS_DIR, 'gfp-atomic-irq.yaml'),
      '--arch',
      'x86_64',
      '--kernel',
      'debian-6.1-cloud',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const recs = results(out);
    const guest = recs.find((x) => x.type === 'guest');
    expect(guest?.type === 'guest' && guest.constants).toMatchObject({
      release: expect.stringMatching(/^6\.1\.0-\d+-cloud-amd64$/),
      INIT_ON_ALLOC: true,
    });
    const s = steps(recs);
    const atomic = s.filter((x) => x.scenario === 'gfp-atomic-irq');
    expect(atomic.length).toBeGreaterThan(0);
    // Only the step that needs the sleeping-in-atomic report is skipped; GFP_ATOMIC in hard IRQ still runs.
    expect(atomic.filter((x) => x.status === 'skip').map((x) => `${x.name}: ${x.reason}`)).toEqual([
      'GFP_KERNEL in hard IRQ is reported: kernel config lacks CONFIG_DEBUG_ATOMIC_SLEEP',
    ]);
    expect(atomic.filter((x) => x.status !== 'skip').every((x) => x.status === 'pass')).toBe(true);
    // Debian zeroes every allocation (init_on_alloc): plain kmalloc memory comes back zeroed too.
    expect(s.find((x) => x.name === 'plain kmalloc 512 bytes after it')!.facts).toMatchObject({ ok: true, zeroed: true });
    expect(await qemusUnder(out)).toEqual([]);
  });
});
