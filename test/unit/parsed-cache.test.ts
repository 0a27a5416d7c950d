/**
 * Parsed documents kept between runs (util/parsed.ts): a document is parsed
 * once, answered from the cache while its text, schema and (for a scenario)
 * the program are the same, and parsed again when any of them changes; a
 * document with an error is never kept, so its error stays the parser's.
 */
import { chmodSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DocumentError } from '../../harness/errors.ts';
import { catalogSchema } from '../../harness/kernel/schema.ts';
import { setCodeIdentity } from '../../harness/util/code.ts';
import { cachedCodeParseAsync, cachedYamlDocument, forgetParsed, pruneParsed } from '../../harness/util/parsed.ts';

let root: string;
const CATALOG =
  'kernels:\n  - name: "6.1"\n    source: { type: debian-source, package: linux-source-6.1 }\n    arches: [x86_64]\n    fragments: []\n';
const stored = () => readdirSync(join(root, 'documents')).filter((f) => f.endsWith('.json')).length;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kharness-parsed-'));
  forgetParsed();
});
afterEach(() => {
  setCodeIdentity(undefined);
  chmodSync(root, 0o755);
  rmSync(root, { recursive: true, force: true });
});

describe('a YAML document checked against its schema', () => {
  it('is parsed once and then read back as the same data, in a later process', async () => {
    const first = await cachedYamlDocument(root, CATALOG, 'catalog.yaml', catalogSchema);
    expect(stored()).toBe(1);
    forgetParsed();
    // The stored JSON answers: a marker written into it comes back.
    const [file] = readdirSync(join(root, 'documents'));
    writeFileSync(join(root, 'documents', file!), JSON.stringify({ kernels: [], marker: 1 }));
    expect(await cachedYamlDocument(root, CATALOG, 'catalog.yaml', catalogSchema)).toEqual({ kernels: [], marker: 1 });
    forgetParsed();
    rmSync(join(root, 'documents'), { recursive: true });
    expect(await cachedYamlDocument(root, CATALOG, 'catalog.yaml', catalogSchema)).toEqual(first);
  });

  it('is parsed again when its text or its schema changes', async () => {
    await cachedYamlDocument(root, CATALOG, 'catalog.yaml', catalogSchema);
    const edited = CATALOG.replace('x86_64', 'arm64');
    expect(
      (await cachedYamlDocument<{ kernels: { arches: string[] }[] }>(root, edited, 'catalog.yaml', catalogSchema)).kernels[0]!.arches,
    ).toEqual(['arm64']);
    const loose = { type: 'object' };
    await cachedYamlDocument(root, CATALOG, 'catalog.yaml', loose);
    expect(stored()).toBe(3);
  });

  it("with an error, is never stored: the error is the parser's own, every time", async () => {
    const bad = CATALOG.replace('arches: [x86_64]', 'arches: [x86_64]\n    colour: blue');
    for (let i = 0; i < 2; i++) {
      forgetParsed();
      await expect(() => cachedYamlDocument(root, bad, 'catalog.yaml', catalogSchema)).rejects.toThrow(DocumentError);
      await expect(() => cachedYamlDocument(root, bad, 'catalog.yaml', catalogSchema)).rejects.toThrow(
        /catalog.yaml:5:5: unknown key "colour"/,
      );
    }
    expect(readdirSync(root)).not.toContain('documents');
  });

  it('hands each caller its own copy', async () => {
    const a = await cachedYamlDocument<{ kernels: { name: string }[] }>(root, CATALOG, 'c.yaml', catalogSchema);
    a.kernels[0]!.name = 'changed';
    expect((await cachedYamlDocument<{ kernels: { name: string }[] }>(root, CATALOG, 'c.yaml', catalogSchema)).kernels[0]!.name).toBe(
      '6.1',
    );
  });

  it('still parses where the cache cannot be written or read', async () => {
    writeFileSync(join(root, 'documents'), 'not a directory');
    expect(await cachedYamlDocument(root, CATALOG, 'c.yaml', catalogSchema)).toMatchObject({ kernels: [{ name: '6.1' }] });
  });
});

describe('a value parsed by the running code (a scenario)', () => {
  let parses = 0;
  const parse = async () => {
    parses++;
    return { steps: [{ name: 'a' }] };
  };
  beforeEach(() => {
    parses = 0;
  });

  it('is not kept when the code is not identified (the sources run under test)', async () => {
    setCodeIdentity(undefined);
    await cachedCodeParseAsync(root, 'scenario', 'text', 'a.yaml', parse);
    await cachedCodeParseAsync(root, 'scenario', 'text', 'a.yaml', parse);
    expect(parses).toBe(2);
  });

  it('is kept per program, path and text', async () => {
    setCodeIdentity('build-1');
    await cachedCodeParseAsync(root, 'scenario', 'text', 'a.yaml', parse);
    forgetParsed();
    await cachedCodeParseAsync(root, 'scenario', 'text', 'a.yaml', parse);
    expect(parses).toBe(1);
    await cachedCodeParseAsync(root, 'scenario', 'text2', 'a.yaml', parse);
    await cachedCodeParseAsync(root, 'scenario', 'text', 'b.yaml', parse);
    setCodeIdentity('build-2');
    await cachedCodeParseAsync(root, 'scenario', 'text', 'a.yaml', parse);
    expect(parses).toBe(4);
  });
});

describe('cache prune', () => {
  it('removes the documents not written for longer than the age, or all of them', async () => {
    setCodeIdentity('build-1');
    await cachedCodeParseAsync(root, 'scenario', 'old', 'a.yaml', async () => 1);
    await cachedCodeParseAsync(root, 'scenario', 'new', 'a.yaml', async () => 2);
    const old = readdirSync(join(root, 'documents')).map((f) => join(root, 'documents', f));
    const tenDaysAgo = new Date(Date.now() - 10 * 86_400_000);
    utimesSync(old[0]!, tenDaysAgo, tenDaysAgo);
    expect(await pruneParsed(root, 7 * 86_400_000)).toBe(1);
    expect(stored()).toBe(1);
    expect(await pruneParsed(root, -1)).toBe(1);
    expect(stored()).toBe(0);
    expect(await pruneParsed(join(root, 'nothing-here'), -1)).toBe(0);
  });
});
