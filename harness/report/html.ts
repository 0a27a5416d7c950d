/**
 * One self-contained HTML file: inline CSS and SVG, no script, nothing
 * fetched, so it opens anywhere (a CI artifact, an air-gapped laptop).
 * Sections: summary, verdict matrix (scenario × target), the claims table
 * with links to the evidence, cost-vs-size plots, vmalloc physical runs,
 * meminfo deltas, and every step with its facts and kernel log.
 */

import type { ResultRecord, StepRecord } from '../results/records.ts';
import { countsLine, failureLine, type GuestRecord as Guest, resultsView, type TargetEnd, targetLabel } from '../results/view.ts';
import { type ClaimCell, claimsTable } from './claims.ts';
import { compareTargets } from './compare.ts';
import { claimsSummary, countsText, distributionText, guestCmdlineNote, runsText } from './summary.ts';
import { barChart, lineChart, type Series } from './svg.ts';

const esc = (s: unknown) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const anchor = (s: StepRecord) => `step-${s.target.arch}-${s.target.kernel}-${s.scenario}-${s.name}`.replace(/[^A-Za-z0-9_-]+/g, '-');

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4}.pass,.holds{background:#e3f6e3}.fail,.fails{background:#fbe0e0}.error{background:#f9d0a0}.flaky{background:#fff1b8}
.skip,.untested{background:#f0f0f0;color:#666}.expected-crash{background:#dff0ff}.depends{background:#fff3c4}.inconclusive{background:#f9d0a0}
.chart text{font:11px sans-serif;fill:#333}.chart .title{font-size:13px;font-weight:bold}.chart .grid{stroke:#eee}
#claims td{min-width:9em;max-width:260px;overflow-wrap:break-word}.says{display:block}.scroll{overflow-x:auto}
@media (max-width:700px){body{margin:8px}#claims .article{display:none}}
pre{background:#f7f7f7;padding:6px;overflow:auto;max-height:300px;font-size:12px}details{margin:4px 0}.empty{color:#888}
`;

function verdictMatrix(steps: StepRecord[], targets: string[]): string {
  const scenarios = [...new Set(steps.map((s) => s.scenario))];
  const cell = (sc: string, t: string) => {
    const ss = steps.filter((s) => s.scenario === sc && targetLabel(s.target) === t);
    if (!ss.length) return '<td>-</td>';
    const c = { pass: 0, fail: 0, error: 0, skip: 0, 'expected-crash': 0, 'expected-fail': 0, 'unexpected-pass': 0, flaky: 0 };
    for (const s of ss) c[s.status]++;
    const ok = c.pass + c['expected-crash'] + c['expected-fail'];
    const bad = c.fail + c['unexpected-pass'];
    const cls = c.error ? 'error' : bad ? 'fail' : c.flaky ? 'flaky' : ok ? 'pass' : 'skip';
    // What went as expected as one number, then the rest in the words of every report.
    const text = [ok && `${ok} ok`, countsLine({ ...c, pass: 0, 'expected-crash': 0 }, { zeros: false })].filter(Boolean).join(', ');
    return `<td class="${cls}">${esc(text)}</td>`;
  };
  return `<table id="verdict-matrix"><tr><th>scenario</th>${targets.map((t) => `<th>${esc(t)}</th>`).join('')}</tr>${scenarios
    .map((sc) => `<tr><td>${esc(sc)}</td>${targets.map((t) => cell(sc, t)).join('')}</tr>`)
    .join('')}</table>`;
}

function claimsSection(records: readonly ResultRecord[], steps: StepRecord[]): string {
  const { targets, rows } = claimsTable(records);
  const link = (t: string, scenario: string, stepName: string) => {
    const s = steps.find((x) => targetLabel(x.target) === t && x.scenario === scenario && x.name === stepName);
    return s ? `<a href="#${anchor(s)}">${esc(stepName)}</a>` : esc(stepName);
  };
  // The deciding observation first, in words; the evidence one click away.
  const cell = (t: string, c: ClaimCell) => {
    const evidence = c.evidence
      .map((e) => {
        const shown = e.steps.slice(0, 3).map((n) => link(t, e.scenario, n));
        return `${esc(e.scenario)}: ${shown.join(', ')}${e.steps.length > 3 ? ' …' : ''}`;
      })
      .join('<br>');
    const [verdict, ...why] = c.says.split(' — ');
    const text = why.length ? `<span class="says">${esc(why.join(' — '))}</span>` : '';
    const more = evidence ? `<details><summary>evidence</summary><small>${evidence}</small></details>` : '';
    return `<td class="${c.verdict}"><b>${esc(verdict)}</b> ${text}${more}</td>`;
  };
  const head = `<tr><th>claim</th><th class="article">what the article says</th>${targets.map((t) => `<th>${esc(t)}</th>`).join('')}</tr>`;
  const body = rows.map(
    (r) =>
      `<tr><td><code>${esc(r.id)}</code></td><td class="article">${esc(r.text)}</td>${targets.map((t) => cell(t, r.cells[t]!)).join('')}</tr>`,
  );
  return `<div class="scroll"><table id="claims">${head}${body.join('')}</table></div>`;
}

const TARGET_HEAD = ['target', 'status', 'kernel', 'PAGE_SIZE', 'KMALLOC_MAX_SIZE', 'accelerator', 'ready in']
  .map((h) => `<th>${h}</th>`)
  .join('');

function summarySection(records: readonly ResultRecord[]): string {
  const s = claimsSummary(records);
  const counts = s.targets.map((t) => `<tr><td>${esc(t)}</td><td>${esc(countsText(s.counts[t]!) || 'none tested')}</td></tr>`).join('');
  const diffs = s.differences.map((d) => `<li><code>${esc(d.id)}</code> differs by <b>${esc(d.axis)}</b>: ${esc(d.detail)}</li>`).join('');
  const same = s.targets.length > 1 ? '<p>Every claim came out the same on every target.</p>' : '';
  return `<section id="claims-summary"><table><tr><th>target</th><th>the article's claims</th></tr>${counts}</table>${
    diffs ? `<p>Claims that differ between targets:</p><ul>${diffs}</ul>` : same
  }</section>`;
}

function costChart(steps: StepRecord[], targets: string[]): string {
  const series: Series[] = [];
  for (const t of targets) {
    const ss = steps.filter(
      (s) => targetLabel(s.target) === t && typeof s.facts.alloc_ns_median === 'number' && typeof s.facts.size === 'number',
    );
    const byApi = new Map<string, Series>();
    for (const s of ss) {
      for (const [api, key] of [
        [s.facts.api, 'alloc_ns_median'],
        [s.facts.vs, 'vs_alloc_ns_median'],
      ] as const) {
        if (typeof api !== 'string' || typeof s.facts[key] !== 'number') continue;
        const name = `${api} ${t}`;
        if (!byApi.has(name)) byApi.set(name, { name, points: [], dashed: api.startsWith('v') });
        byApi.get(name)!.points.push({ x: s.facts.size as number, y: Math.max(1, s.facts[key] as number) });
      }
    }
    series.push(...byApi.values());
  }
  return lineChart('Allocation cost against size (median ns, log-log)', 'size (bytes)', 'ns', series);
}

function runsChart(steps: StepRecord[]): string {
  const bars = steps
    .filter((s) => s.facts.vmalloc_addr === true && typeof s.facts.phys_runs === 'number')
    .map((s) => ({ label: `${targetLabel(s.target)} ${s.name}`.slice(0, 48), value: s.facts.phys_runs as number }));
  return barChart('vmalloc allocations: physically contiguous runs', 'runs', bars);
}

function meminfoChart(records: readonly ResultRecord[]): string {
  const bars: { label: string; value: number }[] = [];
  for (const r of records) {
    if (r.type !== 'scenario-end' || !r.meminfoDelta) continue;
    for (const k of ['MemFree', 'Slab', 'VmallocUsed']) {
      const v = r.meminfoDelta[k];
      if (v !== undefined && v !== 0) bars.push({ label: `${targetLabel(r.target)} ${r.scenario} ${k}`.slice(0, 48), value: v });
    }
  }
  return barChart('meminfo change across each scenario (kB)', 'kB', bars);
}

function factsTable(facts: StepRecord['facts']): string {
  const head = Object.keys(facts)
    .map((k) => `<th>${esc(k)}</th>`)
    .join('');
  const row = Object.values(facts)
    .map((v) => `<td>${esc(v)}</td>`)
    .join('');
  return `<table><tr>${head}</tr><tr>${row}</tr></table>`;
}

function statsTable(stats: StepRecord['stats']): string {
  const rows = Object.entries(stats ?? {}).filter(([, d]) => d.n > 1);
  if (!rows.length) return '';
  return `<table class="stats"><tr><th>fact</th><th>median [min–max] ±rsd (n)</th><th>samples</th></tr>${rows
    .map(([k, d]) => `<tr><td>${esc(k)}</td><td>${esc(distributionText(d))}</td><td>${esc(d.samples.join(' '))}</td></tr>`)
    .join('')}</table>`;
}

function stepDetail(s: StepRecord): string {
  const open = s.status === 'fail' || s.status === 'error' || s.status === 'flaky' ? ' open' : '';
  const reason = s.reason || runsText(s) ? ` (${esc([runsText(s), s.reason].filter(Boolean).join('; '))})` : '';
  const title = `${esc(targetLabel(s.target))} › ${esc(s.scenario)} › ${esc(s.name)} — <b>${s.status}</b>${reason}`;
  const failures = s.failures.length ? `<ul>${s.failures.map((f) => `<li>${esc(failureLine(f))}</li>`).join('')}</ul>` : '';
  return [
    `<details id="${anchor(s)}"${open}><summary class="${s.status}">${title}</summary>`,
    s.request ? `<div><code>${esc(s.request)}</code></div>` : '',
    failures,
    factsTable(s.facts),
    statsTable(s.stats),
    `${s.dmesg.length ? `<pre>${esc(s.dmesg.join('\n'))}</pre>` : ''}</details>`,
  ].join('\n');
}

function targetRow(t: string, g: Guest | undefined, e: TargetEnd | undefined): string {
  const status = e?.status ?? '';
  if (!g) return `<tr><td>${esc(t)}</td><td class="error">${esc(status)}</td><td colspan="5">${esc(e?.error?.message ?? '')}</td></tr>`;
  const cells = [g.constants.release, g.constants.PAGE_SIZE, g.constants.KMALLOC_MAX_SIZE, g.accel]
    .map((v) => `<td>${esc(v)}</td>`)
    .join('');
  return `<tr><td>${esc(t)}</td><td class="${status === 'ok' ? 'pass' : 'error'}">${esc(status)}</td>${cells}<td>${(g.sshMs / 1000).toFixed(2)} s</td></tr>`;
}

function compareSection(cmp: ReturnType<typeof compareTargets>): string {
  if (!cmp.rows.length) return '';
  const head = cmp.targets.map((t) => `<th>${esc(t)}</th>`).join('');
  const rows = cmp.rows.map(
    (r) => `<tr><td>${esc(r.label)}</td>${cmp.targets.map((t) => `<td>${esc(r.values[t] ?? '-')}</td>`).join('')}</tr>`,
  );
  return `<h2>What differs between targets</h2><div class="scroll"><table id="compare"><tr><th>fact</th>${head}</tr>${rows.join('')}</table></div>`;
}

export function renderHtml(input: readonly ResultRecord[]): string {
  const view = resultsView(input);
  const { records, steps } = view;
  const targets = view.targets.map((t) => t.label);
  const summary = countsLine(view.counts);
  const note = guestCmdlineNote(records);
  const rows = view.targets.map((t) => targetRow(t.label, t.guests[0], t.end));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>kharness report</title><style>${CSS}</style></head>
<body>
<h1>kharness report</h1>
<p id="summary">${summary} — ${targets.length} target(s): ${targets.map(esc).join(', ')}</p>
${summarySection(records)}
<div class="scroll"><table><tr>${TARGET_HEAD}</tr>
${rows.join('')}</table></div>
${note ? `<p id="guest-cmdline">${esc(note)}</p>` : ''}
<h2>Verdicts</h2>${verdictMatrix(steps, targets)}
<h2>The article's claims</h2>${claimsSection(records, steps)}
${compareSection(compareTargets(records))}
<h2>Cost</h2>${costChart(steps, targets)}
<h2>vmalloc physical runs</h2>${runsChart(steps)}
<h2>Memory</h2>${meminfoChart(records)}
<h2>Steps</h2>${steps.map(stepDetail).join('\n')}
</body></html>
`;
}
