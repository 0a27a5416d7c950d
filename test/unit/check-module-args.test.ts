/** check-module's flags for its two modes, and what counts as checking nothing. Pure. */
import { describe, expect, it } from 'vitest';
import { checkMode, uncheckedTargets } from '../../harness/cli/check-module.ts';
import type { ResultRecord } from '../../harness/results/records.ts';

describe('check-module modes', () => {
  it("cycles by default; a sweep with its cap and kind; the other mode's flags refused", () => {
    expect(checkMode({})).toEqual({ cycles: 2, exec: [] });
    expect(checkMode({ 'inject-sweep': true })).toEqual({ sweep: { cap: 500, kind: 'any' } });
    expect(checkMode({ 'inject-sweep': true, 'inject-cap': '12', 'inject-kind': 'slab' })).toEqual({ sweep: { cap: 12, kind: 'slab' } });
    expect(() => checkMode({ 'inject-sweep': true, cycles: '3' })).toThrow(/--cycles does not go with --inject-sweep/);
    expect(checkMode({ 'inject-sweep': true, exec: ['echo 1 > /sys/module/m/parameters/poke'] })).toEqual({
      sweep: { cap: 500, kind: 'any', exercise: { op: 'write', path: '/sys/module/m/parameters/poke', data: '1\n' } },
    });
    expect(() => checkMode({ 'inject-sweep': true, exec: ['cat /a', 'cat /b'] })).toThrow(/give one --exec/);
    expect(() => checkMode({ 'inject-sweep': true, exec: ['insmod x; cat /a'] })).toThrow(/--exec: cannot sweep the allocations of/);
    expect(() => checkMode({ 'inject-cap': '3' })).toThrow(/--inject-cap needs --inject-sweep/);
    expect(() => checkMode({ 'inject-sweep': true, 'inject-kind': 'vmalloc' })).toThrow(/give one of slab, page, any/);
    expect(() => checkMode({ 'inject-sweep': true, 'inject-cap': '0' })).toThrow(/--inject-cap/);
    expect(() => checkMode({ 'inject-sweep': true, 'inject-cap': '20000' })).toThrow(/at most 10000/);
  });

  it('a target whose every step was skipped checked nothing; one with a step that ran did', () => {
    const step = (kernel: string, status: string, reason?: string) =>
      ({ type: 'step', target: { arch: 'arm64', kernel }, status, reason }) as unknown as ResultRecord;
    expect(
      uncheckedTargets([step('a', 'skip', 'no fault injection'), step('a', 'skip', 'later'), step('b', 'skip'), step('b', 'pass')]),
    ).toEqual([{ target: 'arm64/a', reason: 'no fault injection' }]);
  });
});
