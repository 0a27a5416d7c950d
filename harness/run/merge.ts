/**
 * Joining the results of several runs (CI shards) into one stream: one
 * run-begin, every target's records in order, one run-end with the counts
 * and outcome recomputed over everything. Pure.
 */
import { countStatuses, type ResultRecord, type RunOutcome, stepsOutcome } from './results.ts';

type RunEnd = Extract<ResultRecord, { type: 'run-end' }>;

export function mergeResults(runs: readonly ResultRecord[][], outDir: string): ResultRecord[] {
  const begins = runs.map((r) => r.find((x) => x.type === 'run-begin')).filter(Boolean) as Extract<ResultRecord, { type: 'run-begin' }>[];
  const body = runs.flatMap((r) => r.filter((x) => x.type !== 'run-begin' && x.type !== 'run-end'));
  const ends = runs.map((r) => r.find((x) => x.type === 'run-end')).filter(Boolean) as RunEnd[];
  const first = [...begins].sort((a, b) => a.at.localeCompare(b.at))[0];
  // A shard that never finished (no run-end) leaves the merged run incomplete: it cannot say "passed".
  const outcome: RunOutcome =
    ends.length < runs.length ? 'incomplete' : ends.some((e) => e.outcome === 'interrupted') ? 'interrupted' : stepsOutcome(body);
  const last = ends
    .map((e) => e.at)
    .sort()
    .pop();
  return [
    { type: 'run-begin', runId: first?.runId ?? 'merged', at: first?.at ?? new Date(0).toISOString(), argv: ['report', 'merge'], outDir },
    ...body,
    {
      type: 'run-end',
      at: last ?? new Date(0).toISOString(),
      outcome,
      counts: countStatuses(body),
      ms: Math.max(0, ...ends.map((e) => e.ms)),
    },
  ];
}
