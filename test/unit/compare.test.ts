import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareTargets } from '../../harness/report/compare.ts';
import { parseResults, type ResultRecord } from '../../harness/results/records.ts';

const recorded = parseResults(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'results-6.1-x86_64.jsonl'), 'utf8'));

/** The recorded run as if it were a second target with 64 KiB pages. */
function as64k(): ResultRecord[] {
  return recorded.map((r) => {
    if (!('target' in r)) return r;
    const target = { ...r.target, arch: 'arm64', kernel: '6.1-64k' };
    if (r.type === 'guest') return { ...r, target, constants: { ...r.constants, PAGE_SIZE: 65536, KMALLOC_MAX_SIZE: 536870912 } };
    return { ...r, target } as ResultRecord;
  });
}

describe('comparison across targets', () => {
  it('shows only what differs, one column per target', () => {
    const c = compareTargets([...recorded, ...as64k()]);
    expect(c.targets).toEqual(['x86_64/6.1', 'arm64/6.1-64k']);
    expect(c.rows.map((r) => r.label)).toEqual(['PAGE_SIZE', 'KMALLOC_MAX_SIZE']);
    expect(c.rows[1]!.values).toEqual({ 'x86_64/6.1': '4194304', 'arm64/6.1-64k': '536870912' });
  });

  it('is empty for a single target', () => {
    expect(compareTargets(recorded).rows).toEqual([]);
  });
});
