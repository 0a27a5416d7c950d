/**
 * Statistics over repeated runs: a sample's distribution, and whether two
 * samples differ. Pure.
 *
 * The test is lkp-tests' rule, kept because kernel developers already read
 * 0-day reports by it: a metric has changed when both sides have at least
 * `minSamples` samples, the medians differ by at least `minChange` (relative
 * to the base), and the two ranges [min, max] do not overlap. With 5 samples
 * a side, non-overlapping ranges alone happen by chance with probability
 * 2 / C(10,5) = 0.8 %; the size threshold removes the chance separations of
 * quiet metrics. A side with too few samples is undecided, never unchanged.
 *
 * The threshold depends on the accelerator (MIN_CHANGE): lkp's 5 % where
 * the guest runs on the host's CPU (KVM), 15 % under TCG, where moving
 * kernel text by a few bytes moves the cost of unrelated hot paths by up to
 * 12 % (measured: vfree's median between two builds that differ only in the
 * large-kmalloc path).
 */

export interface Distribution {
  n: number;
  samples: number[];
  median: number;
  min: number;
  max: number;
  mean: number;
  /** Relative standard deviation (sample standard deviation / mean); 0 for one sample or a zero mean. */
  rsd: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function distribution(samples: readonly number[]): Distribution {
  if (!samples.length) throw new RangeError('a distribution needs at least one sample');
  const n = samples.length;
  const mean = samples.reduce((a, x) => a + x, 0) / n;
  const variance = n > 1 ? samples.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  return {
    n,
    samples: [...samples],
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    mean,
    rsd: mean === 0 ? 0 : Math.sqrt(variance) / Math.abs(mean),
  };
}

export interface ChangeRule {
  /** Samples needed on each side before anything is called (lkp: 3). */
  minSamples: number;
  /** Smallest relative change of the median that counts (lkp: 5 %). */
  minChange: number;
}

export const DEFAULT_RULE: ChangeRule = { minSamples: 3, minChange: 0.05 };

/** The default threshold per accelerator; an accelerator not listed gets the largest. */
export const MIN_CHANGE: Readonly<Record<string, number>> = { kvm: 0.05, tcg: 0.15 };

/** The rule for runs made with these accelerators, unless the user gave a threshold. */
export function ruleFor(accels: readonly string[], given: Partial<ChangeRule> = {}): ChangeRule {
  const worst = Math.max(...Object.values(MIN_CHANGE));
  const byAccel = accels.length ? Math.max(...accels.map((a) => MIN_CHANGE[a] ?? worst)) : worst;
  return { minSamples: given.minSamples ?? DEFAULT_RULE.minSamples, minChange: given.minChange ?? byAccel };
}

export interface Change {
  verdict: 'changed' | 'unchanged' | 'undecided';
  /** (new median − base median) / |base median|; Infinity from a zero base to a non-zero new. */
  delta: number;
  reason: string;
}

const pct = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%` : x > 0 ? '+∞' : '−∞');

/** Relative change of the median from base to next. */
export function relativeChange(base: Distribution, next: Distribution): number {
  if (base.median === next.median) return 0;
  if (base.median === 0) return next.median > 0 ? Infinity : -Infinity;
  return (next.median - base.median) / Math.abs(base.median);
}

/** Has the metric changed from base to next, by the rule above? */
export function compareSamples(base: Distribution, next: Distribution, rule: ChangeRule = DEFAULT_RULE): Change {
  const delta = relativeChange(base, next);
  if (base.n < rule.minSamples || next.n < rule.minSamples)
    return {
      verdict: 'undecided',
      delta,
      reason: `${Math.min(base.n, next.n)} sample(s) on one side; the rule needs ${rule.minSamples} on each`,
    };
  const apart = next.min > base.max || next.max < base.min;
  if (Math.abs(delta) < rule.minChange)
    return { verdict: 'unchanged', delta, reason: `median ${pct(delta)}, under the ${pct(rule.minChange)} threshold` };
  if (!apart) return { verdict: 'unchanged', delta, reason: `median ${pct(delta)}, but the ranges overlap` };
  return { verdict: 'changed', delta, reason: `median ${pct(delta)}, ranges apart` };
}

export function formatChange(delta: number): string {
  return pct(delta);
}

/**
 * Fisher's exact test, two-sided, on the 2×2 table [[a, b], [c, d]] (here:
 * passes and failures of a step, base row then new row): the probability,
 * with the table's margins fixed, of a table no more likely than this one.
 */
export function fisherExact(a: number, b: number, c: number, d: number): number {
  const n = a + b + c + d;
  const [row, col] = [a + b, a + c];
  const logFact = (k: number) => {
    let s = 0;
    for (let i = 2; i <= k; i++) s += Math.log(i);
    return s;
  };
  const fixed = logFact(row) + logFact(n - row) + logFact(col) + logFact(n - col) - logFact(n);
  const p = (x: number) => Math.exp(fixed - logFact(x) - logFact(row - x) - logFact(col - x) - logFact(n - row - col + x));
  const observed = p(a);
  let sum = 0;
  for (let x = Math.max(0, row + col - n); x <= Math.min(row, col); x++) {
    const px = p(x);
    if (px <= observed * (1 + 1e-9)) sum += px;
  }
  return Math.min(1, sum);
}

/** Below this, a change in a step's pass rate between two repeated runs is not chance. */
export const PASS_RATE_ALPHA = 0.05;
