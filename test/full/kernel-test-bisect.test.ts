/**
 * A deliberate break in SLUB (the fixture history's fixture-redzone-bad) is
 * seen as a failing kernel-test case, with its EXPECTATION FAILED lines, read
 * the same way by kunit.py, and found again by a bisect on that case. One
 * more git build than npm test makes: the nightly tier.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli, ensureFixtureRepo, qemusUnder, results, shipped, steps, tempDir } from '../e2e/helpers.ts';
import { asKunit, kunitParse, label, sourceOf } from '../e2e/kernel-test-checks.ts';

describe('a deliberate break in SLUB', () => {
  it('fails slub_kunit test_clobber_zone with its EXPECTATION FAILED lines, and a bisect on that case names the commit', async () => {
    const repo = await ensureFixtureRepo();
    const culprit = (await execa('git', ['-C', repo, 'rev-parse', 'fixture-redzone-bad'])).stdout.trim();
    const out = tempDir();
    const r = await cli([
      'run',
      shipped('kernel-test-slub'),
      '--arch',
      'x86_64',
      '--kernel',
      `git:${repo}@fixture-redzone-bad`,
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(1);
    const records = results(out);
    const cases = steps(records).filter((s) => s.kernelTest?.case);
    const zone = cases.find((s) => s.kernelTest!.case === 'test_clobber_zone')!;
    expect(zone.status).toBe('fail');
    expect(zone.dmesg.join('\n')).toMatch(/# test_clobber_zone: EXPECTATION FAILED at lib\/slub_kunit\.c:\d+/);
    // The right redzone is what both of these clobber; the other three cases do not touch it.
    expect(cases.filter((s) => s.status === 'fail').map((s) => s.kernelTest!.case)).toEqual([
      'test_clobber_zone',
      'test_clobber_redzone_free',
    ]);
    expect(cases.filter((s) => s.status === 'pass').map((s) => s.kernelTest!.case)).toEqual([
      'test_next_pointer',
      'test_first_word',
      'test_clobber_50th_byte',
    ]);
    expect(r.stdout).toMatch(
      /FAIL x86_64\/git:.*kernel-test-slub › slub_kunit: test_clobber_zone\n[\s\S]*EXPECTATION FAILED at lib\/slub_kunit\.c/,
    );
    // The kernel's own parser reads the failures the same way.
    const run = steps(records).find((s) => s.kernelTest && !s.kernelTest.case)!;
    expect(await kunitParse(await sourceOf(records, label(run.target)), run, out)).toEqual(
      asKunit(Object.fromEntries(cases.map((s) => [s.kernelTest!.case!, s.status]))),
    );
    expect(await qemusUnder(out)).toEqual([]);

    const bisectOut = tempDir();
    const b = await cli([
      'bisect',
      '--repo',
      repo,
      '--good',
      'fixture-good',
      '--bad',
      'fixture-redzone-bad',
      '--scenario',
      shipped('kernel-test-slub'),
      '--step',
      'slub_kunit: test_clobber_zone',
      '--arch',
      'x86_64',
      '--out',
      bisectOut,
    ]);
    expect(b.exitCode, b.all).toBe(0);
    expect(b.stdout).toContain(`first bad: ${culprit} mm/slub: skip the right redzone check`);
    expect(b.stdout).toMatch(/EXPECTATION FAILED/);
    expect(await qemusUnder(bisectOut)).toEqual([]);
  });
});
