/**
 * kharness as an npm package: `npm pack` (its prepack builds dist/), the
 * tarball installed into an empty prefix with `npm install -g --prefix`, then
 * the installed `kharness` run from another folder: doctor, and a shipped
 * scenario on the x86_64 6.1 kernel `npm test` built (the cache is shared, so
 * the installed copy finds the same kernel and module: their keys do not
 * depend on where kharness is installed). Costs about a minute, most of it
 * npm installing the dependencies from its cache.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';
import { qemusUnder, results, steps, tempDir } from '../e2e/helpers.ts';

describe('the npm package', () => {
  it('packs, installs into an empty prefix, and runs doctor and a shipped scenario from another folder', async () => {
    const work = tempDir('kharness-pack-');
    await execa('npm', ['pack', '--pack-destination', work], { cwd: PROJECT_ROOT });
    const tgz = readdirSync(work).find((f) => /^kharness-.*\.tgz$/.test(f))!;
    expect(tgz).toBeDefined();
    const prefix = join(work, 'prefix');
    await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(work, tgz)], {
      cwd: work,
    });
    const pkg = join(prefix, 'lib', 'node_modules', 'kharness');
    // What runs is compiled: no sources, no TypeScript tooling.
    expect(existsSync(join(pkg, 'harness', 'cli'))).toBe(false);
    expect(existsSync(join(pkg, 'node_modules', 'tsx'))).toBe(false);
    expect(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).engines.node).toMatch(/^>=/);

    const kharness = join(prefix, 'bin', 'kharness');
    const elsewhere = tempDir('kharness-elsewhere-');
    const env = { CI: 'true', NO_COLOR: '1' };
    const doctor = await execa(kharness, ['doctor'], { cwd: elsewhere, reject: false, env });
    expect(doctor.stdout).toContain('info     cache:');
    expect(doctor.exitCode).toBe(0);

    const out = join(elsewhere, 'out');
    const scenario = join(pkg, 'scenarios', 'kzalloc-zeroing.yaml');
    const run = await execa(kharness, ['run', scenario, '--kernel', '6.1', '--arch', 'x86_64', '--out', out], {
      cwd: elsewhere,
      reject: false,
      all: true,
      env,
    });
    expect(run.exitCode, run.all).toBe(0);
    const s = steps(results(out));
    expect(s.length).toBeGreaterThan(0);
    expect(s.every((x) => x.status === 'pass')).toBe(true);
    expect(await qemusUnder(out)).toEqual([]);

    // A damaged install names its file in one line.
    const main = join(pkg, 'dist', 'main.js');
    writeFileSync(main, '');
    const broken = await execa(kharness, ['--help'], { cwd: elsewhere, reject: false });
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toMatch(
      new RegExp(
        `^kharness: ${main.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged \\(0 bytes, built as \\d+\\): reinstall kharness\\.$`,
      ),
    );
  });
});
