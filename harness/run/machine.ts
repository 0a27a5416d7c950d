/**
 * The seam between running scenarios and what they run on. A Machine is a
 * booted guest with the probe loaded: its console and kernel log, probe
 * requests, meminfo, a liveness ping, and its end. QEMU + ssh + the probe
 * implement it (qemu-machine.ts); unit tests implement it with a fake that
 * replays captured logs, so every lifecycle rule is tested without QEMU.
 */
import type { AttachIO } from '../guest/ssh.ts';
import type { Response } from '../probe/protocol.ts';
import type { BootInfo } from '../results/records.ts';
import type { LineLog } from '../util/lines.ts';

export interface Timeouts {
  /** QEMU start until the console marker (sshd listening). */
  bootMs: number;
  /** Marker until the ssh session is up. */
  sshMs: number;
  /** Loading the probe module and reading the guest's constants. */
  loadMs: number;
  /** One probe request. */
  stepMs: number;
  /** During a step: the guest printed nothing and answered nothing for this long. */
  silenceMs: number;
  /** After the guest stops answering: how long to wait for the console to show why. */
  crashMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = {
  bootMs: 120_000,
  sshMs: 30_000,
  loadMs: 60_000,
  stepMs: 120_000,
  silenceMs: 30_000,
  crashMs: 20_000,
};

export type Accel = 'auto' | 'kvm' | 'tcg';

/** How every guest of a run is sized and timed. */
export interface MachineSettings {
  memoryMb: number;
  smp: number;
  accel: Accel;
  timeouts: Timeouts;
}

/** Reads the guest's uptime from the readiness marker line ("KHARNESS-READY uptime=1.23 clocksource=tsc"). */
export function markerUptimeMs(line: string | undefined): number | undefined {
  const m = /KHARNESS-READY uptime=(\d+(?:\.\d+)?)/.exec(line ?? '');
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/**
 * The clocksource init read just before the marker ("tsc", "hpet",
 * "arch_sys_counter", "jiffies"). x86's "tsc-early" counts as "tsc": the same
 * counter, read before its rate is refined about a second into the boot, so
 * whether a guest was ready before or after that switch is not a difference.
 */
export function markerClocksource(line: string | undefined): string | undefined {
  return /KHARNESS-READY .*\bclocksource=(\S+)/.exec(line ?? '')?.[1]?.replace(/^tsc-early$/, 'tsc');
}

/** How a machine ended, when it ended by itself or was ended from outside. */
export interface MachineExit {
  /** Killed by a signal nobody in the harness sent (QEMU killed from outside). */
  killedBy?: string;
  /** One line: "QEMU exited (code 0)", "QEMU killed by SIGKILL". */
  description: string;
}

/**
 * A script the guest's init runs before it would start sshd, with the files
 * it needs placed in the initramfs: a step run as soon as the kernel can run
 * it, its output read from the console. Only what needs no user space but
 * the initramfs runs so (a kernel test module's load).
 */
export interface BootScript {
  script: string;
  /** Guest path -> host path: placed in the initramfs (never under /tmp, which init mounts over). */
  files: readonly { path: string; host: string }[];
}

/** Where what the next act causes begins, in each log. */
export interface Cursor {
  console: number;
  kmsg: number;
}

/**
 * A booted guest. One booted with scripts (BootScript) ran them in its init
 * and has no ssh: exec() of one of those scripts answers with what it printed
 * (waiting while it runs), put() of a file its initramfs holds succeeds, and
 * anything else is refused.
 */
export interface Machine {
  readonly info: BootInfo;
  readonly console: LineLog;
  /** The kernel log as /dev/kmsg gives it, in the console's line shape. */
  readonly kmsg: LineLog;
  /** One probe request; rejects with ProbeLost when the guest stops answering, a TIMEOUT error after timeoutMs. */
  request(line: string, timeoutMs: number): Promise<Response>;
  meminfo(timeoutMs: number): Promise<string>;
  /** Whether the guest still answers within timeoutMs, by a round trip that starts no process in it (a busy guest is slow to fork). */
  ping(timeoutMs: number): Promise<boolean>;
  /** Where the next act's lines will begin (a machine whose init ran the acts already: where the next one's began). */
  cursor(): Cursor;
  /** Places a file in the guest (a module to load): guest path, its contents. */
  put(path: string, data: Buffer, timeoutMs: number): Promise<void>;
  /** Runs a shell command in the guest (tools and benchmarks; scenarios talk to the probe). */
  exec(command: string, opts: { stdin?: Buffer | string; timeoutMs: number }): Promise<{ code: number | null; stdout: string }>;
  /** A terminal session for a person: an interactive shell (no command) or one command; resolves with its exit code. */
  attach(command: string | undefined, io: AttachIO): Promise<number | null>;
  /** Resolves with how the machine ended once it has, or undefined after timeoutMs. */
  waitExit(timeoutMs: number): Promise<MachineExit | undefined>;
  /** Stops the machine and keeps its logs; safe to call twice. */
  close(): Promise<void>;
}

/**
 * Boots machine number `boot` of a target, with a scenario's own kernel
 * parameters when it has them; with `scripts`, a machine whose init runs
 * them (and nothing else) instead of starting sshd.
 */
export type MachineFactory = (boot: number, cmdline?: string[], scripts?: readonly BootScript[]) => Promise<Machine>;
