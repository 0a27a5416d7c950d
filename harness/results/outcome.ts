/**
 * How a run came out, from its records: the outcome and the count of each
 * status, over repeated runs folded. Pure.
 */
import type { ResultRecord, RunOutcome, StepStatus } from './records.ts';
import { foldRepeats } from './repeats.ts';
import { isFailed } from './status.ts';

/**
 * passed: every step passed or was skipped; failed: a test failed; error:
 * something kept tests from running (build, boot, infrastructure, a step
 * that could not be observed); interrupted: Ctrl-C or SIGTERM; incomplete:
 * the stream has no run-end (the harness was killed), so it cannot say.
 */
export function runOutcome(records: readonly ResultRecord[]): RunOutcome {
  const end = records.find((r) => r.type === 'run-end');
  if (!end) return 'incomplete';
  if (end.type === 'run-end' && end.outcome === 'interrupted') return 'interrupted';
  // A merge records 'incomplete' when one of its shards never ended: that stands.
  if (end.type === 'run-end' && end.outcome === 'incomplete') return 'incomplete';
  return stepsOutcome(records);
}

/**
 * The outcome of the records seen so far, as if the run ended now. Repeated
 * runs count per step, folded: a step that failed in some runs only is flaky.
 */
export function stepsOutcome(records: readonly ResultRecord[]): RunOutcome {
  let outcome: RunOutcome = 'passed';
  for (const r of foldRepeats(records)) {
    if (r.type === 'target-end' && r.status === 'interrupted') return 'interrupted';
    if (r.type === 'target-end' && r.status !== 'ok') outcome = 'error';
    if (r.type === 'step' && r.status === 'error') outcome = 'error';
    if (r.type === 'step' && isFailed(r.status)) outcome = outcome === 'error' ? 'error' : 'failed';
    if (r.type === 'step' && r.status === 'flaky' && outcome === 'passed') outcome = 'flaky';
  }
  return outcome;
}

export function countStatuses(records: readonly ResultRecord[]): Record<StepStatus, number> {
  const c: Record<StepStatus, number> = {
    pass: 0,
    fail: 0,
    skip: 0,
    error: 0,
    'expected-crash': 0,
    'expected-fail': 0,
    'unexpected-pass': 0,
    flaky: 0,
  };
  for (const r of foldRepeats(records)) if (r.type === 'step') c[r.status]++;
  return c;
}
