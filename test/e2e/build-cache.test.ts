/** `kharness build` is cached by content: a second call finds the entry and builds nothing. */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, kernelBuildDir } from './helpers.ts';

describe('kernel build cache', () => {
  it('returns the cached kernel and module on the second call without running make', async () => {
    const first = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(first.exitCode, first.all).toBe(0);
    const [image, ko] = first.stdout.trim().split('\n');
    // The cache entry holds the build directory and its build.log.
    const entry = dirname(kernelBuildDir(image!));
    const logMtime = statSync(join(entry, 'build.log')).mtimeMs;
    const t0 = Date.now();
    const second = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1']);
    const ms = Date.now() - t0;
    expect(second.exitCode, second.all).toBe(0);
    expect(second.stdout.trim().split('\n')).toEqual([image, ko]);
    expect(second.stderr).toMatch(/kernel 6\.1\/x86_64: cached/);
    expect(statSync(join(entry, 'build.log')).mtimeMs).toBe(logMtime);
    // Not an assertion on speed: printed for the record.
    console.log(`cached kharness build: ${ms} ms`);
  });
});
