/**
 * The kernel catalog, the parity list and a bisect's state are checked
 * against their schemas at load: a malformed one is one line naming
 * file:line:column (and, for bisect.json, the JSON path), exit 2 from the
 * CLI, never a stack or a TypeError later.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { loadState } from '../../harness/bisect/run.ts';
import { DocumentError } from '../../harness/errors.ts';
import { loadCatalog } from '../../harness/kernel/catalog.ts';
import { parityOptions } from '../../harness/kernel/distro.ts';
import { PROJECT_ROOT } from '../../harness/paths.ts';

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kharness-docs-'));
  onTestFinished(() => rmSync(d, { recursive: true, force: true }));
  return d;
}
function write(text: string, name = 'doc.yaml'): string {
  const f = join(tempDir(), name);
  writeFileSync(f, text);
  return f;
}
/** The error a load throws, as the line the CLI prints (after "kharness: "). */
function errorOf(load: () => unknown): string {
  try {
    load();
  } catch (e) {
    expect(e).toBeInstanceOf(DocumentError);
    return (e as Error).message;
  }
  throw new Error('loaded without an error');
}

async function errorOfAsync(load: () => Promise<unknown>): Promise<string> {
  try {
    await load();
  } catch (e) {
    expect(e).toBeInstanceOf(DocumentError);
    return (e as Error).message;
  }
  throw new Error('loaded without an error');
}

describe('kernels/catalog.yaml', () => {
  it('the shipped catalog passes its schema', async () => {
    expect((await loadCatalog()).map((k) => k.name)).toContain('6.1');
  });

  const head = 'kernels:\n  - name: "6.1"\n';
  const source = '    source: { type: debian-source, package: linux-source-6.1, tarball: /usr/src/linux-source-6.1.tar.xz }\n';
  const rest = '    arches: [x86_64, arm64]\n    fragments: [base.config]\n';
  it.each([
    ['an unknown key', `${head + source + rest}    frgments: [x]\n`, '6:5: unknown key "frgments"'],
    ['a wrong type', `${head + source + rest}    memory_mb: lots\n`, '6:16: must be of type integer'],
    ['a missing required field', `${head + source}    arches: [x86_64, arm64]\n`, '2:5: missing required key "fragments"'],
    ['an unknown arch', `${head + source}    arches: [x86_64, arm]\n    fragments: []\n`, '4:22: must be one of: x86_64, arm64'],
    [
      'a source missing what its type needs',
      `${head}    source: { type: debian-source, tarball: /x }\n${rest}`,
      '3:13: missing required key "package"',
    ],
    ['bad YAML', `${head + source + rest}  - name: "6.12\n`, '7:1: YAML: Missing closing "quote'],
    ['a repeated key', `${head + source + rest}    arches: [arm64]\n`, '6:5: YAML: Map keys must be unique'],
  ])('%s is one line at its position', async (_what, text, where) => {
    const f = write(text);
    expect(await errorOfAsync(() => loadCatalog(f))).toBe(`${f}:${where}`);
  });
});

describe('kernels/distro-mm.yaml', () => {
  it('the shipped parity list passes its schema', async () => {
    expect((await parityOptions()).options.map((o) => o.name)).toContain('SLUB');
  });

  it.each([
    ['an unknown key', 'option:\n  - SLUB\n', '1:1: unknown key "option"'],
    ['an option not named like one', 'options:\n  - SLUB\n  - slub_debug\n', '3:5: does not match the pattern ^[A-Z0-9_]+$'],
    ['an unknown key in an entry', 'options:\n  - SLUB\n  - { name: SLUB_TINY, optionl: why }\n', '3:24: unknown key "optionl"'],
    ['a wrong type', 'options:\n  - SLUB\n  - 7\n', '3:5: must be of type string'],
    ['an empty list', 'options: []\n', '1:10: must have at least 1 item'],
    ['bad YAML', 'options:\n  - SLUB\n - SLOB\n', '3:1: YAML: A block sequence may not be used as an implicit map key'],
  ])('%s is one line at its position', async (_what, text, where) => {
    const f = write(text);
    const msg = await errorOfAsync(() => parityOptions(f));
    expect(msg.startsWith(`${f}:${where}`), msg).toBe(true);
    expect(msg).not.toContain('\n');
  });
});

const state = {
  mode: 'kernels',
  arch: 'x86_64',
  scenarioFile: '/nonexistent/kzalloc-zeroing.yaml',
  repeat: 1,
  confirm: 3,
  find: 'regression',
  tested: { '6.1': { outcome: 'good', reason: 'passed', flaky: false, ms: 5, runDirs: ['/nonexistent/r'] } },
  good: { id: '6.1', kernel: '6.1', subject: 'kernel 6.1' },
  candidates: [{ id: '6.12', kernel: '6.12', subject: 'kernel 6.12' }],
};
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
const tested = state.tested['6.1'];

describe('bisect.json', () => {
  it('a state as the bisect writes it loads', () => {
    const d = tempDir();
    writeFileSync(join(d, 'bisect.json'), json(state));
    expect(loadState(d)).toEqual(state);
  });

  it.each([
    [
      'a wrong value',
      json({ ...state, tested: { '6.1': { ...tested, outcome: 'maybe' } } }),
      '10:18: /tested/6.1/outcome: must be one of: good, bad, skip, abort',
    ],
    [
      'a wrong type',
      json({ ...state, candidates: [{ id: 7, kernel: '6.12', subject: '' }] }),
      '26:13: /candidates/0/id: must be of type string',
    ],
    ['a missing field', json({ ...state, mode: undefined }), '1:1: /: missing required key "mode"'],
    ['an unknown key', json({ ...state, repaet: 2 }), '31:3: /: unknown key "repaet"'],
    ['a truncated file', json(state).slice(0, 200), '10:21: not JSON: Unterminated string in JSON at position 200'],
  ])('%s is one line with the JSON path', (_what, text, where) => {
    const d = tempDir();
    writeFileSync(join(d, 'bisect.json'), text);
    const msg = errorOf(() => loadState(d));
    expect(msg.startsWith(`${join(d, 'bisect.json')}:${where}`), msg).toBe(true);
    expect(msg).not.toContain('\n');
  });

  it('a damaged one given to bisect --resume exits 2 with one line, before anything runs', async () => {
    const d = tempDir();
    writeFileSync(join(d, 'bisect.json'), json({ ...state, tested: { '6.1': { ...tested, runDirs: 'r' } } }));
    const r = await execa('node', [join(PROJECT_ROOT, 'bin', 'kharness.js'), 'bisect', '--resume', d], {
      reject: false,
      env: { CI: 'true', NO_COLOR: '1', KHARNESS_CACHE: '/nonexistent/kharness-cache' },
      timeout: 60_000,
    });
    expect(r.stderr).toBe(`kharness: ${join(d, 'bisect.json')}:14:18: /tested/6.1/runDirs: must be of type array`);
    expect(r.exitCode).toBe(2);
  });
});
