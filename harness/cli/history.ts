import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { type HistoryRun, lifecycles, runLines, trends } from '../regress/history.ts';
import { renderHistoryHtml, renderHistoryText } from '../report/history.ts';
import type { ResultRecord } from '../results/records.ts';
import { positiveInt } from './args.ts';
import { compareFlags, parseRule } from './compare.ts';
import type { Outcome } from './exit.ts';
import { readRun } from './runs.ts';

/** A run's name in the history: its start time and the start of its id, so names sort by time. */
function runName(records: readonly ResultRecord[]): string {
  const b = records.find((r) => r.type === 'run-begin');
  if (b?.type !== 'run-begin') throw new UsageError('the run has no run-begin record');
  return `${b.at.replace(/[:.]/g, '-')}-${b.runId.slice(0, 8)}`;
}

/** Copies a finished run's results into the history directory; returns where. */
export async function keepInHistory(dir: string, records: readonly ResultRecord[]): Promise<string> {
  const d = join(dir, runName(records));
  await mkdir(d, { recursive: true });
  await writeFile(join(d, 'results.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return d;
}

/** Every run kept in a history directory, oldest first. */
export async function readHistory(dir: string): Promise<HistoryRun[]> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory())
    throw new UsageError(`no history directory ${dir}`, 'Give the directory `kharness run --history DIR` kept runs in.');
  const runs: HistoryRun[] = [];
  for (const e of (await readdir(dir, { withFileTypes: true }))
    .filter((x) => x.isDirectory())
    .map((x) => x.name)
    .sort()) {
    const file = join(dir, e, 'results.jsonl');
    if (!(await stat(file).catch(() => undefined))) continue;
    const records = await readRun(file);
    const b = records.find((r) => r.type === 'run-begin');
    runs.push({ id: e, at: b?.type === 'run-begin' ? b.at : '', records });
  }
  return runs.sort((a, b) => a.at.localeCompare(b.at) || a.id.localeCompare(b.id));
}

export async function historyCommand(v: Record<string, unknown>, positionals: string[]): Promise<Outcome> {
  if (positionals.length !== 1) throw new UsageError('history takes one directory', 'kharness history DIR');
  const dir = resolve(positionals[0]!);
  const format = String(v.format ?? 'text');
  if (format !== 'text' && format !== 'json') throw new UsageError(`unknown --format "${format}"`, 'Use --format text or json.');
  const rule = parseRule(v);
  const last = v.last === undefined ? 30 : positiveInt(v.last, '--last');
  if (v.add) {
    const added = await keepInHistory(dir, await readRun(String(v.add)));
    if (format === 'text') process.stdout.write(`kept in history: ${added}\n`);
  }
  const runs = (await readHistory(dir)).slice(-last);
  if (!runs.length)
    throw new UsageError(`no runs in ${dir}`, 'Keep runs there with `kharness run --history DIR` or `kharness history DIR --add RUN_DIR`.');
  const o = { rule, ...compareFlags(v) };
  const view = { runs: runLines(runs), regressions: lifecycles(runs, o), trends: trends(runs) };
  process.stdout.write(
    format === 'json' ? `${JSON.stringify({ ...view, trends: Object.fromEntries(view.trends) }, null, 2)}\n` : renderHistoryText(view),
  );
  if (v.html) {
    await writeFile(String(v.html), renderHistoryHtml(view));
    if (format === 'text') process.stdout.write(`report: ${resolve(String(v.html))}\n`);
  }
  return 'done';
}
