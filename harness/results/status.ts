/** What a step's status means for the run: went as expected, failed, or neither. */
import type { StepStatus } from './records.ts';

/** Statuses that count as going as expected (a skip is no failure either). */
export function isOk(s: StepStatus): boolean {
  return ranAsExpected(s) || s === 'skip';
}

/** Statuses of a step that ran and behaved as expected (a skip did not run). */
export function ranAsExpected(s: StepStatus): boolean {
  return s === 'pass' || s === 'expected-crash' || s === 'expected-fail';
}

/** Statuses that count as a test failure (not an error); flaky is its own kind. */
export function isFailed(s: StepStatus): boolean {
  return s === 'fail' || s === 'unexpected-pass';
}
