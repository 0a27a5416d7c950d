/**
 * The results stream: one JSON object per line, appended (synchronously) as
 * things happen, so a crash of the guest, QEMU or the harness loses nothing
 * that finished. Reporters read these records, live or replayed.
 */

import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Meminfo } from '../analysis/meminfo.ts';
import type { Splat } from '../analysis/splats.ts';
import type { Distribution } from '../analysis/stats.ts';
import type { Facts } from '../probe/vocabulary.ts';
import type { Failure } from '../scenario/expect.ts';
import type { StepStatus } from '../scenario/judge.ts';
import type { ClaimRef } from '../scenario/types.ts';
import type { BootInfo } from './machine.ts';
import { foldRepeats } from './repeats.ts';
import { isFailed, isOk, ranAsExpected } from './status.ts';

export type { StepStatus };
/**
 * How a target ended: a test failure is not a build failure, a boot failure
 * or an infrastructure failure, and a bug in kharness is none of them.
 */
export type TargetStatus = 'ok' | 'build-failure' | 'boot-failure' | 'infra-failure' | 'internal-error' | 'interrupted';
/** How a whole run ended; cli/exit.ts turns it into the process's exit code. */
export type RunOutcome = 'passed' | 'failed' | 'flaky' | 'error' | 'interrupted' | 'incomplete';

export interface TargetRef {
  arch: string;
  kernel: string;
  /** Kernel cache key: a hash of source, config, toolchain and arch. */
  configHash?: string;
  release?: string;
}

/**
 * What, besides the kernel, could explain a difference between two runs:
 * compare names the axes that differ and will not call a metric a regression
 * across a different accelerator or host unless told to.
 */
export interface HostAxes {
  /** The accelerator asked for (auto, tcg, kvm); each guest record says which one it got. */
  accel: string;
  hostCpus: number;
  hostCpuModel: string;
  hostMemoryMb: number;
  /** `qemu-system-*` versions by arch, for the arches this run booted. */
  qemu: Record<string, string>;
  guestMemoryMb: number;
  guestCpus: number;
  kharness: string;
  node: string;
}

export interface StepRecord {
  type: 'step';
  target: TargetRef;
  scenario: string;
  scenarioFile: string;
  claims: ClaimRef[];
  step: number;
  name: string;
  status: StepStatus;
  reason?: string;
  /** For an error: what the harness saw (the console's tail). */
  details?: string;
  /** Which boot of the target the step ran on (1, 2 after a reboot, …). */
  boot?: number;
  /** The step's line in its scenario file. */
  line?: number;
  request?: string;
  facts: Facts;
  failures: Failure[];
  /** Kernel reports this step caused. */
  splats: Splat[];
  /** Kernel log lines between the step's begin and end markers. */
  dmesg: string[];
  /** /proc/meminfo change across the step in bytes, when an expectation asked for it. */
  meminfoDelta?: Record<string, number>;
  /** A kernel test module's run (no case) or one of its cases. */
  kernelTest?: { module: string; case?: string };
  /** Which run of the target's scenarios this is, with `--repeat N` (1..N; absent: the only run). */
  repeat?: number;
  /**
   * Only on a step's summary over repeated runs (regress/repeats.ts): the
   * runs that ran it, how many went as expected, each run's status (in
   * repeat order), and the distribution of each numeric fact.
   */
  runs?: number;
  passes?: number;
  statuses?: StepStatus[];
  stats?: Record<string, Distribution>;
  ms: number;
  at: string;
}

