/**
 * One QEMU guest: launch from the arch table, console to a log file,
 * readiness from a console marker, and a guaranteed kill.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import type { ArchSpec } from '../arch/arches.ts';
import { HostToolError, KharnessError, PhaseTimeoutError, tail } from '../errors.ts';
import { whichSync } from '../util/host.ts';
import { LineBuffer } from '../util/lines.ts';
import { track } from './processes.ts';

export interface VmConfig {
  arch: ArchSpec;
  kernel: string;
  initrd: string;
  accel: 'kvm' | 'tcg';
  memoryMb: number;
  smp: number;
  /** The host port forwarded to the guest's sshd; none for a machine whose steps run at boot (no sshd). */
  sshPort?: number;
  consoleLog: string;
  /** Host facts the command line may use; see ArchSpec.tcgCmdline. */
  hostTscKhz?: number;
  /** Parameters a scenario adds (init_on_alloc=0). */
  cmdline?: string[];
  /** The kernel's CONFIG_HZ (the delay loop's preset, lpj=, is in loops per jiffy). */
  kernelHz?: number;
  /** The kernel configures eth0 itself (IP_PNP, virtio_net built in): no `ip` commands in init. */
  kernelIpConfig?: boolean;
}

/**
 * QEMU's user network as the kernel's ip= takes it: the guest's address, the
 * gateway, the netmask, the hostname, the device, no autoconfiguration. The
 * same addresses are init's fallback.
 */
export const KERNEL_IP_CONFIG = 'ip=10.0.2.15::10.0.2.2:255.255.255.0:kharness:eth0:off';

/** Whether a kernel config configures the guest's network at boot from ip= (its virtio_net must be built in: ip= runs before init loads modules). */
export function configuresNetwork(config: ReadonlyMap<string, string>): boolean {
  return config.get('CONFIG_IP_PNP') === 'y' && config.get('CONFIG_VIRTIO_NET') === 'y';
}

/**
 * An emulated CPU runs a long in-kernel test many times slower than real
 * hardware: the soft-lockup watchdog (2 x watchdog_thresh) and the RCU stall
 * detector would report a busy guest as hung. Their thresholds are raised to
 * the largest the kernel takes (lkp does the same for its slow guests); a
 * real hang is still caught by the step and console-silence timeouts.
 */
export const SLOW_GUEST_PARAMS = ['watchdog_thresh=60', 'rcupdate.rcu_cpu_stall_timeout=300'];

/** The kernel command line for a config. */
export function kernelCmdline(c: VmConfig): string {
  const q = c.arch.qemu;
  return [
    `console=${q.console}`,
    'panic=-1',
    'loglevel=4',
    'random.trust_bootloader=on',
    'random.trust_cpu=on',
    ...SLOW_GUEST_PARAMS,
    ...(c.kernelIpConfig ? [KERNEL_IP_CONFIG] : []),
    ...c.arch.cmdline,
    ...tcgParams(c),
    ...(c.cmdline ?? []),
  ].join(' ');
}

/**
 * The arch's TCG-only parameters with host and kernel facts filled in
 * ({HOST_TSC_KHZ}; {LPJ}, the delay loop's loops per jiffy at that clock and
 * the kernel's HZ); a parameter whose fact is unknown is dropped.
 */
export function tcgParams(c: VmConfig): string[] {
  if (c.accel !== 'tcg') return [];
  const facts: Record<string, number | undefined> = {
    HOST_TSC_KHZ: c.hostTscKhz,
    LPJ: c.hostTscKhz && c.kernelHz ? Math.round((c.hostTscKhz * 1000) / c.kernelHz) : undefined,
  };
  return c.arch.tcgCmdline.flatMap((p) => {
    let known = true;
    const v = p.replace(/\{([A-Z_]+)\}/g, (_, k: string) => {
      const f = facts[k];
      if (f === undefined) known = false;
      return String(f);
    });
    return known ? [v] : [];
  });
}

