/** A history of runs as text and as an HTML page with each claim metric's trend. Pure. */
import type { Regression, RunLine, TrendPoint } from '../regress/history.ts';
import { countsLine } from '../results/view.ts';
import { esc, htmlTable, page } from './htmlkit.ts';
import { printable } from './printable.ts';
import { trendChart } from './svg.ts';

export interface HistoryView {
  runs: RunLine[];
  regressions: Regression[];
  trends: Map<string, TrendPoint[]>;
}

const WORDS: Record<Regression['lifecycle'], string> = { new: 'new', persists: 'persists since', fixed: 'fixed in' };

export function renderHistoryText(v: HistoryView): string {
  const out = [`${v.runs.length} run(s), oldest first:`];
  for (const [i, r] of v.runs.entries())
    out.push(`  ${String(i + 1).padStart(3)}  ${r.id}  ${r.outcome.padEnd(10)} ${r.targets.join(', ')}  (${countsLine(r.counts)})`);
  if (v.runs.length < 2) out.push('', 'one run: nothing to compare yet.');
  else if (!v.regressions.length) out.push('', 'the newest run has no regression against the runs before it, and fixed none.');
  else {
    const newest = v.runs[v.runs.length - 1]!.id;
    out.push('', `regressions of the newest run (${newest}):`);
    for (const l of ['new', 'persists', 'fixed'] as const)
      for (const r of v.regressions.filter((x) => x.lifecycle === l))
        out.push(`  ${l === 'new' ? 'new' : `${WORDS[l]} ${r.since}`}: ${r.kind} ${printable(r.what)} — ${printable(r.detail)}`);
  }
  return `${out.join('\n')}\n`;
}

export function renderHistoryHtml(v: HistoryView): string {
  const unit = (k: string) => (/_ns/.test(k) ? 'ns' : /usec/.test(k) ? 'µs' : /_ms$/.test(k) ? 'ms' : '');
  const charts = [...v.trends].map(([k, pts]) => `<figure class="trend" data-metric="${esc(k)}">${trendChart(k, unit(k), pts)}</figure>`);
  const regressions = v.regressions.length
    ? htmlTable(
        'regressions',
        ['lifecycle', 'since', 'what', 'detail'],
        v.regressions.map((r) => ({ cls: r.lifecycle, cells: [r.lifecycle, r.since, `${r.kind} ${r.what}`, r.detail] })),
      )
    : '<p>none</p>';
  const runs = htmlTable(
    'runs',
    ['#', 'run', 'outcome', 'targets', 'steps'],
    v.runs.map((r, i) => ({ cells: [i + 1, r.id, r.outcome, r.targets.join(', '), countsLine(r.counts)] })),
  );
  return page(
    'kharness history',
    '.new{background:#fbe0e0}.persists{background:#fff1b8}.fixed{background:#e3f6e3}',
    [
      '<h1>kharness history</h1>',
      '<h2>Regressions of the newest run</h2>',
      regressions,
      '<h2>Runs</h2>',
      runs,
      '<h2>Trends</h2>',
      "<p>Each claim metric's median per run (the bar: its range over the run's repeats), oldest first.</p>",
      charts.join('\n') || '<p>no metrics</p>',
    ].join('\n'),
  );
}
