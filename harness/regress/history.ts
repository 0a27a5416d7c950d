/**
 * A history of runs (nightly CI keeps one): each run's outcome, and for the
 * newest against the ones before it, each regression's lifecycle: new,
 * persisting since a given run, or fixed. Metrics' trends over the runs.
 * Pure: the runs come in as records, oldest first.
 */

import { countStatuses, runOutcome } from '../results/outcome.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';
import { isFailed } from '../results/status.ts';
import { failureLine, targetLabel, targetOrder } from '../results/view.ts';
import { type CompareOptions, type Comparison, compareRuns } from './compare.ts';
import { metricsOf } from './metrics.ts';

export interface HistoryRun {
  id: string;
  at: string;
  records: ResultRecord[];
}

export interface RunLine {
  id: string;
  at: string;
  outcome: string;
  targets: string[];
  counts: ReturnType<typeof countStatuses>;
}

export type Lifecycle = 'new' | 'persists' | 'fixed';

export interface Regression {
  kind: 'step' | 'metric';
  /** target › scenario › step (› fact for a metric). */
  what: string;
  lifecycle: Lifecycle;
  /** The first run in which it was seen (persists), or in which it went away (fixed). */
  since: string;
  detail: string;
}

export function runLines(runs: readonly HistoryRun[]): RunLine[] {
  return runs.map((r) => ({
    id: r.id,
    at: r.at,
    outcome: runOutcome(r.records),
    targets: targetOrder(r.records),
    counts: countStatuses(r.records),
  }));
}

const stepId = (s: StepRecord) => `${targetLabel(s.target)} › ${s.scenario} › ${s.name}`;
const bad = (s: StepRecord) => isFailed(s.status) || s.status === 'flaky';

/** Failing or flaky steps of one run, by id. */
function badSteps(rs: readonly ResultRecord[]): Map<string, StepRecord> {
  return new Map(foldRepeats(rs).flatMap((r) => (r.type === 'step' && bad(r) ? [[stepId(r), r] as const] : [])));
}

/**
 * The lifecycle of every regression of the newest run (and of those the
 * newest fixed), looking back over the history. A step counts as regressed
 * while it fails or is flaky; it persists since the first run of the unbroken
 * streak that reaches the newest. A metric regressed at run k when run k is
 * worse than run k−1 by the rule, and persists while the newest is still
 * worse than run k−1; it is fixed when the run before the newest was worse
 * than run k−1 and the newest no longer is.
 */
export function lifecycles(runs: readonly HistoryRun[], o: CompareOptions = {}): Regression[] {
  const n = runs.length;
  if (n < 2) return [];
  const out: Regression[] = [];
  const steps = runs.map((r) => badSteps(r.records));
  const newest = steps[n - 1]!;
  for (const [id, s] of newest) {
    let k = n - 1;
    while (k > 0 && steps[k - 1]!.has(id)) k--;
    const detail = s.reason ?? s.failures.map((f) => failureLine(f, { at: false })).join('; ');
    out.push({ kind: 'step', what: id, lifecycle: k === n - 1 ? 'new' : 'persists', since: runs[k]!.id, detail: `${s.status}: ${detail}` });
  }
  for (const [id, s] of steps[n - 2]!)
    if (!newest.has(id)) out.push({ kind: 'step', what: id, lifecycle: 'fixed', since: runs[n - 1]!.id, detail: `was ${s.status}` });
  // Metrics: consecutive comparisons, and each earlier run against the newest.
  const step: (Comparison | undefined)[] = runs.map((r, k) => (k ? compareRuns(runs[k - 1]!.records, r.records, o) : undefined));
  const toNewest: (Comparison | undefined)[] = runs.map((_, k) =>
    k ? (k === n - 1 ? step[k] : compareRuns(runs[k - 1]!.records, runs[n - 1]!.records, o)) : undefined,
  );
  const toPrev: (Comparison | undefined)[] = runs.map((_, k) =>
    k && k < n - 1 ? compareRuns(runs[k - 1]!.records, runs[n - 2]!.records, o) : undefined,
  );
  const verdict = (c: Comparison | undefined, key: string) => c?.metrics.find((m) => `${m.target} › ${m.name}` === key);
  const keys = new Set(
    step.flatMap((c) => c?.metrics.filter((m) => m.verdict === 'regressed').map((m) => `${m.target} › ${m.name}`) ?? []),
  );
  for (const key of keys) {
    // The latest run at which it regressed.
    let k = n - 1;
    while (k > 0 && verdict(step[k], key)?.verdict !== 'regressed') k--;
    const now = verdict(toNewest[k], key);
    if (now?.verdict === 'regressed') {
      out.push({
        kind: 'metric',
        what: key,
        lifecycle: k === n - 1 ? 'new' : 'persists',
        since: runs[k]!.id,
        detail: `${now.reason} against ${runs[k - 1]!.id}`,
      });
    } else if (k < n - 1 && (k === n - 2 || verdict(toPrev[k], key)?.verdict === 'regressed')) {
      out.push({
        kind: 'metric',
        what: key,
        lifecycle: 'fixed',
        since: runs[n - 1]!.id,
        detail: `regressed at ${runs[k]!.id}; ${now?.reason ?? 'no longer measured'}`,
      });
    }
  }
  return out;
}

export interface TrendPoint {
  run: string;
  median: number;
  min: number;
  max: number;
}

/**
 * Each metric's median (and range) per run, for the metrics that matter to
 * a claim (steps of scenarios that test one), the kernel's own tests and the
 * boot, oldest first; a run that lacks the metric has no point.
 */
export function trends(runs: readonly HistoryRun[]): Map<string, TrendPoint[]> {
  const out = new Map<string, TrendPoint[]>();
  for (const r of runs) {
    const claimSteps = new Set(
      foldRepeats(r.records).flatMap((x) => (x.type === 'step' && (x.claims.length || x.kernelTest) ? [`${x.scenario} › ${x.name}`] : [])),
    );
    for (const m of metricsOf(r.records)) {
      if (m.step && !claimSteps.has(`${m.scenario} › ${m.step}`)) continue;
      const key = `${targetLabel(m.target)} › ${m.name}`;
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push({ run: r.id, median: m.dist.median, min: m.dist.min, max: m.dist.max });
    }
  }
  return out;
}
