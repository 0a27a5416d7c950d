/** `kharness build` is cached by content: a second call finds the entry and builds nothing. */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMeta } from '../../harness/cache/store.ts';
import { cacheRoot } from '../../harness/paths.ts';
import { cli, kernelBuildDir } from './helpers.ts';

describe('kernel build cache', () => {
  it('returns the cached kernel and module on the second call without running make', async () => {
    const first = await cli(['build', '--arch', 'x86_64', '--kernel', '6.1']);
    expect(first.exitCode, first.all).toBe(0);
    const [image, ko] = first.stdout.trim().split('\n');
    // The cache entry holds the build directory and its build.log.
    const entry = dirname(kernelBuildDir(image!));
    const logMtime = statSync(join(entry, 'build.log')).mtimeMs;
    // Compiled inside its source tree, then moved here: the build directory names the tree by absolute path again.
    const meta = await readMeta<{ srcDir: string; buildDir: string }>(entry, cacheRoot());
    expect(meta?.buildDir).toBe(kernelBuildDir(image!));
    expect(realpathSync(join(meta!.buildDir, 'source'))).toBe(realpathSync(meta!.srcDir));
    expect(readFileSync(join(meta!.buildDir, 'Makefile'), 'utf8')).toContain(`include ${join(meta!.srcDir, 'Makefile')}\n`);
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
