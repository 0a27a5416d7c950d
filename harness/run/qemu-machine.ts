/**
 * The real Machine: QEMU started from the arch table, readiness from the
 * console marker, one ssh connection, the probe module loaded over it. Each
 * phase of the boot has its own timeout, and a timeout names its phase.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emulatorArtefact } from '../analysis/emulator.ts';
import { archSpec } from '../arch/arches.ts';
import { InterruptedError, KharnessError, PhaseTimeoutError } from '../errors.ts';
import { chooseAccel, probeAccelFacts } from '../guest/accel.ts';
import { generateRunKeys } from '../guest/keys.ts';
import { configuresNetwork, describeExit, freePort, hostTscKhz, kernelCmdline, Vm } from '../guest/qemu.ts';
import { guestBase, writeGuestInitrd } from '../guest/rootfs.ts';
import { GuestSession } from '../guest/ssh.ts';
import type { KernelBuild } from '../kernel/entry.ts';
import type { ModuleBuild } from '../module/build.ts';
import { ProbeClient, ProbeLost } from '../probe/client.ts';
import { parseResponse, type Response } from '../probe/protocol.ts';
import type { BootInfo, BootPhases, RetriedBoot } from '../results/records.ts';
import type { Log } from '../util/log.ts';
import { type BootScript, type Machine, type MachineExit, type MachineSettings, markerClocksource, markerUptimeMs } from './machine.ts';

export interface QemuMachineOptions {
  kernel: KernelBuild;
  module: ModuleBuild;
  /** The target's directory: console and kernel logs are kept there. */
  dir: string;
  settings: MachineSettings;
  log: Log;
  signal?: AbortSignal;
  /** Kernel parameters a scenario added. */
  cmdline?: string[];
  /** The kernel's .config, parsed (the command line follows its HZ and whether it configures the network). */
  config: ReadonlyMap<string, string>;
}

const BOOT_HINT =
  'Raise --boot-timeout if the host is busy (under TCG a guest is ready in about 1.5 s; prebuilt Debian kernels take 4-6 s); ' +
  'the console log above shows how far it got.';

async function startVm(
  o: QemuMachineOptions,
  boot: number,
  initrd: string,
  accel: 'kvm' | 'tcg',
  /** Whether the harness will talk to it over ssh (not when its steps run at boot). */
  ssh: boolean,
): Promise<{ vm: Vm; retried?: RetriedBoot }> {
  let retried: RetriedBoot | undefined;
  const arch = archSpec(o.kernel.arch);
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  const kernelIpConfig = configuresNetwork(o.config);
  const kernelHz = Number(o.config.get('CONFIG_HZ')) || undefined;
  for (let attempt = 0; ; attempt++) {
    const vm = new Vm({
      arch,
      kernel: o.kernel.image,
      initrd,
      accel,
      memoryMb: Math.max(o.settings.memoryMb, o.kernel.memoryMb ?? 0),
      smp: o.settings.smp,
      sshPort: ssh ? await freePort() : undefined,
      consoleLog: join(o.dir, `console-${boot}.log`),
      hostTscKhz: hostTscKhz(cpuinfo),
      cmdline: o.cmdline,
      kernelIpConfig,
      kernelHz,
    });
    vm.start();
    // ssh2 is imported while the guest boots, not before QEMU starts.
    if (ssh) void GuestSession.load();
    try {
      await vm.waitForLine(/KHARNESS-READY|KHARNESS-FAILED/, o.settings.timeouts.bootMs, 'boot to console marker', BOOT_HINT);
      return { vm, retried };
    } catch (e) {
      await vm.kill();
      const lines = vm.console.slice(0);
      // Another process took the port between freePort() and QEMU's bind: try a new one.
      const portLost = lines.some((l) => /Could not set up host forwarding rule/.test(l));
      if (attempt < 2 && portLost) continue;
      // The emulator's own kind of death (a listed one), once per boot: the first attempt's console is kept.
      const artefact = retried || o.signal?.aborted ? undefined : emulatorArtefact(lines, accel);
      if (artefact) {
        const kept = join(o.dir, `console-${boot}.retried.log`);
        await rename(vm.config.consoleLog, kept).catch(() => undefined);
        retried = { consoleLog: kept, reason: artefact };
        o.log.warn(`boot ${boot} died of ${artefact}: booting it again (its console: ${kept})`);
        continue;
      }
      throw e;
    }
  }
}

