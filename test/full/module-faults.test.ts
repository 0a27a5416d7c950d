/**
 * A user module that misbehaves, on a real kernel that needs no build
 * (Debian's arm64 6.12 cloud kernel): an init that returns an error, a module
 * that cannot be unloaded, an init that never returns, an init that calls
 * BUG(). check-module names each in words with its evidence and exits 1 (it
 * found something), never 2, never with a stack trace, and leaves no QEMU
 * behind. The unit tier replays the same shapes on the fake machine
 * (test/unit/module-faults.test.ts). About 50 s on a loaded 2-core host
 * (2026-12-07); the step timeout is 10 s so the hang costs 10 s, not 120.
 */
import { describe, expect, it } from 'vitest';
import { cli, qemusUnder, results, steps, tempDir } from '../e2e/helpers.ts';

async function check(example: string) {
  const out = tempDir();
  const r = await cli(
    [
      'check-module',
      `modules/examples/${example}`,
      '--arch',
      'arm64',
      '--kernel',
      'debian:6.12-cloud',
      '--step-timeout',
      '10',
      '--out',
      out,
    ],
    { timeoutMs: 10 * 60_000 },
  );
  expect(r.all).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
  expect(await qemusUnder(out)).toEqual([]);
  return { code: r.exitCode, rows: steps(results(out)).map((s) => [s.name, s.status, s.reason ?? '']) };
}

describe("a misbehaving user module on Debian's 6.12 cloud kernel (arm64)", () => {
  it("an init that returns an error: each load fails with insmod's own message, nothing is unloaded", async () => {
    const r = await check('init-fails');
    expect(r.code).toBe(1);
    expect(r.rows.map(([name, status]) => `${name}: ${status}`)).toEqual([
      'kh_init_fails: cycle 1 load: fail',
      'kh_init_fails: cycle 1 unload: skip',
      'kh_init_fails: cycle 2 load: fail',
      'kh_init_fails: cycle 2 unload: skip',
    ]);
    expect(r.rows[0]![2]).toBe("kh_init_fails's init failed (exit 19): insmod: can't insert '/proc/self/fd/0': No such device");
  });

  it("a module that cannot be unloaded: rmmod's refusal is the finding, and the next load is not tried on top of it", async () => {
    const r = await check('busy-unload');
    expect(r.code).toBe(1);
    expect(r.rows.map(([name, status]) => `${name}: ${status}`)).toEqual([
      'kh_busy_unload: cycle 1 load: pass',
      'kh_busy_unload: cycle 1 unload: fail',
      'kh_busy_unload: cycle 2 load: skip',
      'kh_busy_unload: cycle 2 unload: fail',
    ]);
    expect(r.rows[1]![2]).toMatch(/^kh_busy_unload could not be unloaded \(exit 1\): rmmod: can't unload module 'kh_busy_unload': /);
  });

  it('an init that never returns: the load fails at the step timeout saying so; the rest is not run', async () => {
    const r = await check('hang-in-init');
    expect(r.code).toBe(1);
    expect(r.rows[0]).toEqual([
      'kh_hang_in_init: cycle 1 load',
      'fail',
      "insmod never returned: kh_hang_in_init's init hangs: step timed out after 10 s",
    ]);
    expect(r.rows.slice(1).every(([, status]) => status === 'skip')).toBe(true);
  });

  it("an init that calls BUG(): the report is the load's, and the guest is not used again", async () => {
    const r = await check('crash-on-load');
    expect(r.code).toBe(1);
    expect(r.rows[0]!.slice(0, 2)).toEqual(['kh_crash_on_load: cycle 1 load', 'fail']);
    expect(r.rows.slice(1).map(([, status, reason]) => [status, reason.replace(/ in step .*/, '')])).toEqual(
      Array(3).fill(['skip', 'not run: the kernel oopsed']),
    );
  });
});
