/**
 * How often compare calls a change where there is none: the same kernel run
 * several times (each run `--repeat N`, fresh VMs), every pair of runs
 * compared, at the default threshold for the accelerator and at lkp's 5%
 * side by side. Not a timed test: it prints figures.
 *
 *   npm run bench:false-alarms [-- --runs 4] [-- --repeat 5] [-- --target x86_64/6.1]
 *                              [-- --scenarios alloc-cost,kernel-test-vmalloc]
 *   npm run bench:false-alarms -- --from RUN_DIR,RUN_DIR,...   (finished runs of one kernel: no new runs)
 *
 * Prints, per threshold: pairs compared, metrics compared per pair, pairs
 * with any metric called regressed (or improved), and the per-metric rate.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { PROJECT_ROOT, SCENARIOS_DIR } from '../harness/paths.ts';
import { compareRuns } from '../harness/regress/compare.ts';
import { parseResults, type ResultRecord } from '../harness/results/records.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '4' },
    repeat: { type: 'string', default: '5' },
    target: { type: 'string', default: 'x86_64/6.1' },
    scenarios: { type: 'string', default: 'alloc-cost,kernel-test-vmalloc' },
    from: { type: 'string' },
  },
});
const whole = (v: string, name: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2) {
    process.stderr.write(`bench:false-alarms: --${name} must be a whole number of at least 2, not "${v}"\n`);
    process.exit(2);
  }
  return n;
};
const from = flags.from ? String(flags.from).split(',').filter(Boolean) : undefined;
if (from && from.length < 2) {
  process.stderr.write('bench:false-alarms: --from needs at least two run directories, comma-separated\n');
  process.exit(2);
}
const runs = from ? from.length : whole(String(flags.runs), 'runs');
const repeat = whole(String(flags.repeat), 'repeat');
const [arch, ...k] = String(flags.target).split('/');
const kernel = k.join('/');
const files = String(flags.scenarios)
  .split(',')
  .map((s) => join(SCENARIOS_DIR, `${s}.yaml`));

const dir = mkdtempSync(join(tmpdir(), 'kharness-false-alarms-'));
const recs: ResultRecord[][] = [];
try {
  for (const d of from ?? []) {
    try {
      recs.push(parseResults(readFileSync(join(d, 'results.jsonl'), 'utf8')));
    } catch (e) {
      process.stderr.write(`bench:false-alarms: cannot read ${d}/results.jsonl: ${(e as Error).message}\n`);
      process.exit(2);
    }
  }
  for (let i = 0; !from && i < runs; i++) {
    const out = join(dir, `run-${i + 1}`);
    const t0 = Date.now();
    const r = await execa(
      'node',
      [
        join(PROJECT_ROOT, 'bin', 'kharness.js'),
        'run',
        ...files,
        '--arch',
        arch!,
        '--kernel',
        kernel,
        '--repeat',
        String(repeat),
        '--out',
        out,
      ],
      { reject: false, env: { CI: 'true', NO_COLOR: '1' } },
    );
    if (r.exitCode !== 0) {
      process.stderr.write(
        `bench:false-alarms: run ${i + 1} ended with exit ${r.exitCode}:\n${r.stdout.split('\n').slice(-15).join('\n')}\n`,
      );
      process.exit(2);
    }
    recs.push(parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8')));
    process.stdout.write(`run ${i + 1}/${runs}: ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
  }
  const pairs: [number, number][] = [];
  for (let i = 0; i < runs; i++) for (let j = i + 1; j < runs; j++) pairs.push([i, j]);
  process.stdout.write(
    from
      ? `\n${runs} finished runs, ${pairs.length} pairs\n`
      : `\n${arch}/${kernel}, ${files.length} scenario(s), ${runs} runs of --repeat ${repeat}, ${pairs.length} pairs\n`,
  );
  for (const threshold of [undefined, 0.05]) {
    let metrics = 0;
    let called = 0;
    let pairsWith = 0;
    const names = new Map<string, number>();
    for (const [i, j] of pairs) {
      const c = compareRuns(recs[i]!, recs[j]!, threshold === undefined ? {} : { rule: { minChange: threshold } });
      const moved = c.metrics.filter((m) => m.verdict === 'regressed' || m.verdict === 'improved');
      metrics += c.metrics.length;
      called += moved.length;
      if (moved.length || c.steps.some((s) => s.change !== 'same')) pairsWith++;
      for (const m of moved) names.set(m.name, (names.get(m.name) ?? 0) + 1);
      if (threshold === undefined && j === i + 1 && i === 0)
        process.stdout.write(`threshold by the accelerator's default: ${(c.rule.minChange * 100).toFixed(0)}%\n`);
    }
    const label = threshold === undefined ? 'default threshold' : `threshold ${(threshold * 100).toFixed(0)}%`;
    process.stdout.write(
      `${label}: ${pairsWith}/${pairs.length} pairs with a false alarm; ${called}/${metrics} metric comparisons called changed ` +
        `(${((100 * called) / Math.max(1, metrics)).toFixed(2)}%)\n`,
    );
    for (const [n, c] of [...names].sort((a, b) => b[1] - a[1])) process.stdout.write(`    ${c}×  ${n}\n`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
