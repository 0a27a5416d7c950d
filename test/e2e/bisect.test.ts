/**
 * Bisect on a real kernel history (test/fixtures/make-kernel-history.sh),
 * the `signal` branch after Debian's 6.1: a commit that crashes the guest in
 * kmalloc-size-limits' first step (BUG_ON on an order-5 kmalloc), one that
 * takes it out again and slows large kmalloc (still passing), and one that
 * makes kmalloc refuse anything above order 5. kharness must name the last,
 * with its failing expectation, skip the crash as a failure of another kind
 * (without that rule it would name the crash), build each step incrementally
 * and confirm the answer on fresh runs.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '../../harness/paths.ts';
import { cli, ensureFixtureRepo, qemusUnder, tempDir } from './helpers.ts';

describe('bisect', () => {
  it('names the commit that broke kmalloc above 128 KiB, past a crash of another kind', async () => {
    const repo = await ensureFixtureRepo();
    const head = (await execa('git', ['-C', repo, 'rev-parse', 'HEAD'])).stdout;
    const sha = async (ref: string) => (await execa('git', ['-C', repo, 'rev-parse', ref])).stdout.trim();
    const [culprit, crash, parent] = [await sha('fixture-slow-bad'), await sha('fixture-unrelated-crash'), await sha('fixture-slow')];
    const out = tempDir();
    const t0 = Date.now();
    const r = await cli([
      'bisect',
      '--repo',
      repo,
      '--good',
      'fixture-good',
      '--bad',
      'fixture-slow-bad',
      '--scenario',
      join(SCENARIOS_DIR, 'kmalloc-size-limits.yaml'),
      '--arch',
      'x86_64',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`first bad: ${culprit} mm/slab: refuse large kmalloc above order 5`);
    // The failing expectation, at its place in the scenario file.
    expect(r.stdout).toMatch(/just above the article's limit: \S*kmalloc-size-limits\.yaml:\d+:\d+: ok: expected true, observed false/);
    // The crash is a failure of another step, with a kernel report: skipped, said why, never "bad".
    expect(r.stdout).toMatch(
      new RegExp(
        `${crash.slice(0, 12)}  skip .*mm/slab: BUG on an order-5 large kmalloc  — fails differently: step "128 KiB, the article's limit" ` +
          `\\(crash, .*kernel BUG at mm/slab_common\\.c!\\), not step "just above the article's limit" \\(ok, phys_runs\\)`,
      ),
    );
    expect(r.stdout).toContain(
      `confirmed over 3 more runs each: ${culprit.slice(0, 12)}: bad, bad, bad; ${parent.slice(0, 12)}: good, good, good`,
    );
    const builds = Number(/(\d+) candidates built and run/.exec(r.stdout)?.[1]);
    expect(builds).toBe(4);
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
  });

  it('bisects an ordered list of kernels with no git tree', async () => {
    const dir = tempDir();
    // Debian's 6.1.0-53 has memchr_inv()'s 32-bit word count; the 6.1.192 source build has the fix.
    const r = await cli([
      'bisect',
      '--kernels',
      'debian:6.1.0-53-cloud,6.1',
      '--find',
      'fix',
      '--scenario',
      join(SCENARIOS_DIR, 'memchr-inv-large.yaml'),
      '--arch',
      'x86_64',
      '--out',
      join(dir, 'b'),
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain('first fixed: 6.1 kernel 6.1');
    expect(r.stdout).toMatch(
      /a scan of 32 GiB \+ 16 bytes finds the byte at offset 16: .*memchr-inv-large\.yaml:\d+:\d+: scan_first: expected 16, observed -1/,
    );
  });

  it('refuses ends that do not behave as claimed', async () => {
    const repo = await ensureFixtureRepo();
    const r = await cli([
      'bisect',
      '--repo',
      repo,
      '--good',
      'fixture-unrelated-crash',
      '--bad',
      'fixture-slow-bad',
      '--scenario',
      join(SCENARIOS_DIR, 'kmalloc-size-limits.yaml'),
      '--arch',
      'x86_64',
      '--out',
      tempDir(),
    ]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /the good end [0-9a-f]{12} does not pass: crash: expected the guest survives, observed kernel BUG at mm\/slab_common\.c/,
    );
  });
});
