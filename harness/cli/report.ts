import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { claimsTable } from '../report/claims.ts';
import { consoleReporter } from '../report/console.ts';
import { FILE_REPORTERS, parseReporters, writeReports } from '../report/reporters.ts';
import { claimsSummary, renderSummaryText } from '../report/summary.ts';
import { mergeResults } from '../run/merge.ts';
import { foldRepeats } from '../run/repeats.ts';
import { type ResultRecord, runOutcome } from '../run/results.ts';
import { useColor } from '../util/tty.ts';
import type { Command } from './command.ts';
import { readRun } from './runs.ts';

/** A run without its end record was killed: its reports must not read as a pass. */
function warnIfIncomplete(records: ResultRecord[]): void {
  if (runOutcome(records) === 'incomplete') {
    process.stderr.write('kharness: this run has no end record (the harness was killed): its results are incomplete.\n');
  }
}

/** `report merge OUT DIR...`: shard results joined into OUT, with every run's artifacts copied beside. */
async function merge(positionals: string[]): Promise<{ dir: string; records: ResultRecord[] }> {
  const [out, ...dirs] = positionals;
  if (!out || !dirs.length)
    throw new UsageError('report merge needs an output directory and at least one run directory', 'kharness report merge OUT RUN_DIR...');
  const runs = await Promise.all(dirs.map(readRun));
  await mkdir(out, { recursive: true });
  for (const d of dirs) {
    for (const e of await readdir(d, { withFileTypes: true }))
      if (e.isDirectory()) await cp(join(d, e.name), join(out, e.name), { recursive: true });
  }
  const records = mergeResults(runs, resolve(out));
  await writeFile(join(out, 'results.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return { dir: out, records };
}

export const reportCommand: Command = {
  summary: 're-render the reports of a finished run (boots nothing); `report merge OUT DIR...` joins shard results',
  usage:
    'kharness report RUN_DIR [--reporter default,html,json,junit,ktap,markdown] [--stdout]\n       kharness report merge OUT_DIR RUN_DIR... [--reporter ...]',
  options: { reporter: { type: 'string', multiple: true }, stdout: { type: 'boolean' }, 'no-color': { type: 'boolean' } },
  async run(v, positionals) {
    let dir: string;
    let records: ResultRecord[];
    if (positionals[0] === 'merge') {
      ({ dir, records } = await merge(positionals.slice(1)));
    } else {
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
      records.forEach(rep);
    }
    for (const p of writeReports(names, records, dir)) process.stdout.write(`report: ${p}\n`);
    return runOutcome(records);
  },
};
