import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimsTable } from '../../harness/report/claims.ts';
import { parseResults, type ResultRecord, type StepRecord } from '../../harness/results/records.ts';

const recorded = parseResults(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'results-6.1-x86_64.jsonl'), 'utf8'));

describe('claims table on a recorded 6.1 x86_64 run', () => {
  const { targets, rows } = claimsTable(recorded);
  const verdict = (id: string) => rows.find((r) => r.id === id)!.cells['x86_64/6.1']!.verdict;

  it('has one row per claim and a column per target', () => {
    expect(targets).toEqual(['x86_64/6.1']);
    expect(rows.length).toBe(15);
  });

  it('turns passing scenarios into the verdict they declare', () => {
    expect(verdict('kmalloc-128k-limit')).toBe('fails');
    expect(verdict('kmalloc-phys-contiguous')).toBe('holds');
    expect(verdict('vmalloc-may-sleep')).toBe('holds');
    expect(verdict('vmalloc-no-size-limit')).toBe('fails');
    expect(verdict('leak-crashes-kernel')).toBe('fails');
    expect(verdict('zones-32bit-layout')).toBe('fails');
  });

  it('keeps the evidence: scenario and steps', () => {
    const ev = rows.find((r) => r.id === 'vmalloc-may-sleep')!.cells['x86_64/6.1']!.evidence;
    expect(ev.map((e) => e.scenario)).toEqual(['vmalloc-in-irq']);
    expect(ev[0]!.steps).toContain('vmalloc in hard IRQ kills the kernel');
  });

  it('calls a claim inconclusive when its scenario failed, and depends when targets disagree', () => {
    const failed = recorded.map((r) =>
      r.type === 'step' && r.scenario === 'alloc-cost'
        ? ({ ...r, status: 'fail', failures: [{ what: 'x', expected: '1', observed: '2' }] } as StepRecord)
        : r,
    );
    expect(claimsTable(failed).rows.find((r) => r.id === 'kmalloc-cheaper')!.cells['x86_64/6.1']!.verdict).toBe('inconclusive');

    // The same run again as a second target, where kzalloc-zeroing passed with the opposite declaration.
    const other: ResultRecord[] = recorded.map((r) => {
      if (!('target' in r)) return r;
      const target = { ...r.target, arch: 'arm64' };
      if (r.type === 'step' && r.scenario === 'kzalloc-zeroing')
        return { ...r, target, claims: [{ id: 'kzalloc-zeroes', ifPasses: 'fails' as const }] };
      return { ...r, target } as ResultRecord;
    });
    const both = claimsTable([...recorded, ...other]);
    const row = both.rows.find((r) => r.id === 'kzalloc-zeroes')!;
    expect(both.targets).toEqual(['x86_64/6.1', 'arm64/6.1']);
    expect([row.cells['x86_64/6.1']!.verdict, row.cells['arm64/6.1']!.verdict, row.overall]).toEqual(['holds', 'fails', 'depends']);
  });

  it('calls a skipped claim untested, with the reason', () => {
    const skipped = recorded.map((r) =>
      r.type === 'step' && r.scenario === 'gfp-dma-zone'
        ? ({ ...r, status: 'skip', reason: 'kernel config lacks CONFIG_ZONE_DMA' } as StepRecord)
        : r,
    );
    const cell = claimsTable(skipped).rows.find((r) => r.id === 'gfp-dma')!.cells['x86_64/6.1']!;
    expect(cell).toMatchObject({ verdict: 'untested', evidence: [{ note: 'kernel config lacks CONFIG_ZONE_DMA' }] });
  });
});
