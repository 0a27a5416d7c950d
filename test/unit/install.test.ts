/**
 * An installed kharness (no harness/ sources beside it) checks its compiled
 * files against dist/manifest.json: a missing or damaged one stops the start
 * with one line naming it, exit 2, never a stack trace. Here on a copy of
 * bin/ and dist/ (the global setup built dist/), as `npm install` lays it out.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';

let dir: string;
const manifest = () => JSON.parse(readFileSync(join(dir, 'dist', 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number }> };
const named = (prefix: string) => Object.keys(manifest().files).find((f) => f.startsWith(prefix))!;

function install(): void {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  cpSync(join(PROJECT_ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
}

const cli = (...args: string[]) => execa('node', [join(dir, 'bin', 'kharness.js'), ...args], { reject: false, cwd: tmpdir() });

/** Same size, other bytes: the size check passes, the file cannot load. */
function scramble(file: string): void {
  const p = join(dir, 'dist', file);
  const text = readFileSync(p);
  writeFileSync(p, Buffer.alloc(text.length, '@'));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kharness-install-'));
  cpSync(join(PROJECT_ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  cpSync(join(PROJECT_ROOT, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir, 'node_modules'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('an installed copy', () => {
  it('runs from its compiled files', async () => {
    install();
    const r = await cli('schema', '--stdout');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).$schema).toContain('json-schema.org');
  });

  it.each([
    ['missing', (f: string) => unlinkSync(join(dir, 'dist', f)), () => 'is missing'],
    [
      'truncated',
      (f: string) => truncateSync(join(dir, 'dist', f), 10),
      (f: string) => `is damaged (10 bytes, built as ${manifest().files[f]!.bytes})`,
    ],
  ])('with a %s file stops at start with one line naming it, even one the command would not load', async (_what, damage, says) => {
    install();
    const file = named('schema-');
    const why = says(file);
    damage(file);
    const r = await cli('--help');
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`kharness: ${join(dir, 'dist', file)} ${why}: reinstall kharness.`);
  });

  it('names a damaged file of the same size when it fails to load: the entry, or a command loaded later', async () => {
    for (const file of ['main.js', named('schema-')]) {
      install();
      scramble(file);
      const r = await cli('schema', '--stdout');
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toBe(`kharness: ${join(dir, 'dist', file)} is damaged (its contents differ from the build): reinstall kharness.`);
    }
  });

  it('without its manifest says so in one line', async () => {
    install();
    unlinkSync(join(dir, 'dist', 'manifest.json'));
    const r = await cli('--help');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`kharness: ${join(dir, 'dist', 'manifest.json')} is missing: reinstall kharness.`);
  });
});

describe('a checkout', () => {
  it('never runs code older than its sources: bin/kharness.js rebuilds dist/ when harness/ changed', async () => {
    const co = mkdtempSync(join(tmpdir(), 'kharness-checkout-'));
    try {
      for (const p of ['bin', 'scripts', 'harness', 'package.json', 'tsconfig.json'])
        cpSync(join(PROJECT_ROOT, p), join(co, p), { recursive: true });
      symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(co, 'node_modules'));
      const help = () => execa('node', [join(co, 'bin', 'kharness.js'), '--help'], { reject: false });
      // No dist/ yet: built on the first start.
      expect((await help()).stdout).toContain('run scenarios on real kernels in QEMU');
      const commands = join(co, 'harness', 'cli', 'commands.ts');
      writeFileSync(commands, readFileSync(commands, 'utf8').replace('run scenarios on real kernels in QEMU', 'run scenarios, edited'));
      const r = await help();
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('run scenarios, edited');
    } finally {
      rmSync(co, { recursive: true, force: true });
    }
  });
});
