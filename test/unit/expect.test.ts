import { describe, expect, it } from 'vitest';
import { parseSplats } from '../../harness/analysis/splats.ts';
import { checkFact, evaluate } from '../../harness/scenario/expect.ts';
import type { Expect } from '../../harness/scenario/types.ts';

const C = { PAGE_SIZE: 4096, KMALLOC_MAX_SIZE: 4194304, KMALLOC_MAX_CACHE_SIZE: 8192, KMALLOC_MIN_SIZE: 8, TOTALRAM_SIZE: 1 << 29 };
const pos = { file: 'x', line: 1, column: 1 };
const facts = (f: Record<string, unknown>): Expect['facts'] =>
  Object.fromEntries(Object.entries(f).map(([k, v]) => [k, { matcher: v as never, pos }]));
const warning = parseSplats(['WARNING: CPU: 0 PID: 48 at mm/page_alloc.c:5634 __alloc_pages+0x3d/0xe6']);

describe('expectations', () => {
  it('compares booleans with 0/1 facts and numbers exactly', () => {
    expect(checkFact('ok', true, true, C)).toBeUndefined();
    expect(checkFact('ok', true, false, C)).toEqual({ what: 'ok', expected: 'true', observed: 'false' });
    expect(checkFact('phys_runs', 1, 2, C)).toEqual({ what: 'phys_runs', expected: '1', observed: '2' });
  });

  it('compares with operators and size expressions', () => {
    expect(checkFact('phys_runs', { ge: 2 }, 4, C)).toBeUndefined();
    expect(checkFact('phys_runs', { ge: 2 }, 1, C)).toEqual({ what: 'phys_runs', expected: '>= 2', observed: '1' });
    expect(checkFact('size', { eq: 'KMALLOC_MAX_SIZE' }, 4194304, C)).toBeUndefined();
    expect(checkFact('size', { lt: 'KMALLOC_MAX_SIZE' }, 4194304, C)?.expected).toBe('< 4194304');
    expect(checkFact('zone', 'DMA', 'DMA32', C)).toEqual({ what: 'zone', expected: 'DMA', observed: 'DMA32' });
  });

  it('reports a fact the guest did not report', () => {
    expect(checkFact('zeroed', true, undefined, C)?.observed).toBe('(not reported)');
  });

  it('checks dmesg has and none', () => {
    const e: Expect = { facts: {}, dmesg: { has: [{ kind: 'warning', at: 'mm/page_alloc.c' }] } };
    expect(evaluate(e, { facts: {}, splats: warning, crashed: false }, C)).toEqual([]);
    expect(evaluate(e, { facts: {}, splats: [], crashed: false }, C)).toEqual([
      { what: 'dmesg', expected: 'a warning at mm/page_alloc.c report', observed: 'no kernel reports' },
    ]);
    const none: Expect = { facts: {}, dmesg: { none: [{ kind: 'warning' }] } };
    expect(evaluate(none, { facts: {}, splats: warning, crashed: false }, C)[0]!.observed).toMatch(/^WARNING: CPU: 0/);
  });

  it('fails an unexpected crash and passes an expected one only with the right report', () => {
    const bug = parseSplats(['kernel BUG at mm/vmalloc.c:2554!', 'Kernel panic - not syncing: Fatal exception in interrupt']);
    expect(evaluate({ facts: facts({ ok: true }) }, { facts: {}, splats: bug, crashed: true }, C)).toEqual([
      { what: 'crash', expected: 'the guest survives', observed: 'kernel BUG at mm/vmalloc.c:2554!' },
    ]);
    expect(evaluate({ facts: {}, crash: { kind: 'bug', at: 'mm/vmalloc.c' } }, { facts: {}, splats: bug, crashed: true }, C)).toEqual([]);
    expect(evaluate({ facts: {}, crash: { kind: 'bug', at: 'mm/slub.c' } }, { facts: {}, splats: bug, crashed: true }, C)[0]!.what).toBe(
      'crash',
    );
    expect(evaluate({ facts: {}, crash: { kind: 'bug' } }, { facts: {}, splats: [], crashed: false }, C)[0]!.observed).toBe(
      'the guest survived',
    );
  });
});
