/**
 * A git bisect past a crash of another kind, on the fixture history's signal
 * branch (test/fixtures/make-kernel-history.sh): fixture-good → fixture-slow-bad
 * crosses a commit that crashes the guest in kmalloc-size-limits' first step
 * (BUG_ON on an order-5 kmalloc), one that takes it out again, and the one that
 * makes kmalloc refuse anything above order 5. kharness must name the last,
 * skip the crash as a failure of another kind (without that rule it would name
 * the crash), and confirm the answer on three fresh runs each; and refuse a
 * good end that crashes. Three more git builds than npm test's bisect: the
 * nightly tier. (npm test bisects fixture-slow → fixture-slow-bad:
 * test/e2e/bisect.test.ts; the skip rule on real records: test/unit/bisect.test.ts.)
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli, ensureFixtureRepo, qemusUnder, shipped, tempDir } from '../e2e/helpers.ts';

const bisect = (repo: string, good: string, bad: string, out: string) =>
  cli([
    'bisect',
    '--repo',
    repo,
    '--good',
    good,
    '--bad',
    bad,
    '--scenario',
    shipped('kmalloc-size-limits'),
    '--arch',
    'x86_64',
    '--out',
    out,
  ]);

describe('git bisect past a crash of another kind', () => {
  it('names the commit that broke kmalloc above 128 KiB, skipping the crash, confirmed three times', async () => {
    const repo = await ensureFixtureRepo();
    const sha = async (ref: string) => (await execa('git', ['-C', repo, 'rev-parse', ref])).stdout.trim();
    const [culprit, crash, parent] = [await sha('fixture-slow-bad'), await sha('fixture-unrelated-crash'), await sha('fixture-slow')];
    const out = tempDir();
    const r = await bisect(repo, 'fixture-good', 'fixture-slow-bad', out);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`first bad: ${culprit} mm/slab: refuse large kmalloc above order 5`);
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
    expect(Number(/(\d+) candidates built and run/.exec(r.stdout)?.[1])).toBe(4);
    expect(await qemusUnder(out)).toEqual([]);
  });

  it('refuses a good end that crashes', async () => {
    const repo = await ensureFixtureRepo();
    const out = tempDir();
    const r = await bisect(repo, 'fixture-unrelated-crash', 'fixture-slow-bad', out);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(
      /the good end [0-9a-f]{12} does not pass: crash: expected the guest survives, observed kernel BUG at mm\/slab_common\.c/,
    );
    expect(await qemusUnder(out)).toEqual([]);
  });
});
