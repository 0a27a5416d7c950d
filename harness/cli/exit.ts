/**
 * Exit codes, decided here and nowhere else. Commands end in an outcome (a
 * run's, or `done`); errors that escape a command are usage, setup, build,
 * boot or infrastructure errors (2), or bugs (2, with a stack).
 */
import { KharnessError } from '../errors.ts';
import type { RunOutcome } from '../results/records.ts';

/**
 * `done`: the command did what it was asked; `missing`: doctor found the host
 * lacking; `{ guest }`: `shell --exec` ran a command in the guest, whose exit
 * code becomes kharness's (a command killed by a signal: 1).
 */
export type Outcome = RunOutcome | 'done' | 'missing' | { guest: number | null };

const CODES: Record<Exclude<Outcome, object>, number> = {
  done: 0,
  passed: 0,
  // A test failed: the kernel did something a scenario did not expect.
  failed: 1,
  // With --repeat: no step failed in every run, but some failed in some runs (and nothing failed outright).
  flaky: 3,
  // Something kept tests from running or being judged.
  error: 2,
  incomplete: 2,
  missing: 2,
  interrupted: 130,
};

export function exitCode(o: Outcome): number {
  if (typeof o === 'object') return o.guest ?? 1;
  return CODES[o];
}

/** An error that ended a command: usage and setup errors and bugs alike exit 2; an interrupt 130. */
export function exitCodeOfError(e: unknown, interrupted: boolean): number {
  if (interrupted || (e instanceof KharnessError && e.code === 'INTERRUPTED')) return CODES.interrupted;
  return 2;
}
