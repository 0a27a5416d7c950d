/**
 * The runs many e2e files assert over, made once per e2e run: the first file
 * that asks for one makes it into the setup's session directory, the others
 * read what it left (files run one at a time, each in a fresh process, so the
 * directory is the memo). A run whose exit code is not the one expected
 * throws with its output's tail in every file that asks for it: nothing is
 * skipped, and the reason is on screen.
 *
 * A: every shipped scenario on x86_64 6.1 built from Debian's source (the
 *    kernel's own test modules, DEBUG_ATOMIC_SLEEP, the PVH boot path), with
 *    every reporter.
 * B: a subset on Debian's prebuilt 6.12: x86_64 and arm64 cloud (4 KiB
 *    pages) and arm64 16k, two targets at a time.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { ARM64_16K, CLOUD_612 } from './archive.ts';
import { cli, results, shipped, steps } from './helpers.ts';

export interface SharedRun {
  name: string;
  out: string;
  exitCode: number;
  /** stdout and stderr, interleaved as printed. */
  output: string;
  stdout: string;
  records: ResultRecord[];
  steps: StepRecord[];
  ms: number;
}

/** The scenarios run B takes: what Debian's kernels can say, and what they cannot (a skip each, saying why). */
export const B_SCENARIOS = [
  'kmalloc-size-limits',
  'gfp-atomic-irq',
  'vmalloc-contiguity',
  'kzalloc-zeroing',
  'gfp-dma-zone',
  'modules-and-leaks',
  'vmalloc-in-irq',
  'kernel-test-slub',
];

const RUNS: Record<string, { args: string[]; exitCode: number }> = {
  A: {
    args: ['run', '--arch', 'x86_64', '--kernel', '6.1', '--reporter', 'default,json,junit,ktap,html,markdown'],
    exitCode: 0,
  },
  B: {
    args: [
      'run',
      ...B_SCENARIOS.map(shipped),
      '--arch',
      'x86_64,arm64',
      '--kernel',
      `${CLOUD_612},${ARM64_16K}`,
      '--jobs',
      '2',
      '--reporter',
      'default,junit',
    ],
    exitCode: 0,
  },
};

export async function sharedRun(name: keyof typeof RUNS & string): Promise<SharedRun> {
  const spec = RUNS[name];
  if (!spec) throw new Error(`no shared run ${name}`);
  const out = join(inject('session'), name);
  const memo = join(out, 'shared-run.json');
  if (!existsSync(memo)) {
    mkdirSync(out, { recursive: true });
    const t0 = Date.now();
    const r = await cli([...spec.args, '--out', out]);
    writeFileSync(join(out, 'output.txt'), r.all ?? '');
    writeFileSync(memo, JSON.stringify({ exitCode: r.exitCode ?? -1, stdout: r.stdout, ms: Date.now() - t0 }));
    console.log(`shared run ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${r.exitCode}`);
  }
  const m = JSON.parse(readFileSync(memo, 'utf8')) as { exitCode: number; stdout: string; ms: number };
  const output = readFileSync(join(out, 'output.txt'), 'utf8');
  if (m.exitCode !== spec.exitCode) {
    const tail = output.split('\n').slice(-60).join('\n');
    throw new Error(
      `shared run ${name} (kharness ${spec.args.join(' ')}) exited ${m.exitCode}, not ${spec.exitCode}; its output ends:\n${tail}`,
    );
  }
  const records = results(out);
  return { name, out, exitCode: m.exitCode, output, stdout: m.stdout, records, steps: steps(records), ms: m.ms };
}

/** One step of a run, by scenario and name; throws naming it when it is missing. */
export function stepOf(all: StepRecord[], scenario: string, name: string, kernel?: string, arch?: string): StepRecord {
  const s = all.find(
    (r) =>
      r.scenario === scenario &&
      r.name === name &&
      (kernel === undefined || r.target.kernel === kernel) &&
      (arch === undefined || r.target.arch === arch),
  );
  if (!s) throw new Error(`no step ${scenario} › ${name}${kernel ? ` on ${arch ?? ''}/${kernel}` : ''}`);
  return s;
}

/**
 * When a target's guest was up and working: from its first "running
 * scenario" status (the guest is ready) to its last step's record. Two
 * targets whose spans overlap had two guests running at the same time, which
 * admission alone (target-begin) does not show.
 */
export function runningSpan(records: ResultRecord[], arch: string, kernel: string): [number, number] {
  const mine = (r: ResultRecord) => 'target' in r && r.target.arch === arch && r.target.kernel === kernel;
  const start = records.find((r) => r.type === 'status' && r.phase === 'running' && mine(r));
  const last = records.filter((r): r is StepRecord => r.type === 'step' && mine(r)).pop();
  if (start?.type !== 'status' || !last) throw new Error(`no running guest for ${arch}/${kernel}`);
  return [Date.parse(start.at), Date.parse(last.at)];
}

/** Whether two spans overlap. */
export const overlap = (a: [number, number], b: [number, number]) => a[0] < b[1] && b[0] < a[1];
