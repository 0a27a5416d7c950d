import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { gitCandidates } from '../../harness/bisect/run.ts';
import { classify, combineRepeats, nextStep, type Verdict } from '../../harness/bisect/search.ts';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';

const target = { arch: 'x86_64', kernel: 'git:/k@abc' };
const step = (name: string, status: StepRecord['status'], failures: StepRecord['failures'] = []): StepRecord => ({
  type: 'step',
  target,
  scenario: 's',
  scenarioFile: 's.yaml',
  claims: [],
  step: 0,
  name,
  status,
  facts: {},
  failures,
  splats: [],
  dmesg: [],
  ms: 1,
  at: '',
});
const end = (status: 'ok' | 'build-failure' | 'boot-failure' | 'infra-failure'): ResultRecord => ({
  type: 'target-end',
  target,
  status,
  at: '',
  error: status === 'ok' ? undefined : { code: 'X', message: 'm' },
});

describe('classifying a candidate', () => {
  it('is good when the scenario passes and bad when the chosen expectation fails', () => {
    expect(classify([step('a', 'pass'), step('b', 'pass'), end('ok')]).outcome).toBe('good');
    const bad = classify([step('a', 'pass'), step('b', 'fail', [{ what: 'ok', expected: 'true', observed: 'false' }]), end('ok')]);
    expect(bad).toMatchObject({ outcome: 'bad', reason: 'ok: expected true, observed false' });
    expect(bad.step?.name).toBe('b');
  });

  it('judges only the chosen step when one is named (swept instances included)', () => {
    const recs = [step('a', 'fail'), step('b [4 KiB]', 'pass'), step('b [8 KiB]', 'pass'), end('ok')];
    expect(classify(recs, 'b').outcome).toBe('good');
    expect(classify(recs, 'a').outcome).toBe('bad');
    expect(classify(recs, 'zzz')).toMatchObject({ outcome: 'abort', reason: 'the scenario has no step named "zzz"' });
  });

  it('skips a candidate that does not build or boot, and aborts on harness or host trouble', () => {
    expect(classify([step('a', 'error'), end('build-failure')]).outcome).toBe('skip');
    expect(classify([step('a', 'error'), end('boot-failure')]).outcome).toBe('skip');
    expect(classify([end('infra-failure')]).outcome).toBe('abort');
    expect(classify([step('a', 'error'), end('ok')]).outcome).toBe('abort');
  });

  it('treats disagreeing repeats as flaky, never as a verdict', () => {
    expect(combineRepeats(['bad', 'bad', 'bad'])).toEqual({ outcome: 'bad', flaky: false });
    expect(combineRepeats(['good', 'bad', 'good'])).toEqual({ outcome: 'skip', flaky: true });
    expect(combineRepeats(['good', 'abort'])).toEqual({ outcome: 'abort', flaky: false });
  });
});

describe('searching', () => {
  /** Runs the search against a truth table; returns the answer and the tested order. */
  function bisect(truth: Verdict[]) {
    const v = new Map<number, Verdict>([[truth.length - 1, 'bad']]);
    const tested: number[] = [];
    for (;;) {
      const s = nextStep(truth.length, v);
      if (s.kind !== 'test') return { s, tested };
      tested.push(s.index);
      v.set(s.index, truth[s.index]!);
    }
  }

  it('finds the first bad of 8 in 3 tests', () => {
    const truth: Verdict[] = ['good', 'good', 'good', 'good', 'bad', 'bad', 'bad', 'bad'];
    const r = bisect(truth);
    expect(r.s).toEqual({ kind: 'done', firstBad: 4 });
    expect(r.tested.length).toBeLessThanOrEqual(3);
  });

  it('finds a first bad at either end', () => {
    expect(bisect(['bad', 'bad', 'bad', 'bad']).s).toEqual({ kind: 'done', firstBad: 0 });
    expect(bisect(['good', 'good', 'good', 'bad']).s).toEqual({ kind: 'done', firstBad: 3 });
  });

  it('steps around skipped candidates', () => {
    expect(bisect(['good', 'skip', 'good', 'good', 'bad', 'bad']).s).toEqual({ kind: 'done', firstBad: 4 });
    // A skipped candidate right before the first bad one could be the culprit: say so.
    expect(bisect(['good', 'good', 'skip', 'bad', 'bad', 'bad']).s).toEqual({ kind: 'ambiguous', lastGood: 1, firstBad: 3, skipped: [2] });
  });

  it('says so when only skipped candidates separate good from bad', () => {
    expect(bisect(['good', 'skip', 'skip', 'bad']).s).toEqual({ kind: 'ambiguous', lastGood: 0, firstBad: 3, skipped: [1, 2] });
  });
});

describe('git candidates', () => {
  it('configure every candidate as the good end, across a Makefile bump inside the range', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'kharness-bisect-'));
    const git = (...args: string[]) =>
      execa('git', ['-C', repo, ...args], {
        env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      });
    const makefile = (patchlevel: number, extra: string) =>
      writeFileSync(join(repo, 'Makefile'), `VERSION = 6\nPATCHLEVEL = ${patchlevel}\nSUBLEVEL = 0\nEXTRAVERSION =${extra}\n`);
    await git('init', '-q', '-b', 'main');
    makefile(11, '');
    await git('add', 'Makefile');
    await git('commit', '-q', '-m', 'v6.11');
    await git('tag', 'good');
    writeFileSync(join(repo, 'mm.c'), 'a merge-window change\n');
    await git('add', 'mm.c');
    await git('commit', '-q', '-m', 'mm: a change');
    makefile(12, ' -rc1');
    await git('commit', '-q', '-am', 'Linux 6.12-rc1');
    const { good, list } = await gitCandidates(repo, 'good', 'HEAD');
    expect([good, ...list].map((c) => c.configVersion)).toEqual(['6.11.0', '6.11.0', '6.11.0']);
    expect(list.map((c) => c.subject)).toEqual(['mm: a change', 'Linux 6.12-rc1']);
    rmSync(repo, { recursive: true, force: true });
  });
});
