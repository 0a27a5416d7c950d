/**
 * The fast boot path's pure parts: which image of a build QEMU boots, the
 * firmware and ip= from the tables, and busybox's applet links read from
 * the binary's name table (the real amd64 busybox-static is checked against
 * its own --list in the e2e suite).
 */
import { describe, expect, it } from 'vitest';
import { ARCHES, bootImage } from '../../harness/arch/arches.ts';
import type { CpioEntry } from '../../harness/guest/cpio.ts';
import { configuresNetwork, KERNEL_IP_CONFIG, qemuArgs, tcgParams, type VmConfig } from '../../harness/guest/qemu.ts';
import { appletLinks, busyboxApplets } from '../../harness/guest/rootfs.ts';
import { effectiveCmdline } from '../../harness/run/cmdline.ts';
import { markerClocksource, markerUptimeMs } from '../../harness/run/machine.ts';

const cfg = (o: Record<string, string>) => new Map(Object.entries(o));
const vm = (over: Partial<VmConfig> = {}): VmConfig => ({
  arch: ARCHES.x86_64!,
  kernel: 'vmlinux',
  initrd: 'i.gz',
  accel: 'tcg',
  memoryMb: 512,
  smp: 2,
  sshPort: 2222,
  consoleLog: 'c.log',
  ...over,
});

describe('boot image of a build', () => {
  const all = () => true;
  it('is vmlinux on x86_64 when the kernel has a PVH entry, the bzImage otherwise', () => {
    expect(bootImage(ARCHES.x86_64!, all, cfg({ CONFIG_PVH: 'y' }))).toBe('vmlinux');
    expect(bootImage(ARCHES.x86_64!, all, cfg({}))).toBe('arch/x86/boot/bzImage');
    // A KASAN build's PVH entry runs before KASAN's shadow exists: its bzImage boots instead.
    expect(bootImage(ARCHES.x86_64!, all, cfg({ CONFIG_PVH: 'y', CONFIG_KASAN: 'y' }))).toBe('arch/x86/boot/bzImage');
    // A build directory without vmlinux (only the image was kept) still boots.
    expect(bootImage(ARCHES.x86_64!, (p) => p !== 'vmlinux', cfg({ CONFIG_PVH: 'y' }))).toBe('arch/x86/boot/bzImage');
    expect(bootImage(ARCHES.x86_64!, () => false, cfg({ CONFIG_PVH: 'y' }))).toBeUndefined();
  });
  it('is the Image on arm64', () => {
    expect(bootImage(ARCHES.arm64!, all, cfg({ CONFIG_PVH: 'y' }))).toBe('arch/arm64/boot/Image');
  });
});

describe('QEMU and kernel command line of the fast path', () => {
  it('starts x86_64 guests on qboot, arm64 on the machine default', () => {
    const x = qemuArgs(vm());
    expect(x[x.indexOf('-bios') + 1]).toBe('qboot.rom');
    expect(qemuArgs(vm({ arch: ARCHES.arm64!, kernel: 'Image' }))).not.toContain('-bios');
  });
  it('presets the delay loop under TCG from the host clock and the kernel HZ, and only when both are known', () => {
    expect(tcgParams(vm({ hostTscKhz: 2596124, kernelHz: 250 }))).toEqual(['tsc=reliable', 'tsc_early_khz=2596124', 'lpj=10384496']);
    expect(tcgParams(vm({ hostTscKhz: 2596124 }))).toEqual(['tsc=reliable', 'tsc_early_khz=2596124']);
    expect(tcgParams(vm({ kernelHz: 250 }))).toEqual(['tsc=reliable']);
    expect(tcgParams(vm({ accel: 'kvm', hostTscKhz: 2596124, kernelHz: 250 }))).toEqual([]);
  });

  it('hands the network to the kernel only when it can configure it before init', () => {
    const append = (c: VmConfig) => {
      const a = qemuArgs(c);
      return a[a.indexOf('-append') + 1]!;
    };
    expect(append(vm({ kernelIpConfig: true }))).toContain(KERNEL_IP_CONFIG);
    expect(append(vm())).not.toContain('ip=');
    expect(configuresNetwork(cfg({ CONFIG_IP_PNP: 'y', CONFIG_VIRTIO_NET: 'y' }))).toBe(true);
    // Debian's kernels: virtio_net is a module init loads later, so ip= would find no device (and wait 12 s).
    expect(configuresNetwork(cfg({ CONFIG_IP_PNP: 'y', CONFIG_VIRTIO_NET: 'm' }))).toBe(false);
    expect(configuresNetwork(cfg({ CONFIG_VIRTIO_NET: 'y' }))).toBe(false);
  });
});