export async function bootQemuMachine(o: QemuMachineOptions, boot: number, scripts?: readonly BootScript[]): Promise<Machine> {
  const t = o.settings.timeouts;
  const arch = archSpec(o.kernel.arch);
  const base = await guestBase(arch, o.log);
  // A machine whose steps run at boot starts no sshd: it needs no keys (and node:crypto's key generation is not paid).
  const keys = scripts ? undefined : generateRunKeys();
  // The initrd holds this run's keys and is only read at QEMU start: a temp file, not an artifact.
  const initrdDir = await mkdtemp(join(tmpdir(), 'kharness-initrd-'));
  const initrd = join(initrdDir, 'initrd.cpio');
  const accel = chooseAccel(probeAccelFacts(arch), o.settings.accel);
  let vm: Vm | undefined;
  let session: GuestSession | undefined;
  try {
    // The prebuilt kernel's boot modules, then the probe: init loads them in this order before sshd starts,
    // so the probe is in place when the marker comes and no upload or insmod waits on ssh.
    await writeGuestInitrd(initrd, base, keys, [...o.kernel.guestModules, o.module.ko], scripts);
    // Ctrl-C while the initrd was made: QEMU must not start after the harness killed every QEMU it knew.
    if (o.signal?.aborted) throw new InterruptedError();
    const started = await startVm(o, boot, initrd, accel.accel, !scripts);
    vm = started.vm;
    const failed = vm.console.slice(0).find((l) => l.startsWith('KHARNESS-FAILED'));
    if (failed) throw bootFailed(vm, failed, o.module.name);
    const bootMs = Date.now() - vm.startedAt;
    const marker = vm.console.slice(0).find((l) => l.includes('KHARNESS-READY'));
    if (scripts)
      return atBootMachine(vm, scripts, { ...bootInfo(o, vm, started, accel.reason, boot, marker, { bootMs }), atBoot: scripts.length });
    if (!keys || vm.config.sshPort === undefined)
      throw new KharnessError('BOOT', 'the guest was started without ssh keys or a port to reach it');
    session = await GuestSession.connect(vm.config.sshPort, keys.clientPrivate, keys.hostKeyBlob, t.sshMs);
    const sshMs = Date.now() - vm.startedAt;
    const s = session;
    const probe = await bounded(t.loadMs, 'opening the probe', () => ProbeClient.open(s));
    const moduleMs = Date.now() - vm.startedAt;
    const c = await probe.request('cmd=constants', t.loadMs);
    const readyMs = Date.now() - vm.startedAt;
    if (c.status !== 'ok') throw new KharnessError('PROBE', `the probe refused its constants request: ${c.msg}`);
    const info = bootInfo(o, vm, started, accel.reason, boot, marker, {
      bootMs,
      sshMs,
      moduleMs,
      readyMs,
      sshBannerMs: s.timeline.bannerAt,
      sshKeyExchangeMs: s.timeline.keyExchangeAt,
      constants: c.facts,
    });
    return qemuMachine(vm, s, probe, info);
  } catch (e) {
    session?.close();
    await vm?.kill();
    throw e;
  } finally {
    await rm(initrdDir, { recursive: true, force: true });
  }
}

/** The times of a boot, as Date.now() values or ms from QEMU's start; undefined where the phase did not happen. */
interface Reached {
  bootMs: number;
  sshMs?: number;
  moduleMs?: number;
  readyMs?: number;
  sshBannerMs?: number;
  sshKeyExchangeMs?: number;
  /** The probe's constants (a machine run at boot: read from the console). */
  constants?: Response['facts'];
}

