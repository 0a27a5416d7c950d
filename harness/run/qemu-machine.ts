/**
 * The real Machine: QEMU started from the arch table, readiness from the
 * console marker, one ssh connection, the probe module loaded over it. Each
 * phase of the boot has its own timeout, and a timeout names its phase.
 */
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { file as tmpFile } from 'tmp-promise';
import { emulatorArtefact } from '../analysis/emulator.ts';
import { archSpec } from '../arch/arches.ts';
import { InterruptedError, KharnessError, PhaseTimeoutError } from '../errors.ts';
import { chooseAccel, probeAccelFacts } from '../guest/accel.ts';
import { generateRunKeys } from '../guest/keys.ts';
import { configuresNetwork, describeExit, freePort, hostTscKhz, kernelCmdline, Vm } from '../guest/qemu.ts';
import { guestBase, guestInitrd } from '../guest/rootfs.ts';
import { GuestSession } from '../guest/ssh.ts';
import type { KernelBuild } from '../kernel/entry.ts';
import type { ModuleBuild } from '../module/build.ts';
import { ProbeClient } from '../probe/client.ts';
import type { BootInfo, BootPhases, RetriedBoot } from '../results/records.ts';
import type { Log } from '../util/log.ts';
import { type Machine, type MachineExit, type MachineSettings, markerClocksource, markerUptimeMs } from './machine.ts';

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
      sshPort: await freePort(),
      consoleLog: join(o.dir, `console-${boot}.log`),
      hostTscKhz: hostTscKhz(cpuinfo),
      cmdline: o.cmdline,
      kernelIpConfig,
      kernelHz,
    });
    vm.start();
    // ssh2 is imported while the guest boots, not before QEMU starts.
    void GuestSession.load();
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

export async function bootQemuMachine(o: QemuMachineOptions, boot: number): Promise<Machine> {
  const t = o.settings.timeouts;
  const arch = archSpec(o.kernel.arch);
  const base = await guestBase(arch, o.log);
  const keys = generateRunKeys();
  // The initrd holds this run's keys and is only read at QEMU start: a temp file, not an artifact.
  const initrdFile = await tmpFile({ prefix: 'kharness-initrd-', postfix: '.cpio' });
  const accel = chooseAccel(probeAccelFacts(arch), o.settings.accel);
  let vm: Vm | undefined;
  let session: GuestSession | undefined;
  try {
    // The prebuilt kernel's boot modules, then the probe: init loads them in this order before sshd starts,
    // so the probe is in place when the marker comes and no upload or insmod waits on ssh.
    await writeFile(initrdFile.path, await guestInitrd(base, keys, [...o.kernel.guestModules, o.module.ko]));
    // Ctrl-C while the initrd was made: QEMU must not start after the harness killed every QEMU it knew.
    if (o.signal?.aborted) throw new InterruptedError();
    const started = await startVm(o, boot, initrdFile.path, accel.accel);
    vm = started.vm;
    const failed = vm.console.slice(0).find((l) => l.startsWith('KHARNESS-FAILED'));
    if (failed) throw bootFailed(vm, failed, o.module.name);
    const bootMs = Date.now() - vm.startedAt;
    const marker = vm.console.slice(0).find((l) => l.includes('KHARNESS-READY'));
    session = await GuestSession.connect(vm.config.sshPort, keys.clientPrivate, keys.hostKeyBlob, t.sshMs);
    const sshMs = Date.now() - vm.startedAt;
    const s = session;
    const probe = await bounded(t.loadMs, 'opening the probe', () => ProbeClient.open(s));
    const moduleMs = Date.now() - vm.startedAt;
    const c = await probe.request('cmd=constants', t.loadMs);
    const readyMs = Date.now() - vm.startedAt;
    if (c.status !== 'ok') throw new KharnessError('PROBE', `the probe refused its constants request: ${c.msg}`);
    // Timing facts are only as good as the clock: jiffies ticks in milliseconds. init read it before the marker.
    const cs = markerClocksource(marker) ?? 'unknown';
    c.facts.CLOCKSOURCE = cs;
    if (/jiffies/.test(cs)) o.log.warn(`the guest runs on the ${cs} clocksource: timing facts have millisecond resolution`);
    const uptime = markerUptimeMs(marker);
    const startedAt = vm.startedAt;
    const since = (at: number | undefined) => (at === undefined ? undefined : at - startedAt);
    const phases: BootPhases = {
      // performance.timeOrigin: when this process started.
      spawnAfterStartMs: Math.round(startedAt - performance.timeOrigin),
      kernelStartMs: uptime === undefined ? undefined : bootMs - uptime,
      firstLineMs: vm.firstLineAt === undefined ? undefined : vm.firstLineAt - vm.startedAt,
      markerMs: bootMs,
      uptimeAtMarkerMs: uptime,
      sshBannerMs: since(s.timeline.bannerAt),
      sshKeyExchangeMs: since(s.timeline.keyExchangeAt),
      sshMs,
      moduleMs,
      readyMs,
    };
    const info: BootInfo = {
      boot,
      consoleLog: vm.config.consoleLog,
      accel: accel.reason,
      cmdline: kernelCmdline(vm.config),
      extraCmdline: o.cmdline,
      ...(started.retried ? { retried: started.retried } : {}),
      bootMs,
      sshMs,
      phases,
      constants: c.facts,
    };
    return qemuMachine(vm, s, probe, info);
  } catch (e) {
    session?.close();
    await vm?.kill();
    throw e;
  } finally {
    await initrdFile.cleanup();
  }
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

function qemuMachine(vm: Vm, session: GuestSession, probe: ProbeClient, info: BootInfo): Machine {
  const exitOf = (): MachineExit | undefined => {
    const e = vm.exit;
    if (!e) return undefined;
    return { description: describeExit(e), killedBy: !e.byHarness && e.signal ? e.signal : undefined };
  };
  let closed = false;
  return {
    info,
    console: vm.console,
    kmsg: probe.kmsg,
    request: (line, ms) => probe.request(line, ms),
    meminfo: (ms) => session.run('cat /proc/meminfo', { timeoutMs: ms }),
    exec: (command, opts) => session.exec(command, opts),
    attach: (command, io) => session.attach(command, io),
    ping: (ms) => session.ping(ms),
    waitExit: async (ms) => ((await vm.waitExit(ms)) ? exitOf() : undefined),
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
