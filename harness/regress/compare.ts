/**
 * Comparing two runs (a base and a new one): per step, whether it newly
 * fails, was fixed, still fails or became flaky; per metric, whether it
 * changed by the rule in analysis/stats.ts and whether that is a regression;
 * and which axes besides the kernel differ. Pure.
 */
import { type Change, type ChangeRule, compareSamples, fisherExact, PASS_RATE_ALPHA, ruleFor } from '../analysis/stats.ts';
import type { HostAxes, ResultRecord, StepRecord, StepStatus, TargetRef } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';
import { isFailed, ranAsExpected } from '../results/status.ts';
import { failureLine, resultsView } from '../results/view.ts';
import { type Metric, metricsOf } from './metrics.ts';

export type StepChange =
  | 'new-failure'
  | 'newly-flaky'
  | 'fixed'
  | 'no-longer-flaky'
  | 'still-failing'
  | 'still-flaky'
  | 'error'
  | 'added'
  | 'removed'
  | 'same';

/** The changes that make a comparison a regression (exit 1). */
export const REGRESSING: ReadonlySet<StepChange> = new Set(['new-failure', 'newly-flaky']);

export interface StepComparison {
  pair: string;
  scenario: string;
  step: string;
  base?: StepStatus;
  next?: StepStatus;
  baseRuns?: string;
  nextRuns?: string;
  change: StepChange;
  /**
   * For a step flaky on either side, with at least the rule's minimum of runs
   * on both: Fisher's exact test on the two pass rates (two-sided), and
   * whether it is below PASS_RATE_ALPHA. A newly flaky step whose pass rate
   * did not change significantly (5/5 → 4/5: p = 1) is shown, not a regression.
   */
  passRate?: { p: number; significant: boolean };
  /** The new run's evidence for a failure: what failed, and the kernel log. */
  why?: string;
}

/** Whether a step's change makes the comparison a regression: a regressing kind, and not a pass-rate change within chance. */
export function regresses(s: Pick<StepComparison, 'change' | 'passRate'>): boolean {
  return REGRESSING.has(s.change) && s.passRate?.significant !== false;
}

const FLAKY_CHANGES: ReadonlySet<StepChange> = new Set(['newly-flaky', 'no-longer-flaky', 'still-flaky']);

/** Fisher's exact test on two repeated steps' pass counts, when both ran often enough to say anything. */
export function passRateChange(b: StepRecord, n: StepRecord, minRuns: number): StepComparison['passRate'] {
  if (b.runs === undefined || n.runs === undefined || b.passes === undefined || n.passes === undefined) return undefined;
  if (b.runs < minRuns || n.runs < minRuns) return undefined;
  const p = fisherExact(b.passes, b.runs - b.passes, n.passes, n.runs - n.passes);
  return { p, significant: p < PASS_RATE_ALPHA };
}

export type MetricVerdict = 'regressed' | 'improved' | 'unchanged' | 'undecided' | 'not-compared';

export interface MetricComparison {
  pair: string;
  /** The pair's identity across comparisons: the target, or its arch when two kernels of one arch were paired. */
  target: string;
  name: string;
  fact: string;
  better: Metric['better'];
  unit: string;
  base: Metric['dist'];
  next: Metric['dist'];
  verdict: MetricVerdict;
  delta: number;
  reason: string;
}

export interface Axis {
  name: string;
  base: string;
  next: string;
  /** A difference that makes metric changes meaningless (unless --across-hosts). */
  blocking: boolean;
}

export interface Comparison {
  pairs: Pair[];
  onlyBase: TargetRef[];
  onlyNext: TargetRef[];
  axes: Axis[];
  steps: StepComparison[];
  metrics: MetricComparison[];
  rule: ChangeRule;
  regressed: boolean;
}

export interface CompareOptions {
  /** What the user set; the rest comes from the accelerators the runs used (stats.ts ruleFor). */
  rule?: Partial<ChangeRule>;
  /** Judge metrics even when the accelerator, host or QEMU differ. */
  acrossHosts?: boolean;
  /**
   * Judge absolute times (ns, µs, ms) of runs made under TCG. The command
   * line says no unless told (--absolute-times): under TCG whole boots run
   * up to twice as slowly as others, and the host's load moves every
   * absolute time, so same-kernel runs were called changed in 3.6 % of
   * comparisons (bench:false-alarms, 21 pairs of fixture-good runs), every
   * one an absolute time; facts relative to a reference timed in the same
   * loop (`*_vs_permille`) were never.
   */
  tcgAbsoluteTimes?: boolean;
}

/** Units of absolute time: what TCG's speed moves. */
const TIME_UNITS: ReadonlySet<string> = new Set(['ns', 'µs', 'ms']);

const label = (t: TargetRef) => `${t.arch}/${t.kernel}`;

