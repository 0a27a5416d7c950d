/** The comparing commands' flags, parsed before anything runs (cli/compare.ts compares). */
import type { ChangeRule } from '../analysis/stats.ts';
import { UsageError } from '../errors.ts';
import { positiveInt } from './args.ts';

/** `--threshold 5%` (or 0.05): the smallest change of a median that counts. */
export function parseThreshold(v: unknown): number {
  const s = String(v).trim();
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(s);
  const x = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!m || !(x > 0) || x >= 100) throw new UsageError(`--threshold takes a relative change such as 5% or 0.05, not "${s}"`);
  return x;
}

/** The comparison options the command line gives every comparing command. */
export function compareFlags(v: Record<string, unknown>): { acrossHosts: boolean; tcgAbsoluteTimes: boolean } {
  return { acrossHosts: Boolean(v['across-hosts']), tcgAbsoluteTimes: Boolean(v['absolute-times']) };
}

/** What the user set of the rule; the rest is chosen by the runs' accelerator. */
export function parseRule(v: Record<string, unknown>): Partial<ChangeRule> {
  return {
    ...(v.threshold === undefined ? {} : { minChange: parseThreshold(v.threshold) }),
    ...(v['min-samples'] === undefined ? {} : { minSamples: positiveInt(v['min-samples'], '--min-samples') }),
  };
}
