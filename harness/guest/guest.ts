/**
 * A booted guest ready for scenarios: QEMU running, ssh connected, the probe
 * module loaded, constants read. Phases have their own timeouts and each
 * timeout names its phase.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { file as tmpFile } from 'tmp-promise';
import { basename, join } from 'node:path';
import { KharnessError } from '../errors.ts';
import type { KernelBuild } from '../kernel/build.ts';
import type { ModuleBuild } from '../module/build.ts';
import { ProbeClient } from '../probe/client.ts';
import type { Facts } from '../scenario/expect.ts';
import type { Log } from '../util/log.ts';
import { probeAccelFacts, chooseAccel } from './accel.ts';
import { archSpec } from './arches.ts';
import { generateRunKeys } from './keys.ts';
import { freePort, hostTscKhz, Vm } from './qemu.ts';
import { existsSync, readFileSync } from 'node:fs';
import { guestBase, runArchive } from './rootfs.ts';
import { GuestSession } from './ssh.ts';

export interface Timeouts {
  /** QEMU start until the console marker (sshd listening). */
  bootMs: number;
  /** Marker until the ssh session is up. */
  sshMs: number;
  /** One probe request. */
  stepMs: number;
  /** After the guest stops answering: how long to wait for the console to show why. */
  crashMs: number;
}

export const DEFAULT_TIMEOUTS: Timeouts = { bootMs: 120_000, sshMs: 30_000, stepMs: 120_000, crashMs: 20_000 };

export interface GuestOptions {
  kernel: KernelBuild;
  module: ModuleBuild;
  dir: string;
  /** Boot number within the target: names the console log. */
  boot: number;
  memoryMb: number;
  smp: number;
  accel: 'auto' | 'kvm' | 'tcg';
  timeouts: Timeouts;
  log: Log;
}

export class Guest {
  private constructor(
    readonly vm: Vm,
    readonly session: GuestSession,
    readonly probe: ProbeClient,
    readonly constants: Facts,
    readonly accelReason: string,
    readonly bootMs: number,
    readonly sshMs: number,
  ) {}

  static async boot(o: GuestOptions): Promise<Guest> {
    const arch = archSpec(o.kernel.arch);
    const base = await guestBase(arch, o.log);
    const keys = generateRunKeys();
    // The initrd holds this run's keys and is only read at QEMU start: a temp file, not an artifact.
    const initrdFile = await tmpFile({ prefix: 'kharness-initrd-', postfix: '.cpio.gz' });
    const initrd = initrdFile.path;
    const modules = await Promise.all((o.kernel.guestModules ?? []).map(async (p, i) => ({ name: `${String(i).padStart(2, '0')}-${basename(p)}`, data: await readFile(p) })));
    await writeFile(initrd, Buffer.concat([await readFile(base.initramfs), runArchive(keys.hostKeyDropbear, keys.clientPublic, modules)]));
    const accel = chooseAccel(probeAccelFacts(arch), o.accel);
    let vm: Vm | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        vm = new Vm({
          arch,
          kernel: o.kernel.image,
          initrd,
          accel: accel.accel,
          memoryMb: o.memoryMb,
          smp: o.smp,
          sshPort: await freePort(),
          consoleLog: join(o.dir, `console-${o.boot}.log`),
          hostTscKhz: existsSync('/proc/cpuinfo') ? hostTscKhz(readFileSync('/proc/cpuinfo', 'utf8')) : undefined,
        });
        vm.start();
        try {
          await vm.waitForLine(/KHARNESS-READY|KHARNESS-FAILED/, o.timeouts.bootMs, 'boot to console marker');
          break;
        } catch (e) {
          // Another process took the port between freePort() and QEMU's bind: try a new one.
          if (attempt < 2 && vm.lines.some((l) => /Could not set up host forwarding rule/.test(l))) continue;
          throw e instanceof KharnessError && e.code === 'TIMEOUT' ? e : new KharnessError('BOOT', `the guest did not boot: ${(e as Error).message}`, (e as KharnessError).hint, (e as KharnessError).details);
        }
      }
      if (vm.lines.some((l) => l.startsWith('KHARNESS-FAILED'))) {
        throw new KharnessError('BOOT', 'the guest booted but sshd did not start', `Console log: ${vm.config.consoleLog}`);
      }
      const bootMs = Date.now() - vm.startedAt;
      const session = await GuestSession.connect(vm.config.sshPort, keys.clientPrivate, keys.hostKeyBlob, o.timeouts.sshMs);
      const sshMs = Date.now() - vm.startedAt;
      await session.upload(`/tmp/${o.module.name}.ko`, await readFile(o.module.ko));
      await session.run(`insmod /tmp/${o.module.name}.ko`, { timeoutMs: 30_000 });
      const probe = await ProbeClient.open(session);
      const c = await probe.request('cmd=constants', o.timeouts.stepMs);
      if (c.status !== 'ok') throw new KharnessError('PROBE', `the probe refused its constants request: ${c.msg}`);
      // Timing facts are only as good as the clock: jiffies ticks in milliseconds.
      const cs = (await session.exec('cat /sys/devices/system/clocksource/clocksource0/current_clocksource')).stdout.trim();
      c.facts.CLOCKSOURCE = cs || 'unknown';
      if (/jiffies/.test(cs)) o.log.warn(`the guest runs on the ${cs} clocksource: timing facts have millisecond resolution`);
      return new Guest(vm, session, probe, c.facts, accel.reason, bootMs, sshMs);
    } catch (e) {
      await vm?.kill();
      throw e;
    } finally {
      await initrdFile.cleanup();
    }
  }

  async meminfo(): Promise<string> {
    return this.session.run('cat /proc/meminfo', { timeoutMs: 30_000 });
  }

  /** Everything the kernel logged, as /dev/kmsg gave it; kept next to the console log. */
  get dmesgFile(): string {
    return this.vm.config.consoleLog.replace(/console-(\d+)\.log$/, 'dmesg-$1.log');
  }

  async shutdown(): Promise<void> {
    await writeFile(this.dmesgFile, this.probe.kmsg.records.join('\n') + '\n').catch(() => undefined);
    try {
      this.probe.close();
      this.session.close();
    } finally {
      await this.vm.kill();
    }
  }
}
