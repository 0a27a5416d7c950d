/** Reading a finished run for the commands that replay or compare runs. */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { parseResults, type ResultRecord, ResultsFormatError } from '../results/records.ts';

/** The results file of a run directory, or the file itself. */
export async function resultsPath(p: string): Promise<string> {
  const st = await stat(p).catch(() => undefined);
  if (!st) throw new UsageError(`no such run: ${p}`, 'Give a directory that `kharness run` wrote (its --out), or its results.jsonl.');
  return st.isDirectory() ? join(p, 'results.jsonl') : p;
}

/** A run's records, from its directory or its results.jsonl; a damaged file is a usage error naming the line. */
export async function readRun(p: string): Promise<ResultRecord[]> {
  const file = await resultsPath(p);
  const text = await readFile(file, 'utf8').catch(() => {
    throw new UsageError(`no results.jsonl in ${p}`, 'Give a directory that `kharness run` wrote (its --out).');
  });
  try {
    const records = parseResults(text);
    if (!records.some((r) => r.type === 'run-begin' || r.type === 'target-begin'))
      throw new UsageError(`${file} is not a kharness run (it has no run or target records)`, 'Give the results of `kharness run`.');
    return records;
  } catch (e) {
    if (!(e instanceof ResultsFormatError)) throw e;
    throw new UsageError(`${file}: ${e.message}`, 'The file is damaged; re-run, or give the directory of another run.');
  }
}
