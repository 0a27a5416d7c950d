import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';

/**
 * The pure core (scenario/, analysis/, probe/protocol.ts) must not reach an
 * effect: no node:fs, child_process, net, no guest/kernel/module code.
 * scenario/load.ts is the one file allowed to read a file, in one function.
 */
const PURE = ['harness/scenario', 'harness/analysis', 'harness/probe/protocol.ts'];
const ALLOWED_EFFECTS: Record<string, string[]> = { 'harness/scenario/load.ts': ['node:fs/promises'] };
const FORBIDDEN = [/^node:(fs|child_process|net|os)/, /^(execa|ssh2|tmp-promise)$/, /\/(guest|kernel|module|run|cli)\//, /probe\/client/];

function files(p: string): string[] {
  const full = join(PROJECT_ROOT, p);
  if (full.endsWith('.ts')) return [p];
  return readdirSync(full).filter((f) => f.endsWith('.ts')).map((f) => `${p}/${f}`);
}

function imports(file: string): string[] {
  const src = readFileSync(join(PROJECT_ROOT, file), 'utf8');
  return [...src.matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

describe('dependency boundaries', () => {
  it('keeps the pure core free of effects', () => {
    for (const f of PURE.flatMap(files)) {
      for (const i of imports(f)) {
        if (ALLOWED_EFFECTS[f]?.includes(i)) continue;
        const target = i.startsWith('.') ? resolve(dirname(join(PROJECT_ROOT, f)), i).slice(PROJECT_ROOT.length) : i;
        for (const re of FORBIDDEN) expect(re.test(target), `${f} imports ${i}`).toBe(false);
      }
    }
  });
});
