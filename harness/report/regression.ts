/**
 * A comparison of two runs (regress/compare.ts) as text, JSON and an HTML
 * page: what regressed first (new failures, newly flaky steps, metrics worse
 * by the rule), then what improved, then the axes that differ. Pure.
 */
import { formatChange, PASS_RATE_ALPHA } from '../analysis/stats.ts';
import type { Comparison, MetricComparison, StepComparison } from '../regress/compare.ts';
import { esc, htmlTable, page } from './htmlkit.ts';
import { printable } from './printable.ts';
import { distributionText } from './summary.ts';
import { stripChart } from './svg.ts';

const STEP_WORDS: Record<StepComparison['change'], string> = {
  'new-failure': 'new failure',
  'newly-flaky': 'newly flaky',
  fixed: 'fixed',
  'no-longer-flaky': 'no longer flaky',
  'still-failing': 'still failing',
  'still-flaky': 'still flaky',
  error: 'could not be compared (error)',
  added: 'only in the new run',
  removed: 'only in the base run',
  same: 'same',
};

/** The order sections appear in: what a developer must act on first. */
const STEP_ORDER: StepComparison['change'][] = [
  'new-failure',
  'newly-flaky',
  'still-failing',
  'still-flaky',
  'error',
  'fixed',
  'no-longer-flaky',
  'added',
  'removed',
];

const METRIC_ORDER: MetricComparison['verdict'][] = ['regressed', 'improved', 'not-compared', 'undecided'];

/** The rule the metrics were judged by, in words. */
export function ruleText(c: Pick<Comparison, 'rule'>): string {
  const pct = `${+(c.rule.minChange * 100).toFixed(2)}%`;
  return (
    `a metric changed when both sides have at least ${c.rule.minSamples} samples, its median moved at least ${pct}, ` +
    "and the two ranges do not overlap (lkp-tests' rule); a step newly flaky over at least " +
    `${c.rule.minSamples} runs a side regressed when Fisher's exact test puts its pass-rate change below p=${PASS_RATE_ALPHA}`
  );
}

function metricLine(m: MetricComparison): string {
  return (
    `${m.pair} › ${m.name} (${m.better} is better): ${formatChange(m.delta)} — ` +
    `base ${distributionText(m.base)} → new ${distributionText(m.next)} ${m.unit}; ${m.reason}`
  );
}

export function renderComparisonText(c: Comparison, names: { base: string; next: string }): string {
  const out: string[] = [`compare ${names.base} → ${names.next}`];
  for (const p of c.pairs) out.push(`  ${p.label}`);
  for (const t of c.onlyBase) out.push(`  only in base: ${t.arch}/${t.kernel}`);
  for (const t of c.onlyNext) out.push(`  only in new: ${t.arch}/${t.kernel}`);
  out.push(`rule: ${ruleText(c)}`);
  if (c.axes.length) {
    out.push('', 'What differs besides the steps:');
    for (const a of c.axes) out.push(`  ${a.name}: ${a.base} → ${a.next}${a.blocking ? '  (metrics not judged across this)' : ''}`);
  }
  for (const kind of STEP_ORDER) {
    const ss = c.steps.filter((s) => s.change === kind);
    if (!ss.length) continue;
    out.push('', `${STEP_WORDS[kind]} (${ss.length}):`);
    for (const s of ss)
      out.push(
        `  ${s.pair} › ${s.scenario} › ${printable(s.step)}: ${s.base ?? '-'} (${s.baseRuns ?? '-'}) → ${s.next ?? '-'} (${s.nextRuns ?? '-'})` +
          `${passRateText(s)}${s.why ? ` — ${printable(s.why)}` : ''}`,
      );
  }
  for (const v of METRIC_ORDER) {
    const ms = c.metrics.filter((m) => m.verdict === v);
    if (!ms.length) continue;
    out.push('', `metrics ${v} (${ms.length}):`);
    for (const m of ms) out.push(`  ${metricLine(m)}`);
  }
  const unchanged = c.metrics.filter((m) => m.verdict === 'unchanged').length;
  const sameSteps = c.steps.filter((s) => s.change === 'same').length;
  out.push('', `${sameSteps} steps the same, ${unchanged} metrics unchanged.`);
  out.push(c.regressed ? 'REGRESSED' : 'no regression');
  return `${out.join('\n')}\n`;
}