/** A boot's record: its phases, command line and constants (plus the clocksource init read before the marker). */
function bootInfo(
  o: QemuMachineOptions,
  vm: Vm,
  started: { retried?: RetriedBoot },
  accel: string,
  boot: number,
  marker: string | undefined,
  r: Reached,
): BootInfo {
  const constants = r.constants ?? consoleConstants(vm);
  // Timing facts are only as good as the clock: jiffies ticks in milliseconds. init read it before the marker.
  const cs = markerClocksource(marker) ?? 'unknown';
  constants.CLOCKSOURCE = cs;
  if (/jiffies/.test(cs)) o.log.warn(`the guest runs on the ${cs} clocksource: timing facts have millisecond resolution`);
  const uptime = markerUptimeMs(marker);
  const since = (at: number | undefined) => (at === undefined ? undefined : at - vm.startedAt);
  const phases: BootPhases = {
    // performance.timeOrigin: when this process started.
    spawnAfterStartMs: vm.spawnedPerfMs === undefined ? undefined : Math.round(vm.spawnedPerfMs),
    kernelStartMs: uptime === undefined ? undefined : r.bootMs - uptime,
    firstLineMs: vm.firstLineAt === undefined ? undefined : vm.firstLineAt - vm.startedAt,
    markerMs: r.bootMs,
    uptimeAtMarkerMs: uptime,
    sshBannerMs: since(r.sshBannerMs),
    sshKeyExchangeMs: since(r.sshKeyExchangeMs),
    sshMs: r.sshMs,
    moduleMs: r.moduleMs,
    readyMs: r.readyMs ?? r.bootMs,
  };
  return {
    boot,
    consoleLog: vm.config.consoleLog,
    accel,
    cmdline: kernelCmdline(vm.config),
    extraCmdline: o.cmdline,
    ...(started.retried ? { retried: started.retried } : {}),
    bootMs: r.bootMs,
    sshMs: r.sshMs ?? r.bootMs,
    phases,
    constants,
  };
}

/** The constants init asked the probe for and printed before its marker (a machine run at boot). */
function consoleConstants(vm: Vm): Response['facts'] {
  const line = vm.console.slice(0).find((l) => l.startsWith('KHARNESS-CONSTANTS '));
  const r = line === undefined ? undefined : parseResponse(line.slice('KHARNESS-CONSTANTS '.length));
  if (r?.status !== 'ok')
    throw new KharnessError(
      'PROBE',
      `init could not read the probe's constants: ${r?.status === 'error' ? r.msg : 'no KHARNESS-CONSTANTS line on the console'}`,
      `Console log: ${vm.config.consoleLog}`,
    );
  return r.facts;
}

/**
 * What init reported instead of readiness ("KHARNESS-FAILED insmod /lib/...")
 * with the console lines before it (insmod's own message is among them).
 */
function bootFailed(vm: Vm, line: string, probeName: string): KharnessError {
  const lines = vm.console.slice(0);
  const at = lines.indexOf(line);
  const what = line.replace(/^KHARNESS-FAILED\s*/, '');
  const probe = what.startsWith('insmod') && what.includes(probeName);
  return new KharnessError(
    'BOOT',
    `the guest booted but its init failed: ${what}`,
    probe
      ? 'The probe module does not load into this kernel: rebuild it against the kernel (`kharness build`), or see the console log.'
      : `Console log: ${vm.config.consoleLog}`,
    lines.slice(Math.max(0, at - 8), at + 1).join('\n'),
  );
}

/** Runs fn, failing with a timeout that names the phase if it takes longer than ms. */
async function bounded<T>(ms: number, phase: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PhaseTimeoutError(phase, ms)), ms);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** How QEMU ended, once it has. */
function exitOf(vm: Vm): MachineExit | undefined {
  const e = vm.exit;
  if (!e) return undefined;
  return { description: describeExit(e), killedBy: !e.byHarness && e.signal ? e.signal : undefined };
}

/** Single quotes for the guest's shell: a path the harness chose, quoted all the same. */
const quoted = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function qemuMachine(vm: Vm, session: GuestSession, probe: ProbeClient, info: BootInfo): Machine {
  let closed = false;
  return {
    info,
    console: vm.console,
    kmsg: probe.kmsg,
    request: (line, ms) => probe.request(line, ms),
    meminfo: (ms) => session.run('cat /proc/meminfo', { timeoutMs: ms }),
    cursor: () => ({ console: vm.console.length, kmsg: probe.kmsg.length }),
    async put(path, data, timeoutMs) {
      const dir = path.slice(0, path.lastIndexOf('/')) || '/';
      const r = await session.exec(`mkdir -p ${quoted(dir)} && cat > ${quoted(path)}`, { stdin: data, timeoutMs });
      if (r.code !== 0) throw new KharnessError('GUEST', `could not write ${path} in the guest (exit ${r.code}): ${r.stdout.trim()}`);
    },
    exec: (command, opts) => session.exec(command, opts),
    attach: (command, io) => session.attach(command, io),
    ping: (ms) => session.ping(ms),
    waitExit: async (ms) => ((await vm.waitExit(ms)) ? exitOf(vm) : undefined),
    async close() {
      if (closed) return;
      closed = true;
      // Everything the kernel logged, as /dev/kmsg gave it, beside the console log.
      const dmesg = info.consoleLog.replace(/console-(\d+)\.log$/, 'dmesg-$1.log');
      await writeFile(dmesg, `${probe.kmsg.slice(0).join('\n')}\n`).catch(() => undefined);
      try {
        probe.close();
        session.close();
      } finally {
        await vm.kill();
      }
    },
  };
}

