/** The stall watch: a running file with no test activity past the limit ends the run, naming the file. */
import { describe, expect, it } from 'vitest';
import type { TestModule } from 'vitest/node';
import StallWatch from '../support/stall-watch.ts';

const mod = (id: string) => ({ moduleId: id }) as unknown as TestModule;

describe('stall watch', () => {
  it('exits 1 naming the file when a running file is silent past the limit, and not before', () => {
    let t = 0;
    const exits: number[] = [];
    let said = '';
    const w = new StallWatch({ limitMs: 60_000, now: () => t, exit: (c) => exits.push(c), write: (s) => (said += s), everyMs: 0 });
    w.onTestModuleStart(mod('/x/test/unit/a.test.ts'));
    t = 30_000;
    w.onTestCaseResult();
    t = 90_000;
    expect(w.check()).toBe(false);
    t = 90_001;
    expect(w.check()).toBe(true);
    expect(exits).toEqual([1]);
    expect(said).toMatch(/vitest stalled: nothing started or ended for 60 s while running \/x\/test\/unit\/a\.test\.ts/);
  });

  it('does nothing between files, or after the run', () => {
    let t = 0;
    const exits: number[] = [];
    const w = new StallWatch({ limitMs: 1000, now: () => t, exit: (c) => exits.push(c), write: () => {}, everyMs: 0 });
    w.onTestModuleStart(mod('a'));
    w.onTestModuleEnd(mod('a'));
    t = 10_000;
    expect(w.check()).toBe(false);
    expect(exits).toEqual([]);
  });
});
