/**
 * Judging one observed step against its expectations: which guarded blocks
 * apply, what failed, and the step's status. Pure: the observation comes in
 * as data, whatever machine produced it.
 */
import type { Facts } from '../probe/vocabulary.ts';
import { activeExpect, evaluate, type Failure, type Observation, stepEnv } from './expect.ts';
import type { ResolvedStep } from './resolve.ts';
import type { Constants } from './size.ts';
import type { Step } from './types.ts';

/** What judging one observed step can say; the results' statuses (results/records.ts StepStatus) add skip, flaky and a kernel test case's own verdicts. */
export type Judgement = 'pass' | 'fail' | 'error' | 'expected-crash';

export interface Judged {
  status: Judgement;
  failures: Failure[];
  /** Why the step is an error (the run, not the kernel, went wrong). */
  reason?: string;
}

export interface Observed extends Observation {
  /** The run could not observe the step: a timeout, a lost machine, a refused request. */
  error?: string;
}

export function judge(step: Step, r: ResolvedStep, obs: Observed, constants: Constants): Judged {
  if (obs.error) return { status: 'error', failures: [], reason: obs.error };
  const env = stepEnv(constants, r.size, obs.facts as Facts);
  const expect = activeExpect(step.expect, env);
  // A failure with no expectation of its own to point at (an unexpected crash) points at the step.
  const failures = evaluate(expect, obs, env).map((f) => ({ ...f, pos: f.pos ?? step.pos }));
  if (failures.length) return { status: 'fail', failures };
  return { status: expect.crash ? 'expected-crash' : 'pass', failures };
}
