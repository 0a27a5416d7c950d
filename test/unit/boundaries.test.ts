import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';

/**
 * What each part of harness/ may import, in the spirit of Playwright's
 * DEPS.list. The floors, top to bottom:
 *   cli → bisect, report → regress → run → results, guest, kernel, module → scenario → inject, ktest,
 *   probe → apt → analysis, arch, cache, util → errors, paths.
 * A new import that runs back up (or a new folder) fails here until the table
 * says it may.
 */
const DEPS: Record<string, string[]> = {
  errors: [],
  paths: [],
  util: ['errors'],
  analysis: [],
  arch: ['errors'],
  cache: ['errors'],
  apt: ['cache', 'errors', 'paths', 'util'],
  probe: ['errors', 'util'],
  /** Allocation fault injection: capabilities, knobs and plans as data. */
  inject: ['analysis', 'probe'],
  ktest: ['analysis'],
  scenario: ['analysis', 'errors', 'inject', 'ktest', 'probe', 'util'],
  kernel: ['analysis', 'apt', 'arch', 'cache', 'errors', 'paths', 'util'],
  module: ['arch', 'cache', 'errors', 'kernel', 'paths', 'util'],
  guest: ['apt', 'arch', 'cache', 'errors', 'paths', 'util'],
  /** The results stream's records and what they mean (statuses, repeats, outcome, the one view of a run): what every reader reads. */
  results: ['analysis', 'probe', 'scenario'],
  run: ['analysis', 'arch', 'errors', 'guest', 'inject', 'kernel', 'ktest', 'module', 'paths', 'probe', 'results', 'scenario', 'util'],
  regress: ['analysis', 'ktest', 'probe', 'results'],
  report: ['analysis', 'errors', 'probe', 'regress', 'results', 'scenario', 'util'],
  bisect: ['analysis', 'errors', 'regress', 'results', 'run', 'scenario', 'util'],
  cli: [
    'analysis',
    'arch',
    'bisect',
    'cache',
    'errors',
    'guest',
    'inject',
    'kernel',
    'ktest',
    'module',
    'paths',
    'probe',
    'regress',
    'report',
    'results',
    'run',
    'scenario',
    'util',
  ],
};

/** The pure core: no processes, files, network or clocks of its own. */
const PURE = [
  'analysis',
  'inject',
  'ktest',
  'regress',
  'scenario',
  'probe/protocol.ts',
  'probe/vocabulary.ts',
  'run/plan.ts',
  'run/merge.ts',
  'results/records.ts',
  'results/status.ts',
  'results/repeats.ts',
  'results/outcome.ts',
  'results/view.ts',
];
const ALLOWED_EFFECTS: Record<string, string[]> = { 'scenario/file.ts': ['node:fs/promises'] };
const EFFECTS = /^(node:(fs|fs\/promises|child_process|net|os)|execa|ssh2)$/;

const HARNESS = join(PROJECT_ROOT, 'harness');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return f.endsWith('.ts') ? [relative(HARNESS, p)] : [];
  });
}

function imports(file: string): string[] {
  const src = readFileSync(join(HARNESS, file), 'utf8');
  return [...src.matchAll(/^(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** "run/target.ts" → "run"; "errors.ts" → "errors". */
const unit = (file: string) => (file.includes('/') ? file.split('/')[0]! : file.replace(/\.ts$/, ''));

const edges = tsFiles(HARNESS).flatMap((f) =>
  imports(f)
    .filter((i) => i.startsWith('.'))
    .map((i) => ({ from: f, to: relative(HARNESS, resolve(dirname(join(HARNESS, f)), i)), spec: i })),
);

/** The import circles among these edges: each strongly connected set of two or more files (Tarjan), sorted. */
function circles(es: readonly { from: string; to: string }[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of es) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of next.get(v) ?? []) {
      if (!index.has(w)) visit(w);
      if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, low.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const set = stack.splice(stack.indexOf(v));
    if (set.length > 1) found.push(set.sort());
  };
  for (const v of next.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('dependency table', () => {
  it('covers every folder and file of harness/', () => {
    expect([...new Set(tsFiles(HARNESS).map(unit))].sort()).toEqual(Object.keys(DEPS).sort());
  });

  it('has no import that the table does not allow', () => {
    const bad = edges.filter((e) => unit(e.from) !== unit(e.to) && !DEPS[unit(e.from)]!.includes(unit(e.to)));
    expect(bad.map((e) => `${e.from} imports ${e.spec}`)).toEqual([]);
  });

  it('is itself a stack: no two parts import each other, directly or around a circle', () => {
    const seen = new Set<string>();
    const visit = (u: string, path: string[]): void => {
      expect(path, `circle: ${[...path, u].join(' → ')}`).not.toContain(u);
      if (seen.has(u)) return;
      for (const d of DEPS[u]!) visit(d, [...path, u]);
      seen.add(u);
    };
    for (const u of Object.keys(DEPS)) visit(u, []);
  });

  it('has no import circle between files of one folder', () => {
    expect(circles(edges.filter((e) => unit(e.from) === unit(e.to)))).toEqual([]);
  });

  it('finds a circle when there is one', () => {
    const e = (from: string, to: string) => ({ from, to });
    expect(circles([e('a', 'b'), e('b', 'c'), e('c', 'a'), e('c', 'd'), e('d', 'e'), e('e', 'd'), e('f', 'a')])).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('keeps the pure core free of effects', () => {
    const pure = tsFiles(HARNESS).filter((f) => PURE.some((p) => f === p || f.startsWith(`${p}/`)));
    expect(pure.length).toBeGreaterThan(10);
    const bad = pure.flatMap((f) =>
      imports(f)
        .filter((i) => EFFECTS.test(i) && !ALLOWED_EFFECTS[f]?.includes(i))
        .map((i) => `${f} imports ${i}`),
    );
    expect(bad).toEqual([]);
  });
});
