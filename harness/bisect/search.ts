/**
 * Bisection over an ordered list of candidates (commits oldest to newest, or
 * catalog kernels in release order), as pure functions over a verdict map.
 * Candidates are tested by index: -1 is the known-good end, n-1 the known-bad
 * end. Skipped candidates are stepped around; flaky ones count as skipped.
 */
import { type ChangeRule, compareSamples, type Distribution, formatChange, relativeChange } from '../analysis/stats.ts';
import { verdictOf } from '../regress/compare.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { isFailed, ranAsExpected } from '../results/status.ts';
import { failureLine } from '../results/view.ts';

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
 * How a run failed, to tell one failure from another: the failing step,
 * what of it failed (its expectations' subjects), and the kernel reports it
 * caused, with line numbers, offsets and addresses taken out (they move from
 * commit to commit).
 */
export interface Signature {
  step: string;
  what: string[];
  reports: string[];
}

export function normalizeReport(title: string): string {
  return title
    .replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+/gi, '')
    .replace(/0x[0-9a-f]+/gi, 'ADDR')
    .replace(/([\w./-]+\.[chS]):\d+/g, '$1')
    .replace(/\[#?\d+\]/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

export function signatureOf(s: StepRecord): Signature {
  return {
    step: s.name,
    what: [...new Set(s.failures.map((f) => f.what))].sort(),
    reports: [...new Set(s.splats.map((x) => normalizeReport(x.title)))].sort(),
  };
}

export function signatureText(g: Signature): string {
  return `step "${g.step}" (${[...g.what, ...g.reports].join(', ') || 'failed'})`;
}

const sameSignature = (a: Signature, b: Signature) =>
  a.step === b.step && a.what.join('\n') === b.what.join('\n') && a.reports.join('\n') === b.reports.join('\n');

/**
 * One run's records → good, bad, skip (the candidate cannot be judged: it
 * does not build or boot, or it fails in a way other than `signature`, the
 * failure the bisect is after) or abort (the harness or host failed: stop
 * rather than give a wrong answer). With `stepName`, only that step's
 * expectation decides good or bad.
 */
export function classify(records: readonly ResultRecord[], stepName?: string, signature?: Signature): Classified {
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
  const failing = steps.filter((s) => isFailed(s.status));
  // A failure unlike the one being bisected (an unrelated crash, another expectation) must not steer the search.
  const failed = signature ? failing.find((s) => sameSignature(signatureOf(s), signature)) : failing[0];
  if (!failed && failing.length)
    return {
      outcome: 'skip',
      reason: `fails differently: ${signatureText(signatureOf(failing[0]!))}, not ${signatureText(signature!)}`,
      step: failing[0],
    };
  if (failed)
    return {
      outcome: 'bad',
      reason:
        failed.failures.map((f) => failureLine(f, { at: false })).join('; ') ||
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

/** The samples of one fact of one step, one per run (repeat) that ran the step and reported it. */
export function metricSamples(records: readonly ResultRecord[], stepName: string, fact: string): number[] {
  return records.flatMap((r) =>
    r.type === 'step' && r.name === stepName && r.status !== 'skip' && typeof r.facts[fact] === 'number' ? [r.facts[fact] as number] : [],
  );
}

export interface MetricJudgement {
  outcome: Verdict | 'undecided';
  reason: string;
}

/**
 * A candidate's metric against both ends, by the same rule: bad when it is
 * worse than the good end and not better than the bad end; good when it is
 * not worse than the good end and better than the bad end; anything else
 * (too few samples, between the two, noisier than the rule can separate) is
 * undecided: more samples, or a skip, never a guess.
 */
export function judgeMetric(
  cand: Distribution,
  good: Distribution,
  bad: Distribution,
  better: 'lower' | 'higher',
  rule: ChangeRule,
): MetricJudgement {
  const vsGood = verdictOf(compareSamples(good, cand, rule), better);
  const vsBad = verdictOf(compareSamples(bad, cand, rule), better);
  const [dg, db] = [formatChange(relativeChange(good, cand)), formatChange(relativeChange(bad, cand))];
  const text = `against the good end ${dg} (${vsGood}), against the bad end ${db} (${vsBad})`;
  if (vsGood === 'regressed' && vsBad === 'unchanged') return { outcome: 'bad', reason: text };
  if (vsGood === 'unchanged' && vsBad === 'improved') return { outcome: 'good', reason: text };
  return { outcome: 'undecided', reason: text };
}
