/**
 * Bisect on a real kernel history (test/fixtures/make-kernel-history.sh, the
 * `signal` branch after Debian's 6.1): fixture-slow → fixture-slow-bad, one
 * commit that makes kmalloc refuse anything above order 5. kharness builds the
 * git kernels with the catalog 6.1's allocator options (the bad end
 * incrementally, after the good end), names the commit with its failing
 * expectation, confirms it on a fresh run, resumes from its state, and refuses
 * a good end that fails. A bisect past a crash of another kind, with the
 * default three confirmations: test/full/git-bisect-skip.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, inject, it } from 'vitest';
import { allocatorProfile, parseConfig } from '../../harness/analysis/kconfig.ts';
import { readMeta } from '../../harness/cache/store.ts';
import { profileOptions } from '../../harness/kernel/distro.ts';
import { cacheRoot, SCENARIOS_DIR } from '../../harness/paths.ts';
import { cli, ensureFixtureRepo, kernelBuildDir, qemusUnder, tempDir } from './helpers.ts';

/** A git kernel's cache entry, from the image path `kharness build` prints first. */
async function gitEntry(repo: string, ref: string): Promise<{ entry: string; srcDir: string; buildDir: string }> {
  const b = await cli(['build', '--arch', 'x86_64', '--kernel', `git:${repo}@${ref}`]);
  expect(b.exitCode, b.all).toBe(0);
  const entry = join(b.stdout.trim().split('\n')[0]!, '..');
  const meta = await readMeta<{ srcDir: string; buildDir: string }>(entry, cacheRoot());
  if (!meta) throw new Error(`no cache entry for git:${repo}@${ref} at ${entry}`);
  return { entry, ...meta };
}

describe('bisect', () => {
  it('names the commit that broke kmalloc above 128 KiB, confirms it, and resumes from its state', async () => {
    const repo = await ensureFixtureRepo();
    const head = (await execa('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout;
    const sha = async (ref: string) => (await execa('git', ['-C', repo, 'rev-parse', ref])).stdout.trim();
    const [culprit, parent] = [await sha('fixture-slow-bad'), await sha('fixture-slow')];
    const out = tempDir();
    const t0 = Date.now();
    const r = await cli([
      'bisect',
      '--repo',
      repo,
      '--good',
      'fixture-slow',
      '--bad',
      'fixture-slow-bad',
      '--scenario',
      join(SCENARIOS_DIR, 'kmalloc-size-limits.yaml'),
      '--arch',
      'x86_64',
      '--confirm',
      '1',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`first bad: ${culprit} mm/slab: refuse large kmalloc above order 5`);
    // The failing expectation, at its place in the scenario file.
    expect(r.stdout).toMatch(/just above the article's limit: \S*kmalloc-size-limits\.yaml:\d+:\d+: ok: expected true, observed false/);
    expect(r.stdout).toContain(`confirmed over 1 more run each: ${culprit.slice(0, 12)}: bad; ${parent.slice(0, 12)}: good`);
    const builds = Number(/(\d+) candidates built and run/.exec(r.stdout)?.[1]);
    expect(builds).toBe(2);
    console.log(`bisect: ${builds} builds in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    // The user's repository is where it was.
    expect((await execa('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout).toBe(head);
    expect(await qemusUnder(out)).toEqual([]);
    // Resuming a bisect reads its state: no candidate is run again, same answer, no second confirmation.
    const again = await cli(['bisect', '--resume', out]);
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stdout).toContain(`first bad: ${culprit}`);
    expect(again.all).not.toMatch(/^booting/m);
    expect(again.stderr).toMatch(/resuming: \d+ candidates already judged/);
    // No guest of the resumed bisect: its out dir has no QEMU and no new run.
    expect(await qemusUnder(out)).toEqual([]);

    // Each candidate was a git kernel compiled inside its clone, where Kbuild names the tree `..` in every
    // command line: no absolute path of the tree, so ccache serves what matches another tree's build.
    const bad = await gitEntry(repo, 'fixture-slow-bad');
    const cmd = readFileSync(join(bad.buildDir, 'mm', '.slab_common.o.cmd'), 'utf8');
    expect(cmd).toMatch(/ -I\.\.\/include /);
    expect(cmd).not.toContain(bad.srcDir);
    // Debian's allocator options of 6.1, as the catalog's 6.1 takes them (kernels/distro-mm.yaml).
    const catalog61 = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(catalog61.exitCode, catalog61.all).toBe(0);
    const options = await profileOptions();
    const profile = (dir: string) => allocatorProfile(parseConfig(readFileSync(join(dir, '.config'), 'utf8')), options);
    expect(profile(bad.buildDir)).toMatchObject({ PREEMPT_VOLUNTARY: 'y', MEMCG: 'y', SLUB: 'y' });
    expect(profile(bad.buildDir)).toEqual(profile(kernelBuildDir(catalog61.stdout.trim().split('\n')[0]!)));
    // Incremental: fixture-slow-bad differs from fixture-slow (built first, in the e2e setup) only in
    // mm/slab_common.c, so its build compiled a handful of objects, not the ~850 of a full build. (On a warm
    // cache the entry's build.log is the one written when it was first built; the bisect says "cached" then.)
    const compiled = readFileSync(join(bad.entry, 'build.log'), 'utf8')
      .split('\n')
      .filter((l) => /^\s+CC\s/.test(l))
      .map((l) => l.trim());
    expect(compiled.length, compiled.join('\n')).toBeLessThan(20);
    expect(compiled.some((l) => l.endsWith('mm/slab_common.o'))).toBe(true);
    // The user's repository was only read: still on its branch.
    expect((await execa('git', ['-C', repo, 'symbolic-ref', '--short', 'HEAD'])).stdout).toBe('main');
  });

  it('bisects an ordered list of kernels with no git tree', async () => {
    const dir = tempDir();
    // A Debian 6.1 kernel before 6.1.0-54 (the archive's newest such, resolved in setup) has memchr_inv()'s
    // 32-bit word count; the source build of Debian's current 6.1 has the fix.
    const r = await cli([
      'bisect',
      '--kernels',
      `${inject('memchrUnfixed')},6.1`,
      '--find',
      'fix',
      '--scenario',
      join(SCENARIOS_DIR, 'memchr-inv-large.yaml'),
      '--arch',
      'x86_64',
      '--confirm',
      '1',
      '--out',
      join(dir, 'b'),
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('first fixed: 6.1 kernel 6.1');
    expect(r.stdout).toMatch(
      /a scan of 32 GiB \+ 16 bytes finds the byte at offset 16: .*memchr-inv-large\.yaml:\d+:\d+: scan_first: expected 16, observed -1/,
    );
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('refuses a good end that does not pass, before bisecting', async () => {
    const repo = await ensureFixtureRepo();
    const out = tempDir();
    // An ordered list of two git kernels, both the first test's, built and cached: the refusal costs one boot.
    const r = await cli([
      'bisect',
      '--kernels',
      `git:${repo}@fixture-slow-bad,git:${repo}@fixture-slow`,
      '--scenario',
      join(SCENARIOS_DIR, 'kmalloc-size-limits.yaml'),
      '--arch',
      'x86_64',
      '--confirm',
      '1',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toContain(`the good end git:${repo}@fixture-slow-bad does not pass: ok: expected true, observed false`);
    expect(r.stderr).toContain('Choose a --good where the scenario passes.');
    expect(await qemusUnder(out)).toEqual([]);
  });
});