export type ResultRecord =
  | { type: 'run-begin'; runId: string; at: string; argv: string[]; outDir: string; host?: HostAxes; repeat?: number }
  /** repeat: how many runs of its scenarios the target is to make. */
  | { type: 'target-begin'; target: TargetRef; at: string; repeat?: number }
  | { type: 'target-phase'; target: TargetRef; phase: string; ms: number; detail?: Record<string, unknown> }
  /** What a target is doing now, for live progress: building, booting, running scenario i/n. */
  | { type: 'status'; target: TargetRef; phase: 'building' | 'booting' | 'running'; detail?: string; at: string }
  /** The kernel's allocator and memory-management options (kernels/distro-mm.yaml and a few more): "-" when it has no such option. */
  | { type: 'kernel-profile'; target: TargetRef; options: Record<string, string> }
  /** A machine came up: what its boot told (BootInfo: phases, accelerator, constants). */
  | ({ type: 'guest'; target: TargetRef; repeat?: number } & BootInfo)
  | StepRecord
  | {
      type: 'scenario-end';
      target: TargetRef;
      scenario: string;
      repeat?: number;
      meminfoBefore?: Meminfo;
      meminfoAfter?: Meminfo;
      meminfoDelta?: Meminfo;
    }
  | {
      type: 'target-end';
      target: TargetRef;
      status: TargetStatus;
      error?: { code: string; message: string; hint?: string; details?: string };
      at: string;
    }
  /** counts: from a run before a status existed, that status is absent. */
  | { type: 'run-end'; at: string; outcome: RunOutcome; counts: Partial<Record<StepStatus, number>>; ms: number };

export { isFailed, isOk, ranAsExpected };

export class ResultsWriter {
  constructor(
    readonly path: string,
    private readonly listeners: ((r: ResultRecord) => void)[] = [],
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(r: ResultRecord): void {
    appendFileSync(this.path, `${JSON.stringify(r)}\n`);
    for (const l of this.listeners) l(r);
  }
}

export class ResultsFormatError extends Error {}

/**
 * Reads a results stream. A last line cut short (the harness was killed while
 * writing it) is dropped, and the run then has no run-end, so it reads as
 * incomplete; a bad line anywhere else is an error naming its line.
 */
export function parseResults(text: string): ResultRecord[] {
  const lines = text.split('\n');
  const out: ResultRecord[] = [];
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    let r: unknown;
    try {
      r = JSON.parse(l);
    } catch {
      const last = lines.slice(i + 1).every((x) => !x.trim());
      if (last) return;
      throw new ResultsFormatError(`line ${i + 1} is not a JSON record`);
    }
    if (!r || typeof r !== 'object' || typeof (r as { type?: unknown }).type !== 'string') {
      throw new ResultsFormatError(`line ${i + 1} is not a kharness record`);
    }
    out.push(r as ResultRecord);
  });
  return out;
}

/**
 * passed: every step passed or was skipped; failed: a test failed; error:
 * something kept tests from running (build, boot, infrastructure, a step
 * that could not be observed); interrupted: Ctrl-C or SIGTERM; incomplete:
 * the stream has no run-end (the harness was killed), so it cannot say.
 */
export function runOutcome(records: readonly ResultRecord[]): RunOutcome {
  const end = records.find((r) => r.type === 'run-end');
  if (!end) return 'incomplete';
  if (end.type === 'run-end' && end.outcome === 'interrupted') return 'interrupted';
  // A merge records 'incomplete' when one of its shards never ended: that stands.
  if (end.type === 'run-end' && end.outcome === 'incomplete') return 'incomplete';
  return stepsOutcome(records);
}

/**
 * The outcome of the records seen so far, as if the run ended now. Repeated
 * runs count per step, folded: a step that failed in some runs only is flaky.
 */
export function stepsOutcome(records: readonly ResultRecord[]): RunOutcome {
  let outcome: RunOutcome = 'passed';
  for (const r of foldRepeats(records)) {
    if (r.type === 'target-end' && r.status === 'interrupted') return 'interrupted';
    if (r.type === 'target-end' && r.status !== 'ok') outcome = 'error';
    if (r.type === 'step' && r.status === 'error') outcome = 'error';
    if (r.type === 'step' && isFailed(r.status)) outcome = outcome === 'error' ? 'error' : 'failed';
    if (r.type === 'step' && r.status === 'flaky' && outcome === 'passed') outcome = 'flaky';
  }
  return outcome;
}

export function countStatuses(records: readonly ResultRecord[]): Record<StepStatus, number> {
  const c: Record<StepStatus, number> = {
    pass: 0,
    fail: 0,
    skip: 0,
    error: 0,
    'expected-crash': 0,
    'expected-fail': 0,
    'unexpected-pass': 0,
    flaky: 0,
  };
  for (const r of foldRepeats(records)) if (r.type === 'step') c[r.status]++;
  return c;
}
