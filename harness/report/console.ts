/** The terminal reporter: a line per step as results arrive, then a summary. */

import { factDirection } from '../regress/metrics.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { isFailed } from '../results/status.ts';
import { countsLine, failureLine, resultsView, targetLabel } from '../results/view.ts';
import { claimsTable } from './claims.ts';
import { compareTargets, renderCompareText } from './compare.ts';
import { printable } from './printable.ts';
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
  /** Each status's colour: green went as expected, red failed, yellow neither. */
  const tone: Record<StepRecord['status'], (s: string) => string> = {
    pass: green,
    'expected-crash': green,
    'expected-fail': green,
    fail: red,
    'unexpected-pass': red,
    error: red,
    skip: yellow,
    flaky: yellow,
  };
  let repeats = 1;
  const stepLine = (r: StepRecord) => {
    // Targets may run concurrently: name the target again whenever it changes.
    const t = `${targetLabel(r.target)}`;
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
    for (const f of r.failures) o.write(`        ${failureLine(f, { style: { text: p, at: dim, observed: red } })}\n`);
    // Metrics over repeated runs: their distributions.
    for (const [k, d] of Object.entries(r.stats ?? {}))
      if (d.n > 1 && factDirection(r, k)) o.write(dim(`        ${k}: ${distributionText(d)}\n`));
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
              `  ${red(r.status)} ${targetLabel(r.target)} › ${r.scenario} › ${p(r.name)} ${dim(`(run ${r.repeat ?? 1}/${repeats})`)}\n`,
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
        const view = resultsView(seen);
        const folded = view.records;
        if (repeats > 1) {
          target = '';
          for (const x of view.steps) stepLine(x);
        }
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
        o.write(
          `\n${countsLine(r.counts, { zeros: false, paint: (s, t) => tone[s](t) }) || 'no steps ran'} in ${(r.ms / 1000).toFixed(1)} s\n`,
        );
        // The failures, target by target in plan order (targets may have finished in any order).
        for (const f of view.steps.filter((s) => isFailed(s.status) || s.status === 'error' || s.status === 'flaky')) {
          o.write(`\n${red(f.status.toUpperCase())} ${targetLabel(f.target)} › ${f.scenario} › ${p(f.name)}\n`);
          if (f.request) o.write(dim(`  request: ${f.request}\n`));
          if (f.reason) o.write(`  ${p(f.reason)}\n`);
          if (f.details) o.write(`${dim(quoted(f.details))}\n`);
          for (const x of f.failures) o.write(`  ${failureLine(x, { style: { text: p } })}\n`);
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
