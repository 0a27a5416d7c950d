/** A whole run: every target in turn, results to <outDir>/results.jsonl, reporters listening. */
import { randomUUID } from 'node:crypto';
import type { Timeouts } from '../guest/guest.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Log } from '../util/log.ts';
import { countStatuses, exitCodeFor, ResultsWriter, type ResultRecord } from './results.ts';
import { runTarget } from './target.ts';
import { join } from 'node:path';

export interface RunOptions {
  scenarios: Scenario[];
  arches: string[];
  kernels: string[];
  outDir: string;
  log: Log;
  reporters: ((r: ResultRecord) => void)[];
  timeouts: Timeouts;
  memoryMb: number;
  smp: number;
  accel: 'auto' | 'kvm' | 'tcg';
  jobs?: number;
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
  for (const kernel of o.kernels) {
    for (const arch of o.arches) {
      if (o.signal?.aborted) break;
      await runTarget({ ...o, arch, kernel, writer });
    }
  }
  const exitCode = o.signal?.aborted ? 130 : exitCodeFor(records);
  writer.write({ type: 'run-end', at: new Date().toISOString(), exitCode, counts: countStatuses(records), ms: Date.now() - t0 });
  return { exitCode, resultsFile, records };
}
