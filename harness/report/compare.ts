/**
 * The comparison across targets: facts that came out differently on
 * different targets, one row each, one column per target, the kernels'
 * allocator options among them. Pure.
 */

import { CONSTANTS, HOST_CONSTANTS } from '../probe/vocabulary.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { inPlanOrder, targetLabel, targetOrder } from '../results/view.ts';
import { claimsTable } from './claims.ts';

/** Guest constants worth comparing. */
const COMPARED = Object.entries({ ...CONSTANTS, ...HOST_CONSTANTS })
  .filter(([, spec]) => spec.compare)
  .map(([name]) => name);

/**
 * Step facts that say something about the allocator rather than about where
 * RAM happens to be: success, vmalloc's physical runs, whether plain kmalloc
 * memory came back zeroed, and the DMA zone's extent. (zone names and slab
 * orders differ on every step between arches and would drown the table.)
 */
function stepFacts(s: StepRecord): Record<string, unknown> {
  const f = s.facts;
  return {
    ok: f.ok,
    phys_runs: f.vmalloc_addr === true ? f.phys_runs : undefined,
    zeroed: f.api === 'kmalloc' && !String(s.request ?? '').includes('__GFP_ZERO') ? f.zeroed : undefined,
    DMA_end: f.DMA_end,
  };
}

export interface CompareRow {
  label: string;
  values: Record<string, string>;
}

export function compareTargets(records: readonly ResultRecord[]): { targets: string[]; rows: CompareRow[] } {
  const targets = targetOrder(records);
  const rows = new Map<string, CompareRow>();
  const put = (label: string, target: string, value: unknown) => {
    if (value === undefined) return;
    if (!rows.has(label)) rows.set(label, { label, values: {} });
    rows.get(label)!.values[target] = String(value);
  };
  const ordered = inPlanOrder(records);
  for (const r of ordered) {
    if (r.type === 'guest') for (const c of COMPARED) put(c, targetLabel(r.target), r.constants[c]);
    if (r.type === 'kernel-profile') for (const [o, v] of Object.entries(r.options)) put(`config ${o}`, targetLabel(r.target), v);
  }
  for (const s of ordered.filter((r): r is StepRecord => r.type === 'step')) {
    for (const [f, v] of Object.entries(stepFacts(s))) put(`${s.scenario} › ${s.name} › ${f}`, targetLabel(s.target), v);
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
  const line = (r: string[]) =>
    r
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...body.map(line)].join('\n')}\n`;
}
