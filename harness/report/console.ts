/** The terminal reporter: a line per step as results arrive, then a summary. */

import { factDirection } from '../regress/metrics.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';
import { isFailed } from '../results/status.ts';
import { claimsTable } from './claims.ts';
import { compareTargets, renderCompareText } from './compare.ts';
import { formatFailure, printable, where } from './failure.ts';
import { claimsSummary, distributionText, renderSummaryText, runsText } from './summary.ts';

export interface ConsoleReporterOptions {
  color: boolean;
  write: (s: string) => void;
}

const paint = (on: boolean, code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** Kernel and user text, made safe for a terminal. */
const p = printable;

/** Multi-line detail (a console tail) indented under its line. */
function quoted(text: string): string {
  return text
    .split('\n')
    .map((l) => `    | ${printable(l)}`)
    .join('\n');
}

export function consoleReporter(o: ConsoleReporterOptions): (r: ResultRecord) => void {
  const green = paint(o.color, 32);
  const red = paint(o.color, 31);
  const yellow = paint(o.color, 33);
  const dim = paint(o.color, 2);
  const failed: StepRecord[] = [];
  const seen: ResultRecord[] = [];
  let scenario = '';
  let target = '';
  const mark: Record<StepRecord['status'], string> = {
    pass: green('✓'),
    'expected-crash': green('✓'),
    'expected-fail': green('✓'),
    fail: red('✗'),
    'unexpected-pass': red('✗'),
    error: red('!'),
    skip: yellow('-'),
    flaky: yellow('~'),
  };
  let repeats = 1;
  const stepLine = (r: StepRecord) => {
    // Targets may run concurrently: name the target again whenever it changes.
    const t = `${r.target.arch}/${r.target.kernel}`;
    if (t !== target) {
      target = t;
      scenario = '';
      o.write(`\n${t}${r.target.release ? dim(`  ${r.target.release}`) : ''}\n`);
    }
    if (r.scenario !== scenario) {
      scenario = r.scenario;
      o.write(`  ${r.scenario}${r.claims.length ? dim(`  [${r.claims.map((c) => c.id).join(', ')}]`) : ''}\n`);
    }
    const extra =
      r.status === 'expected-crash'
        ? ' (expected crash)'
        : r.status === 'expected-fail'
          ? dim(' (expected failure)')
          : r.reason && !isFailed(r.status) && r.status !== 'flaky'
            ? dim(` — ${p(r.reason)}`)
            : '';
    const runs = runsText(r);
    o.write(
      `    ${mark[r.status]} ${p(r.name)}${extra} ${dim(`${r.ms} ms`)}${runs ? ` ${r.status === 'flaky' ? yellow(runs) : dim(runs)}` : ''}\n`,
    );
    for (const f of r.failures) {
      const at = where(f) ? `${dim(p(where(f)))} ` : '';
      o.write(`        ${at}${f.what}: expected ${p(f.expected)}, observed ${red(p(f.observed))}\n`);
    }
    // Metrics over repeated runs: their distributions.
    for (const [k, d] of Object.entries(r.stats ?? {}))
      if (d.n > 1 && factDirection(r, k)) o.write(dim(`        ${k}: ${distributionText(d)}\n`));
    if (isFailed(r.status) || r.status === 'error' || r.status === 'flaky') failed.push(r);
  };
  return (r) => {
    seen.push(r);
    switch (r.type) {
      case 'target-begin':
        break;
      case 'run-begin':
        repeats = r.repeat ?? 1;
        break;
      case 'step': {
        // Repeated runs: a line now only for a run that did not go as expected; every step, folded, at the end.
        if (repeats > 1) {
          if (isFailed(r.status) || r.status === 'error')
            o.write(
              `  ${red(r.status)} ${r.target.arch}/${r.target.kernel} › ${r.scenario} › ${p(r.name)} ${dim(`(run ${r.repeat ?? 1}/${repeats})`)}\n`,
            );
          break;
        }
        stepLine(r);
        break;
      }
      case 'target-end':
        if (r.status !== 'ok' && r.error) {
          o.write(red(`  ${r.status}: ${p(r.error.message)}\n`));
          if (r.error.details) o.write(`${dim(quoted(r.error.details))}\n`);
          if (r.error.hint) o.write(`  ${r.error.hint}\n`);
        }
        break;
      case 'run-end': {
        const folded = foldRepeats(seen);
        if (repeats > 1) {
          target = '';
          for (const x of folded) if (x.type === 'step') stepLine(x);
        }
        const c = r.counts;
        const parts = [
          c.pass && green(`${c.pass} passed`),
          c['expected-crash'] && green(`${c['expected-crash']} expected crashes`),
          c['expected-fail'] && green(`${c['expected-fail']} expected failures`),
          c.fail && red(`${c.fail} failed`),
          c['unexpected-pass'] && red(`${c['unexpected-pass']} passed unexpectedly`),
          c.flaky && yellow(`${c.flaky} flaky`),
          c.error && red(`${c.error} errors`),
          c.skip && yellow(`${c.skip} skipped`),
        ].filter(Boolean);
        const table = claimsTable(folded);
        // The summary first: how the claims came out, where they differ and why; then each claim in words.
        if (table.rows.some((row) => row.overall !== 'untested')) {
          o.write(`\n${renderSummaryText(claimsSummary(folded, table))}`);
          o.write(
            `\nThe article's claims\n${renderClaimsText({ ...table, rows: table.rows.filter((row) => row.overall !== 'untested') })}`,
          );
        }
        const diff = renderCompareText(compareTargets(folded));
        if (diff) o.write(`\nWhat differs between targets\n${diff}`);
        o.write(`\n${parts.join(', ') || 'no steps ran'} in ${(r.ms / 1000).toFixed(1)} s\n`);
        for (const f of failed) {
          o.write(`\n${red(f.status.toUpperCase())} ${f.target.arch}/${f.target.kernel} › ${f.scenario} › ${p(f.name)}\n`);
          if (f.request) o.write(dim(`  request: ${f.request}\n`));
          if (f.reason) o.write(`  ${p(f.reason)}\n`);
          if (f.details) o.write(`${dim(quoted(f.details))}\n`);
          for (const x of f.failures) o.write(`  ${p(formatFailure(x))}\n`);
          for (const s of f.splats.slice(0, 3)) o.write(dim(`  ${s.lines.slice(0, 6).map(p).join('\n  ')}\n`));
          // A kernel test case's own evidence: its EXPECTATION FAILED lines, its summary line.
          if (f.kernelTest?.case) for (const l of f.dmesg.slice(0, 8)) o.write(dim(`  ${p(l)}\n`));
        }
        break;
      }
    }
  };
}

/** The claims as text, one block per claim: what each target did, in words. */
export function renderClaimsText(table: ReturnType<typeof claimsTable>): string {
  const width = Math.max(0, ...table.targets.map((t) => t.length));
  return table.rows
    .map((r) => [`${r.id}`, ...table.targets.map((t) => `  ${t.padEnd(width)}  ${printable(r.cells[t]!.says)}`)].join('\n'))
    .join('\n')
    .concat('\n');
}
