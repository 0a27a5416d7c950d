/**
 * Resolving a step against the guest's constants: every size expression is
 * evaluated here, once, and a sweep becomes one instance per size. What comes
 * out is numbers only (a ProbeAction), ready to format. Pure.
 */
import type { ProbeAction } from '../probe/protocol.ts';
import { type Constants, evalSize, formatSize, type SizeExpr } from './size.ts';
import type { ProbeStep, Step } from './types.ts';

/** A sweep that expands past this is refused: a typo in a range must not plan millions of steps. */
export const MAX_SWEEP_STEPS = 1000;

export interface ResolvedStep {
  action: ProbeAction;
  /** The step's size in bytes, when it has one: `size` in expectations. */
  size?: number;
  /** The step name, with the swept size appended. */
  name: string;
}

export class ResolveError extends Error {}

function bytes(e: SizeExpr, c: Constants, what: string): number {
  const n = evalSize(e, c);
  if (!Number.isSafeInteger(n)) throw new ResolveError(`${what} evaluates to ${n}, which is not a whole number of bytes`);
  if (n < 0) throw new ResolveError(`${what} evaluates to ${n}, below zero`);
  return n;
}

/** Sizes a sweep covers: listed ones, and from, from·factor, … up to and including to. Deduplicated and sorted. */
export function sweepSizes(step: Step, c: Constants): number[] {
  const sw = step.sweep!;
  const out = new Set(sw.values.map((v) => bytes(v, c, 'a swept size')));
  if (sw.range) {
    const from = bytes(sw.range.from, c, 'the sweep\'s "from"');
    const to = bytes(sw.range.to, c, 'the sweep\'s "to"');
    if (from <= 0) throw new ResolveError('a size range must start above 0');
    for (let v = from; v <= to; v *= sw.range.factor) {
      out.add(v);
      if (out.size > MAX_SWEEP_STEPS) throw new ResolveError(`the sweep expands to more than ${MAX_SWEEP_STEPS} sizes`);
    }
  }
  return [...out].sort((a, b) => a - b);
}

function resolveAction(step: ProbeStep, c: Constants, sweptSize?: number): ProbeAction {
  const a = step.action;
  switch (a.kind) {
    case 'alloc': {
      const { size: expr, ...rest } = a;
      const size = sweptSize ?? (expr ? bytes(expr, c, 'the size') : undefined);
      return { ...rest, size, ...(step.inject ? { inject: step.inject.nth } : {}) };
    }
    case 'time': {
      const { size: expr, ...rest } = a;
      const size = sweptSize ?? (expr ? bytes(expr, c, 'the size') : undefined);
      return { ...rest, size };
    }
    case 'fragment':
      return { kind: 'fragment', pages: bytes(a.pages, c, 'the page count') };
    case 'scan':
      return { kind: 'scan', name: a.name, len: bytes(a.len, c, 'the scan length'), mark: bytes(a.mark, c, 'the mark') };
    default:
      return a;
  }
}

export function resolveStep(step: ProbeStep, c: Constants): ResolvedStep[] {
  const a = step.action;
  if (!step.sweep || (a.kind !== 'alloc' && a.kind !== 'time')) {
    const action = resolveAction(step, c);
    const size = action.kind === 'alloc' || action.kind === 'time' ? action.size : undefined;
    return [{ action, size, name: step.name }];
  }
  return sweepSizes(step, c).map((n) => ({ action: resolveAction(step, c, n), size: n, name: `${step.name} [${formatSize(n)}]` }));
}