describe('busybox applet links', () => {
  const binary = (names: string[]) =>
    Buffer.concat([Buffer.from('\x7fELF junk\0usage text\0', 'latin1'), Buffer.from(`\0${names.join('\0')}\0\0more`, 'latin1')]);
  const applets = ['[', '[[', 'cat', 'insmod', 'ip', 'mount', 'sh', 'zcat'];

  it('reads the sorted name table from the binary', () => {
    expect(busyboxApplets(binary(applets))).toEqual(applets);
  });
  it('finds nothing in a binary without a plausible table', () => {
    expect(busyboxApplets(Buffer.from('no table here'))).toBeUndefined();
    // Out of order: not the applet table.
    expect(busyboxApplets(binary(['[', '[[', 'sh', 'cat', 'mount', 'insmod']))).toBeUndefined();
    // A table lacking what init needs.
    expect(busyboxApplets(binary(['[', '[[', 'ls']))).toBeUndefined();
  });
  it('links every applet into bin/ except where a package put a file of that name', () => {
    const entries: CpioEntry[] = [{ type: 'file', path: 'bin/ip', data: Buffer.from('') }];
    const links = appletLinks(applets, entries);
    expect(links.map((l) => l.path)).toEqual(applets.filter((a) => a !== 'ip').map((a) => `bin/${a}`));
    expect(links.every((l) => l.type === 'symlink' && l.target === 'busybox')).toBe(true);
  });
});

describe('kernel parameters that change nothing', () => {
  const on = new Map([['CONFIG_INIT_ON_ALLOC_DEFAULT_ON', 'y']]);
  it('drops a boolean parameter that restates the config default, in any spelling the kernel reads', () => {
    expect(effectiveCmdline(['init_on_alloc=1'], on)).toEqual([]);
    expect(effectiveCmdline(['init_on_alloc=on', 'init_on_free=0'], on)).toEqual([]);
    expect(effectiveCmdline(['init_on_alloc=0', 'init_on_free=0'], on)).toEqual(['init_on_alloc=0']);
    expect(effectiveCmdline(['init_on_alloc=1'], new Map())).toEqual(['init_on_alloc=1']);
    // Unknown parameters and values the kernel would not read as booleans are kept.
    expect(effectiveCmdline(['slub_debug=FZ', 'init_on_alloc=maybe', 'init_on_alloc'], on)).toEqual([
      'slub_debug=FZ',
      'init_on_alloc=maybe',
      'init_on_alloc',
    ]);
  });
});

describe('readiness marker', () => {
  it("carries the guest's uptime and its clocksource, read by init without a fork", () => {
    const line = 'KHARNESS-READY uptime=1.22 clocksource=tsc';
    expect(markerUptimeMs(line)).toBe(1220);
    expect(markerClocksource(line)).toBe('tsc');
    expect(markerClocksource('KHARNESS-READY uptime=0.71 clocksource=arch_sys_counter')).toBe('arch_sys_counter');
    // Before the refined calibration (about a second in) x86 reads the same TSC as "tsc-early": no difference to compare.
    expect(markerClocksource('KHARNESS-READY uptime=1.47 clocksource=tsc-early')).toBe('tsc');
    expect(markerClocksource('KHARNESS-READY uptime=1.47 clocksource=jiffies')).toBe('jiffies');
    // An init from before the clocksource was on the marker: unknown, not a guess.
    expect(markerClocksource('KHARNESS-READY uptime=1.22')).toBeUndefined();
  });
});
