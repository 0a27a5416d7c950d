/**
 * A scenario file read from disk: its limits checked before it is read, then
 * parsed (scenario/load.ts) or, when this text at this path was parsed by
 * the same compiled code before, read back parsed (util/parsed.ts). The
 * parser, the YAML library and the schema validators are loaded only when a
 * file is parsed: a cached run never loads them.
 */
import { readFile, stat } from 'node:fs/promises';
import { ScenarioError } from '../errors.ts';
import { cachedCodeParseAsync } from '../util/parsed.ts';
import type { Scenario } from './types.ts';

/** Limits that keep a hostile or mistaken file from exhausting the harness; each is stated in its error. */
export const LOAD_LIMITS = { bytes: 1024 * 1024, aliases: 100, depth: 32, steps: 1000 } as const;

const unreadable = (file: string, e: unknown) =>
  new ScenarioError(file, 1, 1, `cannot read the file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);

/** The scenario in a file; with a cache root, parsed once per text, path and compiled code. */
export async function loadScenarioFile(file: string, cache?: string): Promise<Scenario> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(file);
  } catch (e) {
    throw unreadable(file, e);
  }
  // A FIFO or a device would block or never end: only regular files are read.
  if (!st.isFile()) throw new ScenarioError(file, 1, 1, 'not a regular file');
  if (st.size > LOAD_LIMITS.bytes)
    throw new ScenarioError(file, 1, 1, `the file has ${st.size} bytes; a scenario may have at most ${LOAD_LIMITS.bytes}`);
  let src: string;
  try {
    src = await readFile(file, 'utf8');
  } catch (e) {
    throw unreadable(file, e);
  }
  const parse = async () => (await import('./load.ts')).parseScenario(src, file);
  // Keyed on the working directory too: a relative path resolves against it.
  return cache ? cachedCodeParseAsync(cache, `scenario ${process.cwd()}`, src, file, parse) : parse();
}