/**
 * The console lines init writes about boot script n: its start, each output
 * line, its end with the exit status. The kernel writes its log to the same
 * serial port, and a message can land inside a line of ours (5.10 printed a
 * clocksource message between "code=0" and its newline): a marker is found
 * wherever it stands in a line, and a kernel record glued to the end of an
 * output line is cut off.
 */
export const SCRIPT_END = (n: number) => new RegExp(`KHARNESS-SCRIPT-END ${n} code=(\\d+)`);
const SCRIPT_BEGIN = (n: number) => new RegExp(`KHARNESS-SCRIPT-BEGIN ${n}(?!\\d)`);
const KERNEL_RECORD = /\[ *\d+\.\d{6}\] .*$/;

/** Script n's output, from the console lines before its end marker. */
export function scriptOutput(lines: readonly string[], n: number): string {
  const out: string[] = [];
  const line = new RegExp(`KHARNESS-OUT ${n} (.*)$`);
  for (const l of lines) {
    const m = line.exec(l);
    if (m) out.push(`${m[1]!.replace(KERNEL_RECORD, '')}\n`);
  }
  return out.join('');
}
const noShell = (what: string) =>
  new KharnessError('GUEST', `this guest ran its steps at boot and has no shell: ${what}`, 'This is a kharness bug: please report it.');

/**
 * A machine whose init ran `scripts` instead of starting sshd. Everything is
 * read from the console: exec() of one of those scripts waits for the end of
 * its run and answers with its output; the kernel log is the console (init
 * turned every message on before the first script).
 */
function atBootMachine(vm: Vm, scripts: readonly BootScript[], info: BootInfo): Machine {
  const placed = new Map(scripts.flatMap((s) => s.files.map((f) => [f.path, f.host] as const)));
  let next = 1;
  const cursor = () => {
    const lines = vm.console.slice(0);
    const at = lines.findIndex((l) => SCRIPT_BEGIN(next).test(l));
    const i = at < 0 ? lines.length : at;
    return { console: i, kmsg: i };
  };
  return {
    info,
    console: vm.console,
    kmsg: vm.console,
    cursor,
    async put(path, data) {
      const host = placed.get(path);
      if (host === undefined || !data.equals(await readFile(host))) throw noShell(`placing ${path}`);
    },
    async exec(command, opts) {
      const n = scripts.findIndex((s) => s.script === command) + 1;
      if (n === 0) throw noShell(command.split('\n')[0]!);
      next = n + 1;
      // The console closes when QEMU exits: the guest died in the script.
      const end = await vm.console.waitFor(SCRIPT_END(n), 0, opts.timeoutMs);
      if (end === undefined) {
        if (vm.exit) throw new ProbeLost(`boot script ${n}`);
        throw new PhaseTimeoutError(`boot script ${n}`, opts.timeoutMs);
      }
      return {
        code: Number(SCRIPT_END(n).exec(vm.console.slice(end, end + 1)[0] ?? '')?.[1]),
        stdout: scriptOutput(vm.console.slice(0, end), n),
      };
    },
    request: async (line) => {
      throw noShell(line);
    },
    meminfo: async () => {
      throw noShell('cat /proc/meminfo');
    },
    attach: async () => {
      throw noShell('a terminal');
    },
    // Nothing to ask without ssh: a guest whose QEMU runs counts as busy, and the step's timeout decides.
    ping: async () => !vm.exit,
    waitExit: async (ms) => ((await vm.waitExit(ms)) ? exitOf(vm) : undefined),
    close: () => vm.kill(),
  };
}
