/**
 * A whole run: the planned targets, at most `jobs` at a time (p-limit), each
 * with its scenarios, results to <outDir>/results.jsonl, reporters listening.
 * Kernel builds take a separate slot of their own: on a 2-core machine two
 * builds at once only slow each other down.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import type { Timeouts } from '../guest/guest.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Log } from '../util/log.ts';
import type { Target } from './plan.ts';
import { countStatuses, exitCodeFor, ResultsWriter, type ResultRecord } from './results.ts';
import { runTarget } from './target.ts';

export interface RunOptions {
  /** What to run: each target with its scenarios (already planned and sharded). */
  plan: { target: Target; scenarios: Scenario[] }[];
  outDir: string;
  log: Log;
  reporters: ((r: ResultRecord) => void)[];
  timeouts: Timeouts;
  memoryMb: number;
  smp: number;
  accel: 'auto' | 'kvm' | 'tcg';
  /** Targets at once. */
  jobs: number;
  /** Kernel builds at once. */
  buildJobs: number;
  /** make -j for each build. */
  makeJobs?: number;
  argv: string[];
  signal?: AbortSignal;
}

export interface RunSummary {
  exitCode: number;
  resultsFile: string;
  records: ResultRecord[];
}

export async function runAll(o: RunOptions): Promise<RunSummary> {
  const records: ResultRecord[] = [];
  const resultsFile = join(o.outDir, 'results.jsonl');
  const writer = new ResultsWriter(resultsFile, [(r) => records.push(r), ...o.reporters]);
  const t0 = Date.now();
  writer.write({ type: 'run-begin', runId: randomUUID(), at: new Date().toISOString(), argv: o.argv, outDir: o.outDir });
  const targets = pLimit(o.jobs);
  const buildSlot = pLimit(o.buildJobs);
  await Promise.all(
    o.plan.map(({ target, scenarios }) =>
      targets(async () => {
        if (o.signal?.aborted) return;
        await runTarget({ ...o, arch: target.arch, kernel: target.kernel, scenarios, writer, buildSlot, jobs: o.makeJobs });
      }),
    ),
  );
  const exitCode = o.signal?.aborted ? 130 : exitCodeFor(records);
  writer.write({ type: 'run-end', at: new Date().toISOString(), exitCode, counts: countStatuses(records), ms: Date.now() - t0 });
  return { exitCode, resultsFile, records };
}
