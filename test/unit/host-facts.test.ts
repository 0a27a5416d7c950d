/**
 * The host-fact cache (util/facts.ts): a fact is asked of the host once, then
 * answered from the cache while its key holds, and asked again as soon as a
 * file of its key changes; a stale entry never answers. Real processes: a
 * fake tool on PATH that counts its runs, and a stand-in for dpkg's status.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { factFile, fileIdentity, forgetFacts, hostFact, lookupFact, toolIdentity, toolOutput } from '../../harness/util/facts.ts';

let dir: string;
let root: string;
let bin: string;
const savedPath = process.env.PATH;

/** A `cc` that prints its version and counts how often it ran. */
function fakeTool(version: string, how: 'rewrite' | 'replace' = 'replace'): void {
  const script = `#!/bin/sh\necho run >> ${join(dir, 'runs')}\necho "cc (Fake) ${version}"\n`;
  const p = join(bin, 'cc');
  if (how === 'rewrite') writeFileSync(p, script);
  else {
    // As dpkg installs a file: written aside, renamed over the old one.
    writeFileSync(`${p}.new`, script);
    chmodSync(`${p}.new`, 0o755);
    renameSync(`${p}.new`, p);
  }
}
const runs = () => readFileSync(join(dir, 'runs'), 'utf8').split('\n').filter(Boolean).length;
/** A fresh process: what this one read is forgotten, the file under root stays. */
const nextProcess = forgetFacts;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kharness-facts-'));
  root = join(dir, 'cache');
  bin = join(dir, 'bin');
  writeFileSync(join(dir, 'runs'), '');
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin);
  process.env.PATH = `${bin}${delimiter}${savedPath}`;
  forgetFacts();
});
afterEach(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

describe('host facts', () => {
  it('asks a tool once; later processes read the answer while the tool is the same file', async () => {
    fakeTool('12.2.0');
    expect(await toolOutput(root, 'cc', ['--version'])).toBe('cc (Fake) 12.2.0');
    nextProcess();
    expect(await toolOutput(root, 'cc', ['--version'])).toBe('cc (Fake) 12.2.0');
    expect(await toolOutput(root, 'cc', ['--version'])).toBe('cc (Fake) 12.2.0');
    expect(runs()).toBe(1);
  });

  it('asks again when the tool is upgraded (replaced, or rewritten in place), and never answers with the old version', async () => {
    fakeTool('12.2.0');
    await toolOutput(root, 'cc', ['--version']);
    fakeTool('12.3.0');
    nextProcess();
    expect(await toolOutput(root, 'cc', ['--version'])).toBe('cc (Fake) 12.3.0');
    fakeTool('12.4.0', 'rewrite');
    nextProcess();
    expect(await toolOutput(root, 'cc', ['--version'])).toBe('cc (Fake) 12.4.0');
    expect(runs()).toBe(3);
  });

  it('follows PATH: another file by the same name is another key', async () => {
    fakeTool('12.2.0');
    const before = toolIdentity('cc');
    await toolOutput(root, 'cc', ['--version']);
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'cc'), '#!/bin/sh\necho "cc (Other) 14.1.0"\n');
    chmodSync(join(other, 'cc'), 0o755);
    process.env.PATH = `${other}${delimiter}${process.env.PATH}`;
    expect(toolIdentity('cc')).not.toBe(before);
    expect(await toolOutput(root, 'cc', ['--version'])).toBe('cc (Other) 14.1.0');
  });

  it("keys a package's version on dpkg's status file: installing or removing anything asks again", async () => {
    const status = join(dir, 'status');
    writeFileSync(status, 'Package: linux-source-6.1\nVersion: 6.1.192-2\n');
    let asked = 0;
    const version = () =>
      hostFact(root, 'dpkg-query linux-source-6.1', [fileIdentity(status)], async () => {
        asked++;
        // As dpkg-query: nothing when the package is not installed.
        return /Version: (\S+)/.exec(existsSync(status) ? readFileSync(status, 'utf8') : '')?.[1] ?? '';
      });
    expect(await version()).toBe('6.1.192-2');
    nextProcess();
    expect(await version()).toBe('6.1.192-2');
    expect(asked).toBe(1);
    writeFileSync(`${status}-new`, 'Package: linux-source-6.1\nVersion: 6.1.199-1\n');
    renameSync(`${status}-new`, status);
    nextProcess();
    expect(await version()).toBe('6.1.199-1');
    rmSync(status);
    nextProcess();
    expect(await version()).toBe('');
    expect(asked).toBe(3);
  });

  it('stores nothing for a question that failed, and survives a damaged cache file', async () => {
    let n = 0;
    const failing = () =>
      hostFact(root, 'flaky', ['k'], async () => {
        n++;
        throw new Error('apt-cache: lists locked');
      });
    await expect(failing()).rejects.toThrow('lists locked');
    await expect(failing()).rejects.toThrow('lists locked');
    expect(n).toBe(2);
    mkdirSync(root, { recursive: true });
    mkdirSync(dirname(factFile(root, 'flaky')), { recursive: true });
    writeFileSync(factFile(root, 'flaky'), '{"name": "flaky", "key": "k", "val');
    nextProcess();
    expect(await hostFact(root, 'flaky', ['k'], async () => 'fine')).toBe('fine');
    nextProcess();
    expect(await hostFact(root, 'flaky', ['k'], async () => 'asked again')).toBe('fine');
  });

  it('keeps the facts another process stored while this one was asking', async () => {
    await hostFact(root, 'seen', ['1'], async () => 'S');
    await hostFact(root, 'b', ['1'], async () => {
      // Meanwhile another process stores 'a'.
      mkdirSync(dirname(factFile(root, 'a')), { recursive: true });
      writeFileSync(factFile(root, 'a'), JSON.stringify({ name: 'a', key: '1', value: 'A' }));
      return 'B';
    });
    nextProcess();
    for (const [name, value] of [
      ['a', 'A'],
      ['b', 'B'],
      ['seen', 'S'],
    ])
      expect(await hostFact(root, name!, ['1'], async () => 'asked again')).toBe(value);
  });

  it('lookupFact answers only under the same key', () => {
    const facts = { 'gcc --version': { key: 'gcc=/usr/bin/gcc-12 1 2 3 4', value: 'gcc 12.2.0' } };
    expect(lookupFact(facts, 'gcc --version', 'gcc=/usr/bin/gcc-12 1 2 3 4')).toBe('gcc 12.2.0');
    expect(lookupFact(facts, 'gcc --version', 'gcc=/usr/bin/gcc-12 1 2 3 5')).toBeUndefined();
    expect(lookupFact(facts, 'cc --version', 'gcc=/usr/bin/gcc-12 1 2 3 4')).toBeUndefined();
  });
});