/** The host CPU's clock in kHz, from /proc/cpuinfo ("cpu MHz"), if it says. */
export function hostTscKhz(cpuinfo: string): number | undefined {
  const m = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** QEMU's command line for a config. Pure: the arch table supplies every per-arch value. */
export function qemuArgs(c: VmConfig): string[] {
  const q = c.arch.qemu;
  const cmdline = kernelCmdline(c);
  return [
    // Names the process after its console log, so `pgrep -f <run dir>` finds a run's QEMUs.
    '-name',
    `kharness:${c.consoleLog.replace(/,/g, '_')}`,
    '-nodefaults',
    '-no-user-config',
    '-M',
    q.machine,
    ...(q.firmware ? ['-bios', q.firmware] : []),
    '-cpu',
    c.accel === 'kvm' ? 'host' : q.cpu,
    '-accel',
    c.accel,
    '-smp',
    String(c.smp),
    '-m',
    String(c.memoryMb),
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-kernel',
    c.kernel,
    '-initrd',
    c.initrd,
    '-append',
    cmdline,
    '-netdev',
    c.sshPort === undefined ? 'user,id=n0' : `user,id=n0,hostfwd=tcp:127.0.0.1:${c.sshPort}-:22`,
    // romfile= : no option ROM; the kernel needs none, and it saves loading iPXE.
    '-device',
    `${q.netDevice},netdev=n0,romfile=`,
  ];
}

/** A free TCP port on 127.0.0.1 (QEMU binds it right after; a lost race shows as a hostfwd error and is retried). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** How QEMU ended: its exit code or signal, and whether the harness stopped it. */
export interface VmExit {
  code: number | null;
  signal: string | null;
  byHarness: boolean;
}

export function describeExit(e: VmExit): string {
  if (e.byHarness) return 'QEMU was stopped by the harness';
  return e.signal ? `QEMU killed by ${e.signal}` : `QEMU exited (code ${e.code})`;
}

export class Vm {
  /** The serial console, line by line, as the guest printed it. */
  readonly console = new LineBuffer();
  private child?: ChildProcess;
  private log?: WriteStream;
  private exitInfo?: VmExit;
  private killing = false;
  private exitListeners: (() => void)[] = [];
  readonly startedAt = Date.now();
  /** performance.now() right after QEMU was spawned: the host's time before the guest, from this process's start. */
  spawnedPerfMs?: number;
  /** When the guest's first console line arrived (QEMU's own messages on stderr are not the guest's). */
  firstLineAt?: number;

  constructor(readonly config: VmConfig) {}

  get exit(): VmExit | undefined {
    return this.exitInfo;
  }

  start(): void {
    const { arch } = this.config;
    if (!whichSync(arch.qemu.binary)) throw new HostToolError(arch.qemu.binary, arch.qemu.package);
    const args = qemuArgs(this.config);
    const setpriv = whichSync('setpriv');
    // pdeathsig: the kernel kills QEMU when the harness dies, even by SIGKILL.
    const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', arch.qemu.binary, ...args]] : [arch.qemu.binary, args];
    this.log = createWriteStream(this.config.consoleLog, { flags: 'a' });
    // A console log that cannot be written must not take the harness down: the lines still reach the runner.
    this.log.on('error', () => {
      this.log = undefined;
    });
    this.log.write(`# ${arch.qemu.binary} ${args.join(' ')}\n`);
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.spawnedPerfMs = performance.now();
    this.child = child;
    track(child);
    const out = (b: Buffer) => {
      this.log?.write(b);
      this.console.write(b.toString('utf8'));
    };
    child.stdout!.on('data', (b: Buffer) => {
      if (this.firstLineAt === undefined && b.includes(10)) this.firstLineAt = Date.now();
      out(b);
    });
    child.stderr!.on('data', out);
    child.on('exit', (code, signal) => {
      this.exitInfo = { code, signal, byHarness: this.killing };
      this.console.close();
      this.log?.end();
      for (const l of this.exitListeners.splice(0)) l();
    });
  }

  onExit(fn: () => void): void {
    if (this.exitInfo) fn();
    else this.exitListeners.push(fn);
  }

  /** Waits for a console line; fails with the console tail if QEMU exits or time runs out. */
  async waitForLine(re: RegExp, timeoutMs: number, phase: string, hint?: string): Promise<number> {
    const i = await this.console.waitFor(re, 0, timeoutMs);
    if (i !== undefined) return i;
    const consoleTail = `console (${this.config.consoleLog}):\n${tail(this.console.slice(0).join('\n'), 20)}`;
    if (!this.exitInfo) {
      // A kernel that never prints is usually a damaged or wrong image, not a slow boot.
      const silent = this.console.length === 0 ? `no console output at all from the kernel image ${this.config.kernel}\n` : '';
      throw new PhaseTimeoutError(phase, timeoutMs, `${silent}${consoleTail}`, hint);
    }
    const none = this.console.length === 0 ? ` with no console output (kernel image: ${this.config.kernel})` : '';
    throw new KharnessError(
      'BOOT',
      `${describeExit(this.exitInfo)}${none} during "${phase}"`,
      `Console log: ${this.config.consoleLog}`,
      tail(this.console.slice(0).join('\n'), 25),
    );
  }

  /** Resolves with how QEMU ended once it has, or undefined after timeoutMs. */
  waitExit(timeoutMs: number): Promise<VmExit | undefined> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      this.onExit(() => {
        clearTimeout(t);
        resolve(this.exitInfo);
      });
    });
  }

  async kill(): Promise<void> {
    if (!this.child || this.exitInfo) return;
    this.killing = true;
    this.child.kill('SIGKILL');
    await this.waitExit(5000);
  }
}
