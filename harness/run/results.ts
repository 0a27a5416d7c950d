/**
 * The results stream: one JSON object per line, appended (synchronously) as
 * things happen, so a crash of the guest, QEMU or the harness loses nothing
 * that finished. Reporters read these records, live or replayed.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Splat } from '../analysis/splats.ts';
import type { Facts, Failure } from '../scenario/expect.ts';
import type { Meminfo } from '../analysis/meminfo.ts';
import type { ClaimRef } from '../scenario/types.ts';

export type StepStatus = 'pass' | 'fail' | 'skip' | 'error' | 'expected-crash';
/** How a target ended: a test failure is not a build failure, a boot failure or an infrastructure failure. */
export type TargetStatus = 'ok' | 'build-failure' | 'boot-failure' | 'infra-failure' | 'interrupted';

export interface TargetRef {
  arch: string;
  kernel: string;
  /** Kernel cache key: a hash of source, config, toolchain and arch. */
  configHash?: string;
  release?: string;
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
  request?: string;
  facts: Facts;
  failures: Failure[];
  /** Kernel reports this step caused. */
  splats: Splat[];
  /** Kernel log lines between the step's begin and end markers. */
  dmesg: string[];
  /** /proc/meminfo change across the step in bytes, when an expectation asked for it. */
  meminfoDelta?: Record<string, number>;
  ms: number;
  at: string;
}

export type ResultRecord =
  | { type: 'run-begin'; runId: string; at: string; argv: string[]; outDir: string }
  | { type: 'target-begin'; target: TargetRef; at: string }
  | { type: 'target-phase'; target: TargetRef; phase: string; ms: number; detail?: Record<string, unknown> }
  /** What a target is doing now, for live progress: building, booting, running scenario i/n. */
  | { type: 'status'; target: TargetRef; phase: 'building' | 'booting' | 'running'; detail?: string; at: string }
  | { type: 'guest'; target: TargetRef; boot: number; consoleLog: string; accel: string; bootMs: number; sshMs: number; constants: Facts }
  | StepRecord
  | { type: 'scenario-end'; target: TargetRef; scenario: string; meminfoBefore?: Meminfo; meminfoAfter?: Meminfo; meminfoDelta?: Meminfo }
  | { type: 'target-end'; target: TargetRef; status: TargetStatus; error?: { code: string; message: string; hint?: string; details?: string }; at: string }
  | { type: 'run-end'; at: string; exitCode: number; counts: Record<StepStatus, number>; ms: number };

export class ResultsWriter {
  constructor(
    readonly path: string,
    private readonly listeners: ((r: ResultRecord) => void)[] = [],
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(r: ResultRecord): void {
    appendFileSync(this.path, JSON.stringify(r) + '\n');
    for (const l of this.listeners) l(r);
  }
}

export function parseResults(text: string): ResultRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ResultRecord);
}

/** 0 all pass, 1 any test failed, 2 something kept tests from running (build, boot, infrastructure). */
export function exitCodeFor(records: readonly ResultRecord[]): number {
  let code = 0;
  for (const r of records) {
    if (r.type === 'target-end' && r.status !== 'ok') return 2;
    if (r.type === 'step' && (r.status === 'error')) return 2;
    if (r.type === 'step' && r.status === 'fail') code = 1;
  }
  return code;
}

export function countStatuses(records: readonly ResultRecord[]): Record<StepStatus, number> {
  const c: Record<StepStatus, number> = { pass: 0, fail: 0, skip: 0, error: 0, 'expected-crash': 0 };
  for (const r of records) if (r.type === 'step') c[r.status]++;
  return c;
}
