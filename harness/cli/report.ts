import { existsSync } from 'node:fs';
import { cp, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { claimsTable } from '../report/claims.ts';
import { consoleReporter } from '../report/console.ts';
import { FILE_REPORTERS, parseReporters, writeReports } from '../report/reporters.ts';
import { claimsSummary, renderSummaryText } from '../report/summary.ts';
import { runOutcome } from '../results/outcome.ts';
import type { ResultRecord } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';
import { inPlanOrder } from '../results/view.ts';
import { mergeRuns } from '../run/merge.ts';
import type { Target } from '../run/plan.ts';
import { useColor } from '../util/tty.ts';
import type { Outcome } from './exit.ts';
import { readRun } from './runs.ts';

/** A run without its end record was killed: its reports must not read as a pass. */
function warnIfIncomplete(records: ResultRecord[]): void {
  if (runOutcome(records) === 'incomplete') {
    process.stderr.write('kharness: this run has no end record (the harness was killed): its results are incomplete.\n');
  }
}

/**
 * `report merge OUT DIR...`: shard results joined into OUT, with each kept
 * target's directory (console and kernel logs) copied beside. A target in
 * several runs (a re-run CI job) is kept from the latest, and said so.
 */
async function merge(positionals: string[], expect: string | undefined): Promise<{ dir: string; records: ResultRecord[] }> {
  const [out, ...dirs] = positionals;
  if (!out || !dirs.length)
    throw new UsageError('report merge needs an output directory and at least one run directory', 'kharness report merge OUT RUN_DIR...');
  if (dirs.some((d) => resolve(d) === resolve(out)))
    throw new UsageError(`report merge: the output ${out} is also an input`, 'Merge into a new directory.');
  const runs = await Promise.all(dirs.map(async (d) => ({ name: d, records: await readRun(d) })));
  await mkdir(out, { recursive: true });
  const merged = mergeRuns(runs, resolve(out), parseExpected(expect));
  for (const n of merged.notes) process.stderr.write(`kharness: report merge: ${n}\n`);
  for (const c of merged.copies) {
    const src = join(dirs[c.run]!, c.from);
    if (existsSync(src)) await cp(src, join(out, c.to), { recursive: true });
  }
  await writeFile(join(out, 'results.jsonl'), `${merged.records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return { dir: out, records: merged.records };
}

/** `--expect x86_64/6.1,arm64/6.1` (what `kharness matrix` prints, one per line, also works). */
function parseExpected(s: string | undefined): Target[] {
  return (s ?? '')
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((t) => {
      const i = t.indexOf('/');
      if (i <= 0 || i === t.length - 1)
        throw new UsageError(`bad --expect target "${t}"`, 'Give ARCH/KERNEL targets, e.g. --expect x86_64/6.1,arm64/6.1.');
      return { arch: t.slice(0, i), kernel: t.slice(i + 1) };
    });
}

export async function reportCommand(v: Record<string, unknown>, positionals: string[]): Promise<Outcome> {
  let dir: string;
  let records: ResultRecord[];
  if (positionals[0] === 'merge') {
    ({ dir, records } = await merge(positionals.slice(1), v.expect === undefined ? undefined : String(v.expect)));
  } else {
    if (v.expect !== undefined) throw new UsageError('--expect belongs to report merge');
    if (positionals.length !== 1) throw new UsageError('give exactly one run directory');
    dir = positionals[0]!;
    records = await readRun(dir);
  }
  const names = parseReporters((v.reporter as string[] | undefined) ?? []);
  warnIfIncomplete(records);
  if (v.stdout) {
    for (const n of names) if (n in FILE_REPORTERS) process.stdout.write(FILE_REPORTERS[n]!.render(foldRepeats(records)));
    return runOutcome(records);
  }
  if (names.includes('default')) {
    // A finished run is known whole: its summary can come first, before the step lines.
    if (claimsTable(records).rows.some((r) => r.overall !== 'untested'))
      process.stdout.write(`${renderSummaryText(claimsSummary(records))}\n`);
    const rep = consoleReporter({ color: useColor({ flag: v['no-color'] ? false : undefined }), write: (s) => process.stdout.write(s) });
    // Known whole: each target's lines together, targets in plan order.
    inPlanOrder(records).forEach(rep);
  }
  for (const p of writeReports(names, records, dir)) process.stdout.write(`report: ${p}\n`);
  return runOutcome(records);
}
