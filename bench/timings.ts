/**
 * Prints the timing numbers of one or more finished runs: QEMU start to
 * console marker and to ssh-ready per boot, and the step round trip
 * (request written to response read) median and p90 per target.
 *
 *   npx tsx bench/timings.ts RUN_DIR [RUN_DIR...]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseResults, type StepRecord } from '../harness/results/records.ts';

const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;

for (const dir of process.argv.slice(2)) {
  const recs = parseResults(readFileSync(join(dir, 'results.jsonl'), 'utf8'));
  const targets = [
    ...new Set(
      recs.filter((r) => r.type === 'target-begin').map((r) => (r.type === 'target-begin' ? `${r.target.arch}/${r.target.kernel}` : '')),
    ),
  ];
  const end = recs.find((r) => r.type === 'run-end');
  console.log(`${dir}: ${end?.type === 'run-end' ? `run ${(end.ms / 1000).toFixed(1)} s` : 'unfinished'}`);
  for (const t of targets) {
    const guests = recs.filter((r) => r.type === 'guest' && `${r.target.arch}/${r.target.kernel}` === t);
    const steps = recs.filter(
      (r): r is StepRecord =>
        r.type === 'step' && `${r.target.arch}/${r.target.kernel}` === t && (r.status === 'pass' || r.status === 'fail'),
    );
    const ms = steps.filter((s) => s.request?.startsWith('cmd=alloc')).map((s) => s.ms);
    for (const g of guests)
      if (g.type === 'guest')
        console.log(`  ${t} boot ${g.boot}: console marker ${(g.bootMs / 1000).toFixed(2)} s, ssh ready ${(g.sshMs / 1000).toFixed(2)} s`);
    console.log(`  ${t} alloc step round trip: median ${q(ms, 0.5)} ms, p90 ${q(ms, 0.9)} ms over ${ms.length} steps`);
  }
}
