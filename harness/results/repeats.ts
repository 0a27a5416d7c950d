/**
 * Repeated runs (`--repeat N`) folded into one record per step: how many runs
 * ran it, how many went as expected, each run's status, and the distribution
 * of each numeric fact. Runs that disagree make the step `flaky`, never a
 * quiet pass or fail. Pure, and idempotent: folded records fold to
 * themselves, so every reader may fold what it is given.
 */
import { type Distribution, distribution, median } from '../analysis/stats.ts';
import type { FactValue } from '../probe/vocabulary.ts';
import type { ResultRecord, StepRecord, StepStatus } from './records.ts';
import { isFailed, ranAsExpected } from './status.ts';

/** A step's identity across runs: target, scenario, step (a sweep's instance named in full). */
export function stepKey(s: Pick<StepRecord, 'target' | 'scenario' | 'name'>): string {
  return `${s.target.arch}\u0000${s.target.kernel}\u0000${s.scenario}\u0000${s.name}`;
}

/** True when the stream holds more than one run of some target's scenarios. */
export function hasRepeats(records: readonly ResultRecord[]): boolean {
  return records.some((r) => r.type === 'step' && (r.repeat ?? 1) > 1);
}

/**
 * The status of a step from its runs' statuses. Runs that did not reach it
 * (skipped: the machine was lost earlier in that run) do not count. An error
 * in any run makes it an error (that run could not be judged); runs that
 * both went as expected and failed make it flaky.
 */
export function foldStatus(statuses: readonly StepStatus[]): StepStatus {
  const ran = statuses.filter((s) => s !== 'skip');
  if (!ran.length) return 'skip';
  if (ran.includes('error')) return 'error';
  if (ran.includes('flaky')) return 'flaky';
  const ok = ran.filter(ranAsExpected);
  const failed = ran.filter(isFailed);
  if (ok.length && failed.length) return 'flaky';
  const pool = ok.length ? ok : failed;
  // The most frequent, the earliest on a tie.
  const count = (s: StepStatus) => pool.filter((x) => x === s).length;
  return [...pool].sort((a, b) => count(b) - count(a))[0]!;
}

/** Distributions of the numeric facts (and meminfo changes, as `meminfo:Field`) over the runs that ran the step. */
export function factDistributions(runs: readonly StepRecord[]): Record<string, Distribution> {
  const samples = new Map<string, number[]>();
  const add = (k: string, v: FactValue | undefined) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return;
    if (!samples.has(k)) samples.set(k, []);
    samples.get(k)!.push(v);
  };
  for (const r of runs) {
    for (const [k, v] of Object.entries(r.facts)) add(k, v);
    for (const [k, v] of Object.entries(r.meminfoDelta ?? {})) add(`meminfo:${k}`, v);
  }
  return Object.fromEntries([...samples].map(([k, xs]) => [k, distribution(xs)]));
}

function runsText(statuses: readonly StepStatus[]): string {
  const failedIn = statuses.flatMap((s, i) => (isFailed(s) ? [i + 1] : []));
  const ran = statuses.filter((s) => s !== 'skip').length;
  const passes = statuses.filter(ranAsExpected).length;
  return `passed ${passes} of ${ran} runs (failed in run${failedIn.length > 1 ? 's' : ''} ${failedIn.join(', ')})`;
}

/** One step's runs (in repeat order) as one record. */
export function foldStep(runs: readonly StepRecord[]): StepRecord {
  const statuses = runs.map((r) => r.status);
  const status = foldStatus(statuses);
  const ran = runs.filter((r) => r.status !== 'skip');
  const stats = factDistributions(ran);
  // The evidence shown is that of the run that decided: the first error, else the first failure, else the first that ran.
  const shown = runs.find((r) => r.status === 'error') ?? runs.find((r) => isFailed(r.status)) ?? ran[0] ?? runs[0]!;
  const facts = { ...shown.facts };
  for (const [k, d] of Object.entries(stats)) if (!k.startsWith('meminfo:')) facts[k] = d.median;
  const meminfo = Object.entries(stats).filter(([k]) => k.startsWith('meminfo:'));
  const reason =
    status === 'flaky'
      ? `flaky: ${runsText(statuses)}`
      : status === 'skip' || runs.length === 1
        ? shown.reason
        : [shown.reason, shown.status === 'error' ? `in run ${runs.indexOf(shown) + 1}` : undefined].filter(Boolean).join(' ') || undefined;
  const out: StepRecord = {
    ...shown,
    status,
    reason,
    facts,
    runs: ran.length,
    passes: ran.filter((r) => ranAsExpected(r.status)).length,
    statuses,
    stats,
    ms: median(runs.map((r) => r.ms)),
    meminfoDelta: meminfo.length ? Object.fromEntries(meminfo.map(([k, d]) => [k.slice('meminfo:'.length), d.median])) : shown.meminfoDelta,
  };
  delete out.repeat;
  return out;
}

/**
 * The stream with every repeated step folded into one record, placed where
 * its first run was; other records are kept as they are. A stream without
 * repeats comes back unchanged.
 */
export function foldRepeats(records: readonly ResultRecord[]): ResultRecord[] {
  if (!hasRepeats(records)) return [...records];
  const groups = new Map<string, StepRecord[]>();
  for (const r of records) {
    if (r.type !== 'step') continue;
    const k = stepKey(r);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(r);
  }
  const out: ResultRecord[] = [];
  const placed = new Set<string>();
  for (const r of records) {
    if (r.type !== 'step') {
      out.push(r);
      continue;
    }
    const k = stepKey(r);
    if (placed.has(k)) continue;
    placed.add(k);
    const runs = [...groups.get(k)!].sort((a, b) => (a.repeat ?? 1) - (b.repeat ?? 1));
    out.push(runs.length > 1 ? foldStep(runs) : runs[0]!);
  }
  return out;
}
