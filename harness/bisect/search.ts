/**
 * Bisection over an ordered list of candidates (commits oldest to newest, or
 * catalog kernels in release order), as pure functions over a verdict map.
 * Candidates are tested by index: -1 is the known-good end, n-1 the known-bad
 * end. Skipped candidates are stepped around; flaky ones count as skipped.
 */
import { isFailed, type ResultRecord, ranAsExpected, type StepRecord } from '../run/results.ts';

export type Verdict = 'good' | 'bad' | 'skip';
/** What one run of the scenario on a candidate says. */
export type Outcome = Verdict | 'abort';

export interface Classified {
  outcome: Outcome;
  reason: string;
  /** The step that decided it, when a test decided. */
  step?: StepRecord;
}

/**
 * One run's records → good, bad, skip (the candidate cannot be judged: it
 * does not build or boot) or abort (the harness or host failed: stop rather
 * than give a wrong answer). With `stepName`, only that step's expectation
 * decides good or bad.
 */
export function classify(records: readonly ResultRecord[], stepName?: string): Classified {
  const end = records.find((r) => r.type === 'target-end');
  if (end?.type === 'target-end' && end.status !== 'ok') {
    const why = `${end.status}: ${end.error?.message ?? ''}`;
    if (end.status === 'build-failure' || end.status === 'boot-failure') return { outcome: 'skip', reason: why };
    return { outcome: 'abort', reason: why };
  }
  let steps = records.filter((r): r is StepRecord => r.type === 'step');
  if (stepName !== undefined) {
    steps = steps.filter((s) => s.name === stepName || s.name.startsWith(`${stepName} [`));
    if (!steps.length) return { outcome: 'abort', reason: `the scenario has no step named "${stepName}"` };
  }
  const error = steps.find((s) => s.status === 'error');
  if (error) return { outcome: 'abort', reason: `step "${error.name}" could not run: ${error.reason ?? ''}`, step: error };
  const failed = steps.find((s) => isFailed(s.status));
  if (failed)
    return {
      outcome: 'bad',
      reason:
        failed.failures.map((f) => `${f.what}: expected ${f.expected}, observed ${f.observed}`).join('; ') ||
        // A kernel test case: its own lines (EXPECTATION FAILED ...) say how it failed.
        [failed.reason, ...failed.dmesg.filter((l) => /FAILED|Expected|not ok/.test(l)).slice(0, 4)].filter(Boolean).join('; '),
      step: failed,
    };
  if (!steps.some((s) => ranAsExpected(s.status))) return { outcome: 'skip', reason: 'nothing ran (every step was skipped)' };
  return { outcome: 'good', reason: 'the scenario passed' };
}

/** Repeated runs of one candidate: agreement gives the verdict; disagreement is flaky, reported and skipped. */
export function combineRepeats(outcomes: readonly Outcome[]): { outcome: Outcome; flaky: boolean } {
  if (outcomes.includes('abort')) return { outcome: 'abort', flaky: false };
  const distinct = new Set(outcomes);
  if (distinct.size === 1) return { outcome: outcomes[0]!, flaky: false };
  return { outcome: 'skip', flaky: true };
}

export type Step =
  | { kind: 'test'; index: number }
  | { kind: 'done'; firstBad: number }
  /** Only skipped candidates separate the last good from the first bad. */
  | { kind: 'ambiguous'; lastGood: number; firstBad: number; skipped: number[] };

/** The next candidate to test, or the answer. verdicts: index → verdict (n-1 is bad by assumption once checked). */
export function nextStep(n: number, verdicts: ReadonlyMap<number, Verdict>): Step {
  let lo = -1;
  let hi = n - 1;
  for (const [i, v] of verdicts) {
    if (v === 'good' && i > lo) lo = i;
  }
  for (const [i, v] of verdicts) {
    if (v === 'bad' && i < hi && i > lo) hi = i;
  }
  const open: number[] = [];
  for (let i = lo + 1; i < hi; i++) if (!verdicts.has(i)) open.push(i);
  if (!open.length) {
    const skipped = [];
    for (let i = lo + 1; i < hi; i++) skipped.push(i);
    return skipped.length ? { kind: 'ambiguous', lastGood: lo, firstBad: hi, skipped } : { kind: 'done', firstBad: hi };
  }
  // The untested candidate nearest the middle of the open interval (skips push it aside).
  const mid = (lo + hi) / 2;
  const pick = [...open].sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid) || a - b)[0]!;
  return { kind: 'test', index: pick };
}
