/**
 * Repeats on real guests: `--repeat 3` boots a fresh VM per run and folds
 * each step's runs into one result with its distribution; a run compared
 * with itself shows nothing changed; the run lands in a history. The
 * performance bisect, `--baseline` and flaky detection over a dozen boots:
 * test/full/regression.test.ts; their judgement on real captures:
 * test/unit/regression.test.ts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Comparison } from '../../harness/regress/compare.ts';
import { foldRepeats } from '../../harness/results/repeats.ts';
import { cli, qemusUnder, results, shipped, steps, tempDir } from './helpers.ts';

describe('repeated runs', () => {
  it('runs alloc-cost three times on fresh VMs, compares the run with itself, and records it in a history', async () => {
    const dir = tempDir();
    const out = join(dir, 'run');
    const history = join(dir, 'history');
    const r = await cli([
      'run',
      shipped('alloc-cost'),
      '--arch',
      'x86_64',
      '--kernel',
      '6.1',
      '--repeat',
      '3',
      '--history',
      history,
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const recs = results(out);
    // Each run booted its own guest.
    expect(recs.filter((x) => x.type === 'guest').map((x) => (x.type === 'guest' ? x.repeat : 0))).toEqual([1, 2, 3]);
    const folded = steps(foldRepeats(recs));
    expect(folded.length).toBe(4);
    for (const s of folded) expect(s, s.name).toMatchObject({ status: 'pass', runs: 3, passes: 3 });
    expect(r.stdout).toMatch(/✓ kmalloc vs vmalloc \[4 KiB\] [\d.]+ ms 3\/3 runs passed\n {8}alloc_ns_median: \d+ \[\d+–\d+\] ±/);
    expect(await qemusUnder(dir)).toEqual([]);

    // The same run against itself: every step the same, no metric moved.
    const c = await cli(['compare', out, out, '--format', 'json']);
    expect(c.exitCode, c.all).toBe(0);
    const cmp = JSON.parse(c.stdout) as Comparison;
    expect(cmp.steps.length).toBe(4);
    expect(cmp.steps.filter((s) => s.change !== 'same')).toEqual([]);
    expect(cmp.metrics.length).toBeGreaterThan(0);
    expect(cmp.metrics.filter((m) => m.verdict === 'regressed' || m.verdict === 'improved')).toEqual([]);

    const h = await cli(['history', history]);
    expect(h.exitCode, h.all).toBe(0);
    expect(h.stdout).toMatch(/1 run\(s\), oldest first:/);
  });
});
