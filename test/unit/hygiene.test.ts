import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';

/** The formatter wraps code at 140 columns but leaves long strings alone: this keeps them readable too. */
const MAX = 160;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'fixtures' || f === 'node_modules') return [];
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|mts|js)$/.test(f) ? [p] : [];
  });
}

describe('source hygiene', () => {
  it(`has no line longer than ${MAX} characters`, () => {
    const files = ['harness', 'test', 'bench', 'bin'].flatMap((d) => sources(join(PROJECT_ROOT, d)));
    expect(files.length).toBeGreaterThan(60);
    const long = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((l, i) => (l.length > MAX ? [`${relative(PROJECT_ROOT, f)}:${i + 1} (${l.length})`] : [])),
    );
    expect(long).toEqual([]);
  });
});
