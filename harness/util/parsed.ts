/**
 * Parsed documents kept between runs, as JSON under the cache root
 * (`documents/`): the data of a YAML document that passed its schema (the
 * catalog, the parity list), keyed on its text and the schema; and a parsed
 * scenario, keyed on its text, its path and the compiled code that parsed it.
 * Parsing YAML and checking it took about a tenth of a second of every start;
 * reading JSON takes a millisecond. A changed file, schema or program is a
 * new key, so a stale entry never answers; a document with an error is never
 * stored, so its error is always the parser's own file:line:column. A cache
 * that cannot be read or written only costs the parse.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { codeIdentity } from './code.ts';
import { hashParts } from './hash.ts';

const schemaKeys = new WeakMap<object, string>();
const memo = new Map<string, unknown>();

function schemaKey(schema: object): string {
  let k = schemaKeys.get(schema);
  if (!k) {
    k = hashParts([JSON.stringify(schema)]);
    schemaKeys.set(schema, k);
  }
  return k;
}

const MISSING = Symbol('missing');

/** The stored value of a key: this process's, else the file's, else MISSING. */
function lookup(root: string, key: string): unknown {
  if (memo.has(key)) return memo.get(key);
  try {
    const data = JSON.parse(readFileSync(join(root, 'documents', `${key}.json`), 'utf8')) as unknown;
    memo.set(key, data);
    return data;
  } catch {
    return MISSING;
  }
}

function store(root: string, key: string, data: unknown): void {
  memo.set(key, data);
  const path = join(root, 'documents', `${key}.json`);
  try {
    mkdirSync(join(root, 'documents'), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, path);
  } catch {
    // Not kept: the next run parses it again.
  }
}

/**
 * parse()'s JSON value, from the cache in `root` when the same key parts were
 * parsed before; parse() runs (and reads its input) only on a miss.
 */
export async function cachedParse<T>(root: string, parts: readonly string[], parse: () => T | Promise<T>): Promise<T> {
  const key = hashParts(parts);
  let data = lookup(root, key);
  if (data === MISSING) {
    data = await parse();
    store(root, key, data);
  }
  return structuredClone(data) as T;
}

/**
 * parseYamlDocument's result, from the cache when this text was checked
 * against this schema before. The parser (the YAML library and the schema
 * validators, most of the compiled code by size) is loaded only on a miss.
 */
export function cachedYamlDocument<T>(root: string, text: string, file: string, schema: object): Promise<T> {
  return cachedParse(root, ['yaml-document', schemaKey(schema), text], async () =>
    (await import('./document.ts')).parseYamlDocument<T>(text, file, schema),
  );
}

/** A value parsed from a file's text by the running code (a scenario): cached only when the code is identified. */
export function cachedCodeParseAsync<T>(root: string, kind: string, text: string, file: string, parse: () => Promise<T>): Promise<T> {
  const code = codeIdentity();
  if (!code) return parse();
  return cachedParse(root, [kind, code, file, text], parse);
}

/** Forgets what this process parsed (the files under the cache root stay): a test's next process. */
export function forgetParsed(): void {
  memo.clear();
}

/** Removes stored documents not written for longer than maxAgeMs (all, when negative); how many went. */
export async function pruneParsed(root: string, maxAgeMs: number, now = Date.now()): Promise<number> {
  const dir = join(root, 'documents');
  let n = 0;
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    const st = await stat(join(dir, f)).catch(() => undefined);
    if (!st || (maxAgeMs >= 0 && now - st.mtimeMs <= maxAgeMs)) continue;
    await rm(join(dir, f), { force: true });
    n++;
  }
  return n;
}
