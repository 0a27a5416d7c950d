/**
 * The probe's vocabulary (harness/probe/vocabulary.ts) against the module's
 * source (modules/kalloc_probe/kalloc_probe.c): every key the C code writes
 * with kp_put, every command in kp_cmds[] and the keys each accepts, and the
 * API and context names. A key on one side only fails here, not at run time
 * as "(not reported)".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MODULES_DIR, SCENARIOS_DIR } from '../../harness/paths.ts';
import { APIS, BY_WIRE, COMMANDS, CONTEXTS, ENVELOPE, FACTS, TIMING_PREFIXES, ZONE_NAMES } from '../../harness/probe/vocabulary.ts';

const C = readFileSync(join(MODULES_DIR, 'kalloc_probe', 'kalloc_probe.c'), 'utf8');

/** The format strings of every kp_put call (adjacent string literals joined). */
function putFormats(src: string): string[] {
  return [...src.matchAll(/kp_put\(\s*o\s*,\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g)].map((m) =>
    [...m[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]).join(''),
  );
}

/**
 * Wire keys the C writes. `%sNAME=` is a prefixed family (timing facts for
 * api and vs), `%s_start=` a zone-name family: both expand to the names the
 * vocabulary says they take.
 */
function wireKeysInC(): Set<string> {
  const keys = new Set<string>();
  for (const f of putFormats(C)) {
    for (const m of f.matchAll(/(?:^|\s)(%s)?([A-Za-z_][A-Za-z0-9_]*)=/g)) {
      const [, prefixed, name] = m;
      if (!prefixed) keys.add(name!);
      else if (name!.startsWith('_')) for (const z of ZONE_NAMES) keys.add(`${z}${name}`);
      else for (const p of TIMING_PREFIXES) keys.add(`${p}${name}`);
    }
  }
  return keys;
}

function commandsInC(): Map<string, string[]> {
  const table = /kp_cmds\[\]\s*=\s*\{([\s\S]*?)\};/.exec(C)![1]!;
  const out = new Map<string, string[]>();
  for (const [, name, fn] of table.matchAll(/\{\s*"(\w+)"\s*,\s*(\w+)\s*\}/g)) {
    const body =
      new RegExp(`static (?:int|void) ${fn}\\(struct kp_req \\*r, struct kp_out \\*o\\)\\s*\\{([\\s\\S]*?)\\n\\}`).exec(C)?.[1] ?? '';
    const keys = /keys\[\]\s*=\s*\{([^}]*)\}/.exec(body)?.[1] ?? '';
    out.set(
      name!,
      [...keys.matchAll(/"(\w+)"/g)].map((k) => k[1]!),
    );
  }
  return out;
}

function namesInC(array: string): string[] {
  const body = new RegExp(`${array}\\[\\]\\s*=\\s*\\{([^}]*)\\}`).exec(C)![1]!;
  return [...body.matchAll(/"(\w+)"/g)].map((m) => m[1]!);
}

describe('probe vocabulary against kalloc_probe.c', () => {
  it('knows every key the module writes, and the module writes every key it knows', () => {
    const inC = wireKeysInC();
    const inTable = new Set([...BY_WIRE.keys(), ...ENVELOPE]);
    expect([...inC].filter((k) => !inTable.has(k)).sort(), 'written by the module, missing from vocabulary.ts').toEqual([]);
    expect([...inTable].filter((k) => !inC.has(k)).sort(), 'in vocabulary.ts, never written by the module').toEqual([]);
  });

  it('has every command with exactly the keys the module accepts', () => {
    const inC = commandsInC();
    expect([...inC.keys()].sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [name, keys] of inC) expect(keys, `keys of ${name}`).toEqual([...COMMANDS[name]!.keys]);
  });

  it('names the APIs and contexts as the module does', () => {
    expect(namesInC('kp_api_names')).toEqual([...APIS]);
    expect(namesInC('kp_ctx_names')).toEqual([...CONTEXTS]);
  });

  it('reads enough of the C to mean something', () => {
    expect(wireKeysInC().size).toBeGreaterThan(60);
    expect(commandsInC().get('alloc')).toEqual(['api', 'size', 'order', 'gfp', 'ctx', 'hold', 'fill', 'inject']);
  });

  it('feeds the shipped schema: every fact can be named in an expectation', () => {
    const schema = JSON.parse(readFileSync(join(SCENARIOS_DIR, 'schema.json'), 'utf8'));
    const block = schema.definitions.expect.properties;
    for (const f of Object.keys(FACTS)) expect(block, f).toHaveProperty(f);
  });

  it('catches a key on one side only (the check itself can fail)', () => {
    const withTypo = C.replace('kp_put(o, " zeroed=%d"', 'kp_put(o, " zerod=%d"');
    const keys = new Set(putFormats(withTypo).flatMap((f) => [...f.matchAll(/(?:^|\s)([A-Za-z_]\w*)=/g)].map((m) => m[1]!)));
    expect(keys.has('zerod')).toBe(true);
    expect(BY_WIRE.has('zerod')).toBe(false);
  });
});
