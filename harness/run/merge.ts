/**
 * Joining the results of several runs (CI shards) into one stream: one
 * run-begin, every target's records in order, one run-end with the counts
 * and exit code recomputed over everything. Pure.
 */
import { countStatuses, exitCodeFor, type ResultRecord } from './results.ts';

export function mergeResults(runs: readonly ResultRecord[][], outDir: string): ResultRecord[] {
  const begins = runs.map((r) => r.find((x) => x.type === 'run-begin')).filter(Boolean) as Extract<ResultRecord, { type: 'run-begin' }>[];
  const body = runs.flatMap((r) => r.filter((x) => x.type !== 'run-begin' && x.type !== 'run-end'));
  const ends = runs.map((r) => r.find((x) => x.type === 'run-end')).filter(Boolean) as Extract<ResultRecord, { type: 'run-end' }>[];
  const first = [...begins].sort((a, b) => a.at.localeCompare(b.at))[0];
  // A shard that never finished (no run-end) makes the merged run an infrastructure failure.
  const exitCode = ends.length < runs.length ? 2 : Math.max(exitCodeFor(body), ...ends.map((e) => (e.exitCode === 130 ? 2 : 0)));
  return [
    { type: 'run-begin', runId: first?.runId ?? 'merged', at: first?.at ?? new Date(0).toISOString(), argv: ['report', 'merge'], outDir },
    ...body,
    { type: 'run-end', at: [...ends].map((e) => e.at).sort().pop() ?? new Date(0).toISOString(), exitCode, counts: countStatuses(body), ms: Math.max(0, ...ends.map((e) => e.ms)) },
  ];
}
