/**
 * Joining the results of several runs (CI shards) into one stream: one
 * run-begin, every target's records in order, one run-end with the counts
 * and outcome recomputed over everything. Pure: it also says which target
 * directories (console and kernel logs) to copy from which run, and the
 * caller copies them.
 *
 * A target is the unit: shards own whole targets (plan.ts shardTargets), so
 * a target found in two runs is the same work done twice — a CI job re-run
 * after a failure, whose first attempt's artifact is still there. The merge
 * keeps the latest run of it (by its run-begin time) and says so, rather
 * than counting both attempts' steps or letting one attempt's logs overwrite
 * the other's.
 */
import { basename, dirname, join } from 'node:path';
import { countStatuses, stepsOutcome } from '../results/outcome.ts';
import type { ResultRecord, RunOutcome } from '../results/records.ts';
import { targetLabel } from '../results/view.ts';
import { type Target, targetSlug } from './plan.ts';

type RunEnd = Extract<ResultRecord, { type: 'run-end' }>;
type RunBegin = Extract<ResultRecord, { type: 'run-begin' }>;

export interface RunInput {
  /** How the run is named in messages: its directory. */
  name: string;
  records: ResultRecord[];
}

export interface MergedRuns {
  records: ResultRecord[];
  /** Target directories to copy: from run `run` (an index into the inputs), `from` under it, to `to` under the output. */
  copies: { run: number; from: string; to: string }[];
  /** What the merge decided that a reader should know: a target kept from one run of several. */
  notes: string[];
}

const targetOf = (r: ResultRecord): Target | undefined => ('target' in r ? r.target : undefined);

/**
 * `expected`: the targets the CI planned. One that no run has (its job died
 * before uploading anything) is named, and the merged run is incomplete: a
 * report that lacks a target must not read as a green night.
 */
export function mergeRuns(runs: readonly RunInput[], outDir: string, expected: readonly Target[] = []): MergedRuns {
  const begins = runs.map((r) => r.records.find((x): x is RunBegin => x.type === 'run-begin'));
  const ends = runs.map((r) => r.records.find((x): x is RunEnd => x.type === 'run-end'));
  // Which run each target's records come from: the one begun last (the latest attempt); on a tie, the later argument.
  const owner = new Map<string, number>();
  const seenIn = new Map<string, number[]>();
  const targets = new Map<string, Target>();
  runs.forEach((r, i) => {
    for (const t of new Set(
      r.records
        .map(targetOf)
        .filter((t): t is Target => t !== undefined)
        .map(targetLabel),
    )) {
      seenIn.set(t, [...(seenIn.get(t) ?? []), i]);
      const prev = owner.get(t);
      if (prev === undefined || (begins[i]?.at ?? '') >= (begins[prev]?.at ?? '')) owner.set(t, i);
    }
    for (const x of r.records) {
      const t = targetOf(x);
      if (t && !targets.has(targetLabel(t))) targets.set(targetLabel(t), { arch: t.arch, kernel: t.kernel });
    }
  });
  const notes = [...seenIn]
    .filter(([, where]) => where.length > 1)
    .map(([t, where]) => {
      const kept = owner.get(t)!;
      const others = where.filter((i) => i !== kept).map((i) => runs[i]!.name);
      const begun = begins[kept]?.at ?? 'at an unknown time';
      return `${t} is in ${where.length} runs: kept ${runs[kept]!.name} (begun ${begun}), the latest; left out ${others.join(', ')}`;
    });
  const missing = expected.map(targetLabel).filter((t) => !owner.has(t));
  if (missing.length) notes.push(`no run has ${missing.join(', ')}: the merged run is incomplete`);
  const body: ResultRecord[] = [];
  // Where each kept target's logs are in its run: runs before target directories had safe names used `arch-kernel`.
  const from = new Map<string, string>();
  runs.forEach((r, i) => {
    for (const x of r.records) {
      const t = targetOf(x);
      if (!t || owner.get(targetLabel(t)) !== i) continue;
      if (x.type === 'guest' && !from.has(targetLabel(t))) from.set(targetLabel(t), basename(dirname(x.consoleLog)));
      // Console logs now live in the merged directory, beside the merged results.
      body.push(x.type === 'guest' ? { ...x, consoleLog: join(outDir, targetSlug(t), basename(x.consoleLog)) } : x);
    }
  });
  // A run that counts (it owns a target, or had none to run) and never finished leaves the merged run incomplete.
  const counted = runs.map((_, i) => i).filter((i) => [...owner.values()].includes(i) || !seenInRun(seenIn, i));
  const outcome: RunOutcome =
    missing.length || counted.some((i) => !ends[i])
      ? 'incomplete'
      : counted.some((i) => ends[i]!.outcome === 'interrupted')
        ? 'interrupted'
        : stepsOutcome(body);
  // The merged plan: the CI's (expected), then each run's own in the order the runs were given; reports list targets in it.
  const plan = [
    ...new Map(
      [...expected, ...begins.flatMap((b) => b?.targets ?? [])].map((t) => [targetLabel(t), { arch: t.arch, kernel: t.kernel }]),
    ).values(),
  ];
  const first = begins.filter((b): b is RunBegin => b !== undefined).sort((a, b) => a.at.localeCompare(b.at))[0];
  const keptEnds = counted.map((i) => ends[i]).filter((e): e is RunEnd => e !== undefined);
  const last = keptEnds
    .map((e) => e.at)
    .sort()
    .pop();
  const copies = [...owner].map(([t, run]) => {
    const to = targetSlug(targets.get(t)!);
    return { run, from: from.get(t) ?? to, to };
  });
  return {
    records: [
      {
        type: 'run-begin',
        runId: first?.runId ?? 'merged',
        at: first?.at ?? new Date(0).toISOString(),
        argv: ['report', 'merge'],
        outDir,
        ...(plan.length ? { targets: plan } : {}),
      },
      ...body,
      {
        type: 'run-end',
        at: last ?? new Date(0).toISOString(),
        outcome,
        counts: countStatuses(body),
        ms: Math.max(0, ...keptEnds.map((e) => e.ms)),
      },
    ],
    copies,
    notes,
  };
}

function seenInRun(seenIn: Map<string, number[]>, i: number): boolean {
  for (const where of seenIn.values()) if (where.includes(i)) return true;
  return false;
}
