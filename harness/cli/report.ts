import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { consoleReporter } from '../report/console.ts';
import { FILE_REPORTERS, parseReporters, writeReports } from '../report/reporters.ts';
import { exitCodeFor, parseResults } from '../run/results.ts';
import { useColor } from '../util/tty.ts';
import type { Command } from './main.ts';

export const reportCommand: Command = {
  summary: 're-render the reports of a finished run from its results.jsonl (boots nothing)',
  usage: 'kharness report RUN_DIR [--reporter default,json,junit,ktap] [--stdout]',
  options: { reporter: { type: 'string', multiple: true }, stdout: { type: 'boolean' }, 'no-color': { type: 'boolean' } },
  async run(v, positionals) {
    const dir = positionals[0];
    if (!dir || positionals.length > 1) throw new UsageError('give exactly one run directory');
    const text = await readFile(join(dir, 'results.jsonl'), 'utf8').catch(() => {
      throw new UsageError(`no results.jsonl in ${dir}`, 'Give the directory a `kharness run` wrote (its --out).');
    });
    const records = parseResults(text);
    const names = parseReporters((v.reporter as string[] | undefined) ?? []);
    if (v.stdout) {
      for (const n of names) if (n in FILE_REPORTERS) process.stdout.write(FILE_REPORTERS[n]!.render(records));
      return exitCodeFor(records);
    }
    if (names.includes('default')) {
      const rep = consoleReporter({ color: useColor({ flag: v['no-color'] ? false : undefined }), write: (s) => process.stdout.write(s) });
      records.forEach(rep);
    }
    for (const p of writeReports(names, records, dir)) process.stdout.write(`report: ${p}\n`);
    return exitCodeFor(records);
  },
};
