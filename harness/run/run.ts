/**
 * A whole run: the planned targets, at most `parallelTargets` at a time
 * (p-limit), each with its scenarios, results to <outDir>/results.jsonl,
 * reporters listening. Kernel builds take a separate slot of their own: on a
 * 2-core machine two builds at once only slow each other down.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { countStatuses, stepsOutcome } from '../results/outcome.ts';
import type { ResultRecord, RunOutcome } from '../results/records.ts';
import { ResultsWriter } from '../results/writer.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Log } from '../util/log.ts';
import { hostAxes } from './axes.ts';
import type { MachineSettings } from './machine.ts';
import type { Target } from './plan.ts';
import { runTarget } from './target.ts';

export interface RunOptions {
  /** What to run: each target with its scenarios (already planned and sharded). */
  plan: { target: Target; scenarios: Scenario[] }[];
  outDir: string;
  log: Log;
  reporters: ((r: ResultRecord) => void)[];
  settings: MachineSettings;
  /** Targets at once. */
  parallelTargets: number;
  /** Kernel builds at once. */
  parallelBuilds: number;
  /** make -j for each build. */
  makeJobs?: number;
  argv: string[];
  signal?: AbortSignal;
  /** Runs of every target's scenarios (--repeat); each run on freshly booted machines. */
  repeat?: number;
  /** The user's module (`--module DIR`, absolute): every module step loads it. */
  module?: string;
}

export interface RunSummary {
  outcome: RunOutcome;
  resultsFile: string;
  records: ResultRecord[];
}

export async function runAll(o: RunOptions): Promise<RunSummary> {
  const records: ResultRecord[] = [];
  const resultsFile = join(o.outDir, 'results.jsonl');
  const writer = new ResultsWriter(resultsFile, [(r) => records.push(r), ...o.reporters]);
  const t0 = Date.now();
  writer.write({
    type: 'run-begin',
    runId: randomUUID(),
    at: new Date().toISOString(),
    argv: o.argv,
    outDir: o.outDir,
    host: await hostAxes(
      o.settings,
      o.plan.map((p) => p.target.arch),
    ),
    ...(o.repeat && o.repeat > 1 ? { repeat: o.repeat } : {}),
    // The plan's order is the order every report lists the targets in, whichever finishes first.
    targets: o.plan.map((p) => ({ arch: p.target.arch, kernel: p.target.kernel })),
  });
  const targets = pLimit(o.parallelTargets);
  const buildSlot = pLimit(o.parallelBuilds);
  // One target failing outright (results unwritable, a bug) stops the others too: nothing keeps booting behind an error.
  const failed = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, failed.signal]) : failed.signal;
  const settled = await Promise.allSettled(
    o.plan.map(({ target, scenarios }) =>
      targets(async () => {
        try {
          await runTarget({
            ...target,
            scenarios,
            outDir: o.outDir,
            writer,
            log: o.log,
            settings: o.settings,
            makeJobs: o.makeJobs,
            buildSlot,
            signal,
            repeat: o.repeat,
            module: o.module,
          });
        } catch (e) {
          failed.abort();
          throw e;
        }
      }),
    ),
  );
  const rejected = settled.find((r) => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  const outcome = o.signal?.aborted ? 'interrupted' : stepsOutcome(records);
  writer.write({ type: 'run-end', at: new Date().toISOString(), outcome, counts: countStatuses(records), ms: Date.now() - t0 });
  return { outcome, resultsFile, records };
}
