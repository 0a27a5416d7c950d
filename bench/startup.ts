/**
 * How soon kharness starts, and how soon it gets a kernel test's result: the
 * CLI's own start, the host's time before QEMU is spawned, ready, the first
 * result and the end of the run (QEMU powered off, kharness exited), as
 * medians over runs of `kharness run` on a cached kernel, alternated with the
 * other figures so a busy moment of the host hits them alike. Given a kunit
 * build (a kernel tree where `kunit.py build` ran), it also runs `kunit.py
 * exec` alternately with kharness and prints the ratio of their wall times.
 * Not a timed test: it prints figures.
 *
 *   npm run bench:startup [-- --runs N (7)] [-- --scenario FILE] [-- --kernel 6.1] [-- --arch x86_64]
 *                         [-- --kunit DIR [--kunit-arch x86_64]]
 *
 * Figures, in seconds from the moment kharness is spawned:
 *   help     `kharness --help` to its exit (beside `node -e 0`, Node's own start)
 *   spawn    QEMU spawned (the guest record's phases.spawnAfterStartMs)
 *   ready    the probe's constants read (spawn + phases.readyMs)
 *   first    the first step's result recorded (its `at`)
 *   exit     kharness exited: the guest powered off and every report written
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../harness/analysis/stats.ts';
import { PROJECT_ROOT } from '../harness/paths.ts';
import { parseResults } from '../harness/results/records.ts';
import { buildDist } from '../scripts/build.js';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '7' },
    scenario: { type: 'string', default: join(PROJECT_ROOT, 'scenarios', 'kernel-test-slub.yaml') },
    kernel: { type: 'string', default: '6.1' },
    arch: { type: 'string', default: 'x86_64' },
    kunit: { type: 'string' },
    'kunit-arch': { type: 'string', default: 'x86_64' },
  },
});
const runs = Number(flags.runs);
const CLI = join(PROJECT_ROOT, 'bin', 'kharness.js');

/** Wall seconds of a command, and its output. */
function timed(cmd: string, args: string[], cwd = PROJECT_ROOT): { s: number; status: number | null; out: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1' } });
  return { s: (performance.now() - t0) / 1000, status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface RunFigures {
  spawn: number;
  ready: number;
  first: number;
  exit: number;
}

function kharnessRun(): RunFigures {
  const out = mkdtempSync(join(tmpdir(), 'kharness-bench-startup-'));
  try {
    const t0 = Date.now();
    const r = timed('node', [
      CLI,
      'run',
      String(flags.scenario),
      '--kernel',
      String(flags.kernel),
      '--arch',
      String(flags.arch),
      '--out',
      out,
    ]);
    if (r.status !== 0) throw new Error(`kharness run exited ${r.status}:\n${r.out.slice(-2000)}`);
    const records = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'));
    const guest = records.find((x) => x.type === 'guest');
    const step = records.find((x) => x.type === 'step');
    if (guest?.type !== 'guest' || step?.type !== 'step' || guest.phases?.spawnAfterStartMs === undefined)
      throw new Error('the run recorded no guest with its spawn time, or no step');
    const spawn = guest.phases.spawnAfterStartMs / 1000;
    return { spawn, ready: spawn + guest.phases.readyMs / 1000, first: (Date.parse(step.at) - t0) / 1000, exit: r.s };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function kunitExec(): number {
  const r = timed('python3', ['tools/testing/kunit/kunit.py', 'exec', `--arch=${flags['kunit-arch']}`], resolve(String(flags.kunit)));
  if (r.status !== 0) throw new Error(`kunit.py exec exited ${r.status}:\n${r.out.slice(-2000)}`);
  return r.s;
}

const fmt = (xs: number[]) => `${median(xs).toFixed(3)} s (${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)})`;

await buildDist();
const help: number[] = [];
const node: number[] = [];
const figures: RunFigures[] = [];
const kunit: number[] = [];
// One warm-up of each, not counted: the page cache, the kernel and guest images read once.
kharnessRun();
if (flags.kunit) kunitExec();
for (let i = 0; i < runs; i++) {
  node.push(timed('node', ['-e', '0']).s);
  help.push(timed('node', [CLI, '--help']).s);
  figures.push(kharnessRun());
  if (flags.kunit) kunit.push(kunitExec());
}
const col = (k: keyof RunFigures) => figures.map((f) => f[k]);
process.stdout.write(
  [
    `kharness start, medians of ${runs} alternated runs (min–max), ${flags.arch}/${flags.kernel}, ${flags.scenario}:`,
    `  node -e 0          ${fmt(node)}`,
    `  kharness --help    ${fmt(help)}`,
    `  QEMU spawned at    ${fmt(col('spawn'))}`,
    `  ready at           ${fmt(col('ready'))}`,
    `  first result at    ${fmt(col('first'))}`,
    `  exited at          ${fmt(col('exit'))}`,
    ...(flags.kunit
      ? [`  kunit.py exec      ${fmt(kunit)}`, `  ratio kharness run / kunit.py exec: ${(median(col('exit')) / median(kunit)).toFixed(2)}`]
      : []),
    '',
  ].join('\n'),
);