/** A repeated step's pass-rate test, as the reports show it. */
function passRateText(s: StepComparison): string {
  if (!s.passRate) return '';
  const p = `Fisher's exact p=${s.passRate.p.toFixed(3)}`;
  if (s.passRate.significant) return ` (pass rate changed: ${p})`;
  return ` (pass rate within chance${s.change === 'newly-flaky' ? ', not a regression' : ''}: ${p})`;
}

export function renderComparisonJson(c: Comparison, names: { base: string; next: string }): string {
  return `${JSON.stringify({ base: names.base, new: names.next, ...c }, null, 2)}\n`;
}

export function renderComparisonHtml(c: Comparison, names: { base: string; next: string }): string {
  const changed = c.metrics.filter((m) => m.verdict === 'regressed' || m.verdict === 'improved');
  const stepRows = STEP_ORDER.flatMap((k) => c.steps.filter((s) => s.change === k));
  const metricRows = METRIC_ORDER.flatMap((v) => c.metrics.filter((m) => m.verdict === v));
  const plots = changed.map((m) => {
    const chart = stripChart(`${m.pair} › ${m.name} (${formatChange(m.delta)})`, m.unit || 'value', [
      { name: 'base', samples: m.base.samples },
      { name: 'new', samples: m.next.samples },
    ]);
    return `<figure class="metric-plot" data-metric="${esc(`${m.pair} › ${m.name}`)}">${chart}</figure>`;
  });
  const steps = stepRows.length
    ? htmlTable(
        'steps',
        ['change', 'target', 'scenario › step', 'base', 'new', 'evidence'],
        stepRows.map((s) => ({
          cls: s.change,
          cells: [
            STEP_WORDS[s.change],
            s.pair,
            `${s.scenario} › ${s.step}`,
            `${s.base ?? '-'} ${s.baseRuns ?? ''}`,
            `${s.next ?? '-'} ${s.nextRuns ?? ''}${passRateText(s)}`,
            s.why ?? '',
          ],
        })),
      )
    : '<p>none</p>';
  const metrics = htmlTable(
    'metrics',
    ['verdict', 'target', 'metric', 'change', 'base', 'new', 'why'],
    metricRows.map((m) => ({
      cls: m.verdict,
      cells: [m.verdict, m.pair, m.name, formatChange(m.delta), distributionText(m.base), distributionText(m.next), m.reason],
    })),
  );
  const axes = c.axes.length
    ? htmlTable(
        'axes',
        ['axis', 'base', 'new', ''],
        c.axes.map((a) => ({ cells: [a.name, a.base, a.next, a.blocking ? 'metrics not judged across this' : ''] })),
      )
    : '<p>nothing</p>';
  const unchanged = c.metrics.filter((m) => m.verdict === 'unchanged').length;
  return page(
    'kharness compare',
    [
      '.regressed,.new-failure,.newly-flaky{background:#fbe0e0}.improved,.fixed,.no-longer-flaky{background:#e3f6e3}',
      '.still-failing,.still-flaky,.error,.not-compared,.undecided{background:#fff1b8}',
    ].join('\n'),
    [
      `<h1>kharness compare: ${c.regressed ? 'regressed' : 'no regression'}</h1>`,
      `<p id="runs">base <code>${esc(names.base)}</code> → new <code>${esc(names.next)}</code>; ${c.pairs.map((p) => esc(p.label)).join(', ')}</p>`,
      `<p id="rule">${esc(ruleText(c))}</p>`,
      '<h2>Steps that changed</h2>',
      steps,
      '<h2>Metrics that changed</h2>',
      plots.join('\n') || '<p>none</p>',
      metrics,
      `<p>${unchanged} metrics unchanged, ${c.steps.filter((s) => s.change === 'same').length} steps the same.</p>`,
      '<h2>What differs besides the steps</h2>',
      axes,
    ].join('\n'),
  );
}
