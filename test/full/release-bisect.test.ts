/**
 * A release bisect over a range of real Debian versions, with no build: the
 * first Debian 6.1 cloud kernel whose memchr_inv() scans more than 32 GiB
 * correctly. Every version in the range is a download and a boot: the
 * nightly tier. (npm test bisects a two-kernel list: test/e2e/bisect.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { abi61, debian61Cloud, MEMCHR_FIXED_ABI } from '../e2e/archive.ts';
import { cli, qemusUnder, shipped, tempDir } from '../e2e/helpers.ts';

describe('a release bisect over Debian versions, without a build', () => {
  it('finds the first Debian 6.1 kernel whose memchr_inv() scans more than 32 GiB correctly', async () => {
    // The range the archive has around the fix, from what it lists today: up to six versions before it, and two after.
    const all = await debian61Cloud('x86_64');
    const before = all.filter((n) => abi61(n) < MEMCHR_FIXED_ABI).slice(-6);
    const after = all.filter((n) => abi61(n) >= MEMCHR_FIXED_ABI).slice(0, 3);
    expect(before.length, `6.1 cloud kernels before the fix in the archive: ${all.join(', ')}`).toBeGreaterThanOrEqual(2);
    expect(after.map(abi61)).toContain(MEMCHR_FIXED_ABI);
    const out = tempDir();
    const range = `${before[0]}..${after[after.length - 1]!.replace(/^debian:/, '')}`;
    const r = await cli(['bisect', '--kernels', range, '--find', 'fix', '--scenario', shipped('memchr-inv-large'), '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain(`first fixed: debian:6.1.0-${MEMCHR_FIXED_ABI}-cloud`);
    // Both ends and at least one candidate between them were booted.
    const booted = (r.stdout.match(/^ {2}debian:6\.1\.0-\d+-cloud {2}(old|fixed)/gm) ?? []).length;
    expect(booted).toBeGreaterThanOrEqual(3);
    // The newest version before the fix is the last old one.
    expect(r.stdout).toMatch(new RegExp(`${before[before.length - 1]!.replace(/\./g, '\\.')}\\s+old`));
    expect(await qemusUnder(out)).toEqual([]);
  });
});
