import { describe, expect, it } from 'vitest';
import { nextIndex, type SweepIndex, sweepExit, sweepRow } from '../../harness/inject/sweep.ts';

const clean = (nth: number, extra: Partial<SweepIndex> = {}): SweepIndex => ({
  nth,
  injected: true,
  api: 'kmalloc',
  site: 'foo_init+0x4c [foo]',
  outcome: 'init returned -ENOMEM',
  leaks: [],
  reports: [],
  crashed: false,
  ...extra,
});

describe('an inject sweep', () => {
  it('starts at the first allocation and goes on while each index was consumed', () => {
    expect(nextIndex([], 10)).toEqual({ next: 1 });
    expect(nextIndex([clean(1), clean(2)], 10)).toEqual({ next: 3 });
  });

  it('ends at the first index the operation completed without consuming', () => {
    expect(nextIndex([clean(1), clean(2, { injected: false, outcome: 'loaded' })], 10)).toEqual({ done: 'complete' });
  });

  it('goes on past a dead kernel (a fresh machine takes the next index)', () => {
    expect(nextIndex([clean(1, { injected: false, crashed: true })], 10)).toEqual({ next: 2 });
  });

  it('stops after too many deaths, each a finding (exit 1), rather than boot a machine per index up to the cap', () => {
    const rows = [1, 2, 3].map((n) => clean(n, { crashed: true }));
    expect(nextIndex(rows, 500, 3)).toEqual({ done: 'deaths' });
    expect(nextIndex(rows.slice(0, 2), 500, 3)).toEqual({ next: 3 });
    expect(sweepExit(rows, 'deaths')).toBe(1);
  });

  it('stops at the cap: a sweep that never ends is exit 2', () => {
    const rows = [1, 2, 3].map((n) => clean(n));
    expect(nextIndex(rows, 3)).toEqual({ done: 'capped' });
    expect(sweepExit(rows, 'capped')).toBe(2);
  });

  it('reads at a glance: site, what the operation returned, what it left behind', () => {
    expect(sweepRow(clean(3, { leaks: [{ objects: 1, bytes: 64, from: 'foo_init+0x21' }] }))).toBe(
      '#3 kmalloc in foo_init+0x4c [foo]: init returned -ENOMEM, 1 object (64 B) leaked from foo_init+0x21',
    );
    expect(sweepRow(clean(4, { injected: false, outcome: 'loaded' }))).toBe('#4 no allocation failed (the operation made fewer): loaded');
    expect(sweepRow(clean(2, { outcome: 'the kernel died', reports: ['BUG: unable to handle page fault'], crashed: true }))).toBe(
      '#2 kmalloc in foo_init+0x4c [foo]: the kernel died, report: BUG: unable to handle page fault, the machine is not used again',
    );
    expect(sweepRow(clean(1, { unscanned: 2 }))).toBe(
      "#1 kmalloc in foo_init+0x4c [foo]: init returned -ENOMEM, leaks not read (the kernel died at #2 before kmemleak's scan)",
    );
  });

  it('is exit 1 when any index left a leak, a report or a crash; 0 when every failure path was clean', () => {
    const done = clean(3, { injected: false, outcome: 'loaded' });
    expect(sweepExit([clean(1), clean(2), done], 'complete')).toBe(0);
    expect(sweepExit([clean(1, { leaks: [{ objects: 1, bytes: 64 }] }), done], 'complete')).toBe(1);
    expect(sweepExit([clean(1, { reports: ['WARNING: ...'] }), done], 'complete')).toBe(1);
    expect(sweepExit([clean(1, { crashed: true }), done], 'complete')).toBe(1);
  });
});