export interface Pair {
  label: string;
  /** What stays the same from one comparison to the next: the target's label, or the arch for two kernels of one arch. */
  key: string;
  base: TargetRef;
  next: TargetRef;
}
const same = (a: TargetRef, b: TargetRef) => a.arch === b.arch && a.kernel === b.kernel;

/** The targets in plan order, each as its last record names it (with its release and config hash). */
const targetsOf = (records: readonly ResultRecord[]): TargetRef[] => resultsView(records).targets.map((t) => t.ref);

/**
 * Which target of the base run each target of the new run is compared with:
 * the same arch and kernel where both runs have it; otherwise, per arch, the
 * only target on each side (two builds of one arch, the usual question).
 */
export function pairTargets(base: readonly TargetRef[], next: readonly TargetRef[]) {
  const pairs: Pair[] = [];
  const restB = [...base];
  const restN: TargetRef[] = [];
  for (const n of next) {
    const i = restB.findIndex((b) => same(b, n));
    if (i >= 0) pairs.push({ label: label(n), key: label(n), base: restB.splice(i, 1)[0]!, next: n });
    else restN.push(n);
  }
  for (const n of [...restN]) {
    const bs = restB.filter((b) => b.arch === n.arch);
    const ns = restN.filter((x) => x.arch === n.arch);
    if (bs.length === 1 && ns.length === 1) {
      pairs.push({ label: `${n.arch}: ${bs[0]!.kernel} → ${n.kernel}`, key: n.arch, base: bs[0]!, next: n });
      restB.splice(restB.indexOf(bs[0]!), 1);
      restN.splice(restN.indexOf(n), 1);
    }
  }
  return { pairs, onlyBase: restB, onlyNext: restN };
}

function hostOf(records: readonly ResultRecord[]): HostAxes | undefined {
  const b = records.find((r) => r.type === 'run-begin');
  return b?.type === 'run-begin' ? b.host : undefined;
}

/** A guest's accelerator from what its record says ("TCG: /dev/kvm is missing …" → tcg). */
export function accelKind(text: string): string {
  return /^(kvm|tcg)\b/i.exec(text)?.[1]?.toLowerCase() ?? text;
}

/** The accelerators the target's guests booted with. */
function accelsOf(records: readonly ResultRecord[], t: TargetRef): string {
  const s = new Set(records.flatMap((r) => (r.type === 'guest' && same(r.target, t) ? [accelKind(r.accel)] : [])));
  return [...s].sort().join(',') || 'none';
}

function profileOf(records: readonly ResultRecord[], t: TargetRef): Record<string, string> {
  const p = records.find((r) => r.type === 'kernel-profile' && same(r.target, t));
  return p?.type === 'kernel-profile' ? p.options : {};
}

/** The axes that differ between the two runs (the kernel's own identity among them, as information). */
export function differingAxes(base: readonly ResultRecord[], next: readonly ResultRecord[], pairs: Comparison['pairs']): Axis[] {
  const out: Axis[] = [];
  const put = (name: string, b: unknown, n: unknown, blocking: boolean) => {
    const [bs, ns] = [b === undefined ? '?' : String(b), n === undefined ? '?' : String(n)];
    if (bs !== ns && !out.some((a) => a.name === name && a.base === bs && a.next === ns)) out.push({ name, base: bs, next: ns, blocking });
  };
  const [hb, hn] = [hostOf(base), hostOf(next)];
  put('host CPU model', hb?.hostCpuModel, hn?.hostCpuModel, true);
  put('host CPUs', hb?.hostCpus, hn?.hostCpus, true);
  for (const a of new Set([...Object.keys(hb?.qemu ?? {}), ...Object.keys(hn?.qemu ?? {})]))
    put(`QEMU (${a})`, hb?.qemu[a], hn?.qemu[a], true);
  put('guest memory (MiB)', hb?.guestMemoryMb, hn?.guestMemoryMb, true);
  put('guest CPUs', hb?.guestCpus, hn?.guestCpus, true);
  put('kharness', hb?.kharness, hn?.kharness, false);
  for (const p of pairs) {
    put(`${p.label}: accelerator`, accelsOf(base, p.base), accelsOf(next, p.next), true);
    put(`${p.label}: release`, p.base.release, p.next.release, false);
    put(`${p.label}: config hash`, p.base.configHash?.slice(0, 12), p.next.configHash?.slice(0, 12), false);
    const [pb, pn] = [profileOf(base, p.base), profileOf(next, p.next)];
    for (const o of new Set([...Object.keys(pb), ...Object.keys(pn)])) put(`${p.label}: ${o}`, pb[o], pn[o], false);
  }
  return out;
}

const failing = (s: StepStatus) => isFailed(s);

