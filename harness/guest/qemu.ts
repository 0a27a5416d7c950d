/**
 * One QEMU guest: launch from the arch table, console to a log file,
 * readiness from a console marker, and a guaranteed kill.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { KharnessError, PhaseTimeoutError, tail } from '../errors.ts';
import { whichSync } from '../util/host.ts';
import type { ArchSpec } from './arches.ts';
import { track } from './processes.ts';

export interface VmConfig {
  arch: ArchSpec;
  kernel: string;
  initrd: string;
  accel: 'kvm' | 'tcg';
  memoryMb: number;
  smp: number;
  sshPort: number;
  consoleLog: string;
  /** Extra kernel command line. */
  append?: string;
  /** Host facts the command line may use; see ArchSpec.tcgCmdline. */
  hostTscKhz?: number;
}

/** The arch's TCG-only parameters with host facts filled in; ones whose fact is unknown are dropped. */
export function tcgParams(c: VmConfig): string[] {
  if (c.accel !== 'tcg') return [];
  return c.arch.tcgCmdline.flatMap((p) => {
    if (!p.includes('{HOST_TSC_KHZ}')) return [p];
    return c.hostTscKhz ? [p.replace('{HOST_TSC_KHZ}', String(c.hostTscKhz))] : [];
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
  const cmdline = [`console=${q.console}`, 'panic=-1', 'loglevel=4', 'random.trust_bootloader=on', 'random.trust_cpu=on', ...c.arch.cmdline, ...tcgParams(c), c.append ?? ''].filter(Boolean).join(' ');
  return [
    // Names the process after its console log, so `pgrep -f <run dir>` finds a run's QEMUs.
    '-name', `kharness:${c.consoleLog.replace(/,/g, '_')}`,
    '-nodefaults',
    '-no-user-config',
    '-M', q.machine,
    '-cpu', c.accel === 'kvm' ? 'host' : q.cpu,
    '-accel', c.accel,
    '-smp', String(c.smp),
    '-m', String(c.memoryMb),
    '-display', 'none',
    '-serial', 'stdio',
    '-no-reboot',
    '-kernel', c.kernel,
    '-initrd', c.initrd,
    '-append', cmdline,
    '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${c.sshPort}-:22`,
    // romfile= : no option ROM; the kernel needs none, and it saves loading iPXE.
    '-device', `${q.netDevice},netdev=n0,romfile=`,
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

export class Vm {
  readonly lines: string[] = [];
  private child?: ChildProcess;
  private log?: WriteStream;
  private partial = '';
  private waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  private exitInfo?: { code: number | null; signal: string | null };
  private exitListeners: (() => void)[] = [];
  readonly startedAt = Date.now();
  lastOutputAt = Date.now();

  constructor(readonly config: VmConfig) {}

  get exited(): boolean {
    return this.exitInfo !== undefined;
  }

  get exitDescription(): string {
    return this.exitInfo ? `QEMU exited (${this.exitInfo.signal ?? `code ${this.exitInfo.code}`})` : 'QEMU is running';
  }

  start(): void {
    const { arch } = this.config;
    if (!whichSync(arch.qemu.binary)) throw new KharnessError('HOST_TOOL', `${arch.qemu.binary} is not installed.`, `Install it with: sudo apt-get install ${arch.qemu.package}  (or run ./setup.sh)`);
    const args = qemuArgs(this.config);
    const setpriv = whichSync('setpriv');
    // pdeathsig: the kernel kills QEMU when the harness dies, even by SIGKILL.
    const [cmd, argv] = setpriv ? [setpriv, ['--pdeathsig', 'KILL', '--', arch.qemu.binary, ...args]] : [arch.qemu.binary, args];
    this.log = createWriteStream(this.config.consoleLog, { flags: 'a' });
    this.log.write(`# ${arch.qemu.binary} ${args.join(' ')}\n`);
    const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    track(child);
    child.stdout!.on('data', (b: Buffer) => this.onOutput(b));
    child.stderr!.on('data', (b: Buffer) => this.onOutput(b));
    child.on('exit', (code, signal) => {
      if (this.partial) this.pushLine(this.partial);
      this.partial = '';
      this.exitInfo = { code, signal };
      this.log?.end();
      for (const l of this.exitListeners.splice(0)) l();
    });
  }

  private onOutput(b: Buffer): void {
    this.lastOutputAt = Date.now();
    this.log?.write(b);
    const text = this.partial + b.toString('utf8');
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    for (const p of parts) this.pushLine(p.replace(/\r$/, ''));
  }

  private pushLine(line: string): void {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => {
      const m = w.re.exec(line);
      if (m) w.resolve(m);
      return !m;
    });
  }

  onExit(fn: () => void): void {
    if (this.exitInfo) fn();
    else this.exitListeners.push(fn);
  }

  /** Waits for a console line; fails with the console tail if QEMU exits or time runs out. */
  waitForLine(re: RegExp, timeoutMs: number, phase: string, from = 0): Promise<RegExpExecArray> {
    for (const line of this.lines.slice(from)) {
      const m = re.exec(line);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new PhaseTimeoutError(phase, timeoutMs, `console (${this.config.consoleLog}):\n${tail(this.lines.join('\n'), 20)}`));
      }, timeoutMs);
      const waiter = {
        re,
        resolve: (m: RegExpExecArray) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.waiters.push(waiter);
      this.onExit(() => {
        clearTimeout(timer);
        if (!this.waiters.includes(waiter)) return;
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new KharnessError('BOOT', `${this.exitDescription} during "${phase}"`, `Console log: ${this.config.consoleLog}`, tail(this.lines.join('\n'), 25)));
      });
    });
  }

  /** Resolves when QEMU has exited, or after timeoutMs. */
  waitExit(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.onExit(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  async kill(): Promise<void> {
    if (!this.child || this.exitInfo) return;
    this.child.kill('SIGKILL');
    await this.waitExit(5000);
  }
}
