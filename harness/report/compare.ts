/**
 * The comparison across targets: facts that came out differently on
 * different targets, one row each, one column per target. Pure.
 */
import type { ResultRecord, StepRecord } from '../run/results.ts';
import { claimsTable, targetLabel } from './claims.ts';

/** Guest constants worth comparing, and step facts that describe behaviour rather than timing. */
const CONSTANTS = ['release', 'PAGE_SIZE', 'KMALLOC_MAX_CACHE_SIZE', 'KMALLOC_MAX_SIZE', 'MAX_ORDER', 'INIT_ON_ALLOC', 'CLOCKSOURCE'];
const STEP_FACTS = ['ok', 'phys_runs', 'zeroed', 'zone', 'compound_order', 'linear_map', 'DMA_end'];

export interface CompareRow {
  label: string;
  values: Record<string, string>;
}

export function compareTargets(records: readonly ResultRecord[]): { targets: string[]; rows: CompareRow[] } {
  const targets = [...new Set(records.filter((r) => r.type === 'target-begin').map((r) => targetLabel(r.target)))];
  const rows = new Map<string, CompareRow>();
  const put = (label: string, target: string, value: unknown) => {
    if (value === undefined) return;
    if (!rows.has(label)) rows.set(label, { label, values: {} });
    rows.get(label)!.values[target] = String(value);
  };
  for (const r of records) {
    if (r.type === 'guest') for (const c of CONSTANTS) put(c, targetLabel(r.target), r.constants[c]);
  }
  for (const s of records.filter((r): r is StepRecord => r.type === 'step')) {
    for (const f of STEP_FACTS) put(`${s.scenario} › ${s.name} › ${f}`, targetLabel(s.target), s.facts[f]);
    put(`${s.scenario} › ${s.name} › status`, targetLabel(s.target), s.status);
  }
  for (const row of claimsTable(records).rows) for (const t of targets) put(`claim ${row.id}`, t, row.cells[t]?.verdict);
  const differs = (r: CompareRow) => {
    const vs = targets.map((t) => r.values[t] ?? '-');
    return new Set(vs).size > 1;
  };
  return { targets, rows: targets.length < 2 ? [] : [...rows.values()].filter(differs) };
}

export function renderCompareText(c: ReturnType<typeof compareTargets>): string {
  if (!c.rows.length) return '';
  const head = ['fact', ...c.targets];
  const body = c.rows.map((r) => [r.label, ...c.targets.map((t) => r.values[t] ?? '-')]);
  const widths = head.map((_, i) => Math.max(...[head, ...body].map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...body.map(line)].join('\n') + '\n';
}
