/**
 * Every kind of step, by the action it runs: the only place that maps an
 * action to what runs it. A new kind of step is a file beside this one and
 * a row here (and its words in the scenario vocabulary); the scenario loop
 * does not change.
 */
import { type TargetFacts, unmetReason } from '../../scenario/requires.ts';
import type { Action, Step } from '../../scenario/types.ts';
import { injectUnmetReason } from './inject.ts';
import { kernelTestStep } from './kernel-test.ts';
import type { Instance, StepKind } from './kind.ts';
import { moduleStep } from './module.ts';
import { moduleSweepStep } from './module-sweep.ts';
import { probeStep } from './probe.ts';

export const STEP_KINDS: { readonly [K in Action['kind']]: StepKind<Extract<Action, { kind: K }>, Instance> } = {
  alloc: probeStep,
  free: probeStep,
  inspect: probeStep,
  scan: probeStep,
  pause: probeStep,
  fragment: probeStep,
  unfragment: probeStep,
  time: probeStep,
  query: probeStep,
  'kernel-test': kernelTestStep,
  'module-load': moduleStep,
  'module-exec': moduleStep,
  'module-unload': moduleStep,
  'module-cycles': moduleStep,
  'module-sweep': moduleSweepStep,
};

export function kindOf(step: Step): StepKind {
  return STEP_KINDS[step.action.kind];
}

/** Why a step cannot run on the target: its own requirements, or what its kind needs that the kernel lacks. */
export function stepUnmetReason(step: Step, t: TargetFacts): string | undefined {
  return unmetReason(step.requires, t) ?? kindOf(step).unmet(step, t) ?? injectUnmetReason(step, t);
}