export function stepChange(base: StepStatus | undefined, next: StepStatus | undefined): StepChange {
  if (base === undefined) return next && failing(next) ? 'new-failure' : next === 'flaky' ? 'newly-flaky' : 'added';
  if (next === undefined) return 'removed';
  if (next === 'error' || base === 'error') return next === base ? 'same' : 'error';
  if (failing(next)) return failing(base) ? 'still-failing' : 'new-failure';
  if (next === 'flaky') return base === 'flaky' ? 'still-flaky' : 'newly-flaky';
  if (failing(base) && ranAsExpected(next)) return 'fixed';
  if (base === 'flaky' && ranAsExpected(next)) return 'no-longer-flaky';
  return 'same';
}

const runsOf = (s: StepRecord) =>
  s.runs !== undefined ? `${s.passes}/${s.runs}` : ranAsExpected(s.status) ? '1/1' : s.status === 'skip' ? '0/0' : '0/1';

function evidence(s: StepRecord): string | undefined {
  const parts = [s.reason, ...s.failures.map((f) => failureLine(f, { at: false })), ...s.splats.slice(0, 1).map((x) => x.title)].filter(
    Boolean,
  );
  return parts.length ? parts.join('; ') : undefined;
}

export function verdictOf(c: Change, better: Metric['better']): MetricVerdict {
  if (c.verdict !== 'changed') return c.verdict;
  const up = c.delta > 0;
  return (better === 'lower') === up ? 'regressed' : 'improved';
}

export function compareRuns(baseIn: readonly ResultRecord[], nextIn: readonly ResultRecord[], o: CompareOptions = {}): Comparison {
  const [base, next] = [foldRepeats(baseIn), foldRepeats(nextIn)];
  const accels = [...base, ...next].flatMap((r) => (r.type === 'guest' ? [accelKind(r.accel)] : []));
  const rule = ruleFor([...new Set(accels)], o.rule);
  const skipTimes = accels.includes('tcg') && o.tcgAbsoluteTimes === false;
  const { pairs, onlyBase, onlyNext } = pairTargets(targetsOf(base), targetsOf(next));
  const axes = differingAxes(base, next, pairs);
  const blocked = axes.filter((a) => a.blocking);
  const steps: StepComparison[] = [];
  const metrics: MetricComparison[] = [];
  const [mb, mn] = [metricsOf(base), metricsOf(next)];
  for (const p of pairs) {
    const ofTarget = (rs: ResultRecord[], t: TargetRef) => rs.filter((r): r is StepRecord => r.type === 'step' && same(r.target, t));
    const bSteps = new Map(ofTarget(base, p.base).map((s) => [`${s.scenario}\u0000${s.name}`, s]));
    const nSteps = new Map(ofTarget(next, p.next).map((s) => [`${s.scenario}\u0000${s.name}`, s]));
    for (const k of new Set([...bSteps.keys(), ...nSteps.keys()])) {
      const [b, n] = [bSteps.get(k), nSteps.get(k)];
      const change = stepChange(b?.status, n?.status);
      const passRate = b && n && FLAKY_CHANGES.has(change) ? passRateChange(b, n, rule.minSamples) : undefined;
      const any = (n ?? b)!;
      steps.push({
        pair: p.label,
        scenario: any.scenario,
        step: any.name,
        base: b?.status,
        next: n?.status,
        baseRuns: b && runsOf(b),
        nextRuns: n && runsOf(n),
        change,
        ...(passRate ? { passRate } : {}),
        why: n && (failing(n.status) || n.status === 'flaky' || n.status === 'error') ? evidence(n) : undefined,
      });
    }
    const bm = new Map(mb.filter((m) => same(m.target, p.base)).map((m) => [m.name, m]));
    for (const n of mn.filter((m) => same(m.target, p.next))) {
      const b = bm.get(n.name);
      if (!b) continue;
      const c = compareSamples(b.dist, n.dist, rule);
      const hostBlocked = blocked.length > 0 && !o.acrossHosts;
      const timeBlocked = skipTimes && TIME_UNITS.has(n.unit);
      const verdict: MetricVerdict = hostBlocked || timeBlocked ? 'not-compared' : verdictOf(c, n.better);
      metrics.push({
        pair: p.label,
        target: p.key,
        name: n.name,
        fact: n.fact,
        better: n.better,
        unit: n.unit,
        base: b.dist,
        next: n.dist,
        verdict,
        delta: c.delta,
        reason:
          verdict === 'not-compared'
            ? hostBlocked
              ? `not judged: ${blocked.map((a) => `${a.name} differs (${a.base} → ${a.next})`).join('; ')}`
              : 'not judged: an absolute time under TCG moves with the emulator and the host (--absolute-times judges it)'
            : c.reason,
      });
    }
  }
  const regressed = steps.some(regresses) || metrics.some((m) => m.verdict === 'regressed');
  return { pairs, onlyBase, onlyNext, axes, steps, metrics, rule, regressed };
}
