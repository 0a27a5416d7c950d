import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ChangeRule } from '../analysis/stats.ts';
import { UsageError } from '../errors.ts';
import { type Comparison, compareRuns } from '../regress/compare.ts';
import { renderComparisonHtml, renderComparisonJson, renderComparisonText } from '../report/regression.ts';
import type { ResultRecord } from '../results/records.ts';
import { compareFlags, parseRule } from './compare-flags.ts';
import type { Outcome } from './exit.ts';
import { readRun, resultsPath } from './runs.ts';

export { compareFlags, parseRule, parseThreshold } from './compare-flags.ts';

/** Compares, prints the text, writes compare.json and compare.html into `dir`; returns the comparison. */
export async function compareAndReport(
  base: ResultRecord[],
  next: ResultRecord[],
  names: { base: string; next: string },
  dir: string,
  o: { rule: Partial<ChangeRule>; acrossHosts: boolean; tcgAbsoluteTimes: boolean; json?: boolean },
): Promise<Comparison> {
  const c = compareRuns(base, next, { rule: o.rule, acrossHosts: o.acrossHosts, tcgAbsoluteTimes: o.tcgAbsoluteTimes });
  process.stdout.write(o.json ? renderComparisonJson(c, names) : renderComparisonText(c, names));
  await mkdir(dir, { recursive: true }); // --out names a directory that need not exist yet, as run's does
  await writeFile(join(dir, 'compare.json'), renderComparisonJson(c, names));
  await writeFile(join(dir, 'compare.html'), renderComparisonHtml(c, names));
  if (!o.json) process.stdout.write(`report: ${join(dir, 'compare.html')}\nreport: ${join(dir, 'compare.json')}\n`);
  return c;
}

export async function compareCommand(v: Record<string, unknown>, positionals: string[]): Promise<Outcome> {
  if (positionals.length !== 2) throw new UsageError('compare takes two runs: BASE NEW', 'kharness compare BASE_DIR NEW_DIR');
  const format = String(v.format ?? 'text');
  if (format !== 'text' && format !== 'json') throw new UsageError(`unknown --format "${format}"`, 'Use --format text or json.');
  const rule = parseRule(v);
  const [b, n] = positionals as [string, string];
  const [base, next] = [await readRun(b), await readRun(n)];
  const dir = resolve(v.out ? String(v.out) : dirname(await resultsPath(n)));
  const c = await compareAndReport(base, next, { base: b, next: n }, dir, {
    rule,
    ...compareFlags(v),
    json: format === 'json',
  });
  return c.regressed ? 'failed' : 'passed';
}
