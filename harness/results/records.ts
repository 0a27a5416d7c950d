/**
 * The results stream's records: one JSON object per line, appended as things
 * happen (results/writer.ts), so a crash of the guest, QEMU or the harness
 * loses nothing that finished. Every reader (reporters, compare, history,
 * bisect, merge) reads these types, not the orchestrator that writes them.
 * Pure: types and the stream's parser.
 */
import type { Meminfo } from '../analysis/meminfo.ts';
import type { Splat } from '../analysis/splats.ts';
import type { Distribution } from '../analysis/stats.ts';
import type { Facts } from '../probe/vocabulary.ts';
import type { Failure } from '../scenario/expect.ts';
import type { ClaimRef } from '../scenario/types.ts';

/**
 * A step's status. The judge (scenario/judge.ts) gives pass, fail, error or
 * expected-crash; a kernel test case's own verdicts add expected-fail (a case
 * its authors expect to fail, failing: counts as passing) and unexpected-pass
 * (such a case passing: counts as failing, the catalogue or the kernel
 * changed); skip is a step that did not run, and flaky only a step run
 * several times (`--repeat`) whose runs disagree.
 */
export type StepStatus = 'pass' | 'fail' | 'skip' | 'error' | 'expected-crash' | 'expected-fail' | 'unexpected-pass' | 'flaky';

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
   * Only on a step's summary over repeated runs (results/repeats.ts): the
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
  /** targets: the run's planned targets, in plan order (absent from runs before it was recorded). */
  | {
      type: 'run-begin';
      runId: string;
      at: string;
      argv: string[];
      outDir: string;
      host?: HostAxes;
      repeat?: number;
      targets?: { arch: string; kernel: string }[];
    }
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

/** A boot that died of an emulator artefact and was booted again: its console log, and why. */
export interface RetriedBoot {
  consoleLog: string;
  reason: string;
}

export interface BootInfo {
  /** Boot number within the target: 1 for the first VM, 2 after a reboot… */
  boot: number;
  consoleLog: string;
  accel: string;
  /** The kernel command line it booted with (slow-guest thresholds and the scenario's own parameters included). */
  cmdline?: string;
  /** The parameters a scenario asked for (none: the target's shared machine). */
  extraCmdline?: string[];
  /** The first attempt at this boot died of a listed emulator artefact (analysis/emulator.ts) and was booted again. */
  retried?: RetriedBoot;
  /** QEMU start until the console marker, and until ssh was up. */
  bootMs: number;
  sshMs: number;
  /** Every phase of the way to ready, in ms from QEMU's start (undefined where a phase left no trace). */
  phases?: BootPhases;
  /** The guest's constants (the probe's constants response, plus CLOCKSOURCE). */
  constants: Facts;
  /** Its init ran this many of the scenario's steps' scripts at boot, instead of starting sshd. */
  atBoot?: number;
}

export interface BootPhases {
  /**
   * The host's side, before QEMU: from kharness's own start (the process) to
   * QEMU's spawn, for this boot. The first boot's is what a command costs
   * before any guest work begins (finding the kernel in the cache, writing
   * the initramfs); the other phases count from QEMU's start.
   */
  spawnAfterStartMs?: number;
  /**
   * When the kernel's clock started: the marker's time less the guest's
   * uptime at the marker. Before it, firmware and decompression; the console
   * is quiet until init, so no kernel line marks it.
   */
  kernelStartMs?: number;
  /** The guest's first console line (quiet boots print none before init; the boot benchmark's banner boots print the kernel's banner). */
  firstLineMs?: number;
  /** The readiness marker init prints once sshd listens. */
  markerMs: number;
  /** The guest's own uptime when init printed the marker (from /proc/uptime). */
  uptimeAtMarkerMs?: number;
  /** The ssh server's first bytes, its banner: the TCP connection is up and sshd has started the session's process. */
  sshBannerMs?: number;
  /** The ssh key exchange done. */
  sshKeyExchangeMs?: number;
  /** ssh connected: authenticated (none when the steps ran at boot). */
  sshMs?: number;
  /** The probe's channel open (init loaded the module before the marker; none when the steps ran at boot). */
  moduleMs?: number;
  /** Ready: the probe's constants read (when the steps ran at boot, init read them before the marker). */
  readyMs: number;
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
