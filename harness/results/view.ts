/**
 * The one view of a run that every reporter reads, in the spirit of vitest's
 * reported tasks: the targets in plan order (whatever order they ran or
 * finished in), each with its steps, guests and end; the steps in that
 * order; the counts and the outcome; and the two ways a run is put in words
 * everywhere — the failure line and the counts. A reporter renders this
 * view; it does not derive its own. Pure.
 */
import { isAbsolute, relative } from 'node:path';
import type { Failure } from '../scenario/expect.ts';
import { countStatuses, runOutcome } from './outcome.ts';
import type { ResultRecord, RunOutcome, StepRecord, StepStatus, TargetRef } from './records.ts';
import { foldRepeats } from './repeats.ts';

export type GuestRecord = Extract<ResultRecord, { type: 'guest' }>;
export type TargetEnd = Extract<ResultRecord, { type: 'target-end' }>;

/** A target as every report names it: "x86_64/6.1". */
export function targetLabel(t: { arch: string; kernel: string }): string {
  return `${t.arch}/${t.kernel}`;
}

const targetOf = (r: ResultRecord): TargetRef | undefined => ('target' in r ? r.target : undefined);

/** The run's plan (its run-begin's targets), as labels; empty for a run that predates it. */
export function planOf(records: readonly ResultRecord[]): string[] {
  const begin = records.find((r) => r.type === 'run-begin');
  return begin?.type === 'run-begin' ? (begin.targets ?? []).map(targetLabel) : [];
}

/**
 * The labels in plan order: those the plan names in its order, then any
 * other in the order given (a run from before plans were recorded keeps the
 * order its targets began in). Stable.
 */
export function byPlan<T>(items: readonly T[], label: (x: T) => string | undefined, plan: readonly string[]): T[] {
  const rank = new Map(plan.map((t, i) => [t, i]));
  const at = (x: T) => {
    const l = label(x);
    return l === undefined ? -1 : (rank.get(l) ?? plan.length);
  };
  return [...items].sort((a, b) => at(a) - at(b));
}

/** Every target that has a record, in plan order. */
export function targetOrder(records: readonly ResultRecord[]): string[] {
  const seen = [...new Set(records.flatMap((r) => (targetOf(r) ? [targetLabel(targetOf(r)!)] : [])))];
  return byPlan(seen, (t) => t, planOf(records));
}

/**
 * The records with each target's together, targets in plan order: the run's
 * own records (run-begin) first and run-end last, each target's in the order
 * written. What a replay feeds the terminal reporter.
 */
export function inPlanOrder(records: readonly ResultRecord[]): ResultRecord[] {
  const order = targetOrder(records);
  const rank = new Map(order.map((t, i) => [t, i]));
  const at = (r: ResultRecord) => {
    const t = targetOf(r);
    return t ? rank.get(targetLabel(t))! : r.type === 'run-end' ? order.length : -1;
  };
  return [...records].sort((a, b) => at(a) - at(b));
}

export interface TargetView {
  /** "x86_64/6.1". */
  label: string;
  /** The target as its last record names it (with the kernel's release and config hash once known). */
  ref: TargetRef;
  steps: StepRecord[];
  guests: GuestRecord[];
  end?: TargetEnd;
}

export interface ResultsView {
  /** Every record, repeated runs folded, in plan order (inPlanOrder). */
  records: ResultRecord[];
  /** The targets in plan order, the same in every reporter. */
  targets: TargetView[];
  /** Every step, target by target in plan order, each target's in the order they ran. */
  steps: StepRecord[];
  counts: Record<StepStatus, number>;
  outcome: RunOutcome;
}

/** The view of a run; folded and ordered, so a view of a view's records is the same view. */
export function resultsView(records: readonly ResultRecord[]): ResultsView {
  const ordered = inPlanOrder(foldRepeats(records));
  const targets = new Map<string, TargetView>();
  for (const r of ordered) {
    const ref = targetOf(r);
    if (!ref) continue;
    const label = targetLabel(ref);
    const t = targets.get(label) ?? { label, ref, steps: [], guests: [] };
    t.ref = { ...t.ref, ...ref };
    if (r.type === 'step') t.steps.push(r);
    if (r.type === 'guest') t.guests.push(r);
    if (r.type === 'target-end') t.end = r;
    targets.set(label, t);
  }
  return {
    records: ordered,
    targets: [...targets.values()],
    steps: [...targets.values()].flatMap((t) => t.steps),
    counts: countStatuses(ordered),
    outcome: runOutcome(ordered),
  };
}

/** A scenario path as a reader wants it: relative to the working directory when it lies below it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const r = relative(cwd, file);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : file;
}

/** The failed expectation's place in its YAML file: `scenarios/x.yaml:17:9`, or nothing. */
export function where(f: Failure): string {
  return f.pos ? `${displayPath(f.pos.file)}:${f.pos.line}:${f.pos.column}` : '';
}

/** How a medium shows the parts of a failure line: text from outside made safe, the place and the observation marked. */
export interface FailureStyle {
  /** Every part taken from the run (names, values); e.g. control characters made visible. */
  text?: (s: string) => string;
  at?: (s: string) => string;
  observed?: (s: string) => string;
}

const same = (s: string) => s;

/**
 * The one failure line of every report: the expectation's place in its YAML
 * file, what was expected and what was observed —
 * `scenarios/x.yaml:17:9: phys_runs: expected 1, observed 3`. Without the
 * place (`{ at: false }`) where the medium says it otherwise (an
 * annotation's own file and line) or a step's name stands for it.
 */
export function failureLine(f: Failure, o: { at?: boolean; style?: FailureStyle } = {}): string {
  const text = o.style?.text ?? same;
  const place = o.at === false ? '' : where(f);
  const at = place ? `${(o.style?.at ?? same)(text(place))}: ` : '';
  return `${at}${text(f.what)}: expected ${text(f.expected)}, observed ${(o.style?.observed ?? same)(text(f.observed))}`;
}

/** Each status in words, in the one order every report counts them in. */
export const STATUS_WORDS: Readonly<Record<StepStatus, string>> = {
  pass: 'passed',
  'expected-crash': 'expected crashes',
  'expected-fail': 'expected failures',
  fail: 'failed',
  'unexpected-pass': 'passed unexpectedly',
  flaky: 'flaky',
  error: 'errors',
  skip: 'skipped',
};

/**
 * The counts in words: "64 passed, 1 expected crashes, …". Every status,
 * zeros included, unless `zeros: false` (then nothing when nothing ran);
 * `paint` marks each part (a terminal's colours). Counts from older runs may
 * lack the newer statuses: those count 0.
 */
export function countsLine(
  c: Partial<Record<StepStatus, number>>,
  o: { zeros?: boolean; paint?: (status: StepStatus, text: string) => string } = {},
): string {
  return (Object.keys(STATUS_WORDS) as StepStatus[])
    .filter((s) => o.zeros !== false || c[s])
    .map((s) => (o.paint ?? ((_, t) => t))(s, `${c[s] ?? 0} ${STATUS_WORDS[s]}`))
    .join(', ');
}
