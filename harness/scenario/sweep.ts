/** Expanding a step's size sweep against the guest's constants. Pure. */
import { evalSize, formatSize, type Constants } from './size.ts';
import type { Action, Step } from './types.ts';

export interface StepInstance {
  action: Action;
  /** The step's size in bytes, when it has one: `size` in expectations. */
  size?: number;
  /** The step name, with the swept size appended. */
  name: string;
}

/** Sizes a range covers: from, from·factor, … up to and including to. Deduplicated and sorted. */
export function sweepSizes(step: Step, c: Constants): number[] {
  const sw = step.sweep!;
  const out = new Set(sw.values.map((v) => evalSize(v, c)));
  if (sw.range) {
    const from = evalSize(sw.range.from, c);
    const to = evalSize(sw.range.to, c);
    if (from <= 0) throw new Error('a size range must start above 0');
    for (let v = from; v <= to; v *= sw.range.factor) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

export function expandStep(step: Step, c: Constants): StepInstance[] {
  const a = step.action;
  const fixedSize = (a.kind === 'alloc' || a.kind === 'time') && a.size ? evalSize(a.size, c) : undefined;
  if (!step.sweep || (a.kind !== 'alloc' && a.kind !== 'time')) return [{ action: a, size: fixedSize, name: step.name }];
  return sweepSizes(step, c).map((n) => ({
    action: { ...a, size: { kind: 'num', value: n }, sizeText: String(n) },
    size: n,
    name: `${step.name} [${formatSize(n)}]`,
  }));
}
