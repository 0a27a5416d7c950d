/**
 * Everything that differs between guest architectures, as data. Adding an
 * arch means adding an entry here (and its config fragment under
 * kernels/config/); a unit test checks every catalog arch has a complete one.
 */
import { UsageError } from '../errors.ts';

export interface ArchSpec {
  /** Name used on the command line and in results. */
  name: string;
  /** The kernel's ARCH= value. */
  kernelArch: string;
  /** CROSS_COMPILE= prefix when the host is not this arch. */
  crossPrefix: string;
  crossPackage: string;
  /** make target and resulting image, relative to the build dir. */
  imageTarget: string;
  imagePath: string;
  /**
   * What QEMU boots of a source build: the first of these the build has whose
   * config option (if any) is set. x86's vmlinux with a PVH entry note is
   * loaded as it is: no real-mode setup, no decompression.
   */
  bootImages: { path: string; needs?: string; unless?: string }[];
  /** Config fragment under kernels/config/. */
  fragment: string;
  /** The .config option that says a kernel build is for this arch (CONFIG_X86_64=y). */
  configSymbol: string;
  /** What a guest of this arch needs from any kernel's config beyond the common needs: its serial console. */
  guestNeeds: string[];
  /** Debian architecture of the guest userspace packages. */
  debianArch: string;
  /** Node's process.arch on a host that runs this arch natively. */
  nativeHost: string;
  qemu: {
    binary: string;
    package: string;
    machine: string;
    /** CPU model under TCG. */
    cpu: string;
    console: string;
    /** virtio-net device name for this machine. */
    netDevice: string;
    /** `-bios`: the firmware that runs before the kernel, a file in QEMU's data directory (the machine's default when unset). */
    firmware?: string;
  };
  /** Kernel command line additions for this arch. */
  cmdline: string[];
  /**
   * What makes the kernel print its banner the moment it starts (an early
   * console, and a log level that shows KERN_NOTICE): the boot benchmark's
   * "first kernel line" boots. Normal boots stay quiet.
   */
  bannerCmdline: string[];
  /**
   * Additions under TCG only. {HOST_TSC_KHZ} is replaced by the host's
   * clock rate, {LPJ} by the loops per jiffy at that rate and the kernel's HZ
   * (and the parameter dropped when a fact is unknown).
   */
  tcgCmdline: string[];
  /**
   * Debian's prebuilt kernel flavours for this arch (`debian:6.1.0-56-cloud`):
   * the flavour's name to the suffix of its package names.
   */
  debianFlavours: Record<string, string>;
  /**
   * Where Debian's own config for a kernel version of this arch lives, for
   * distribution parity: a package ({SERIES} = "6.12"; {IMAGE} = the image
   * package of that flavour and version, {ABI} its ABI) and, per flavour, the
   * file in it (.xz is uncompressed). `split`: the file per flavour where the
   * image package is empty and its files are in parts (from 7.x: the config
   * is in linux-base-X, the first part, beside the modules).
   */
  distroConfig: { package: string; files: Record<string, string>; split?: Record<string, string> };
}

export const ARCHES: Readonly<Record<string, ArchSpec>> = {
  x86_64: {
    name: 'x86_64',
    kernelArch: 'x86_64',
    crossPrefix: 'x86_64-linux-gnu-',
    crossPackage: 'gcc-x86-64-linux-gnu',
    imageTarget: 'bzImage',
    imagePath: 'arch/x86/boot/bzImage',
    // A KASAN kernel's vmlinux entered through PVH resets before printing a line (6.12.118, 2026-12-07: QEMU exits 0
    // with an empty console), its bzImage boots: the PVH entry runs before KASAN's early shadow exists.
    bootImages: [{ path: 'vmlinux', needs: 'CONFIG_PVH', unless: 'CONFIG_KASAN' }, { path: 'arch/x86/boot/bzImage' }],
    fragment: 'x86_64.config',
    configSymbol: 'CONFIG_X86_64',
    guestNeeds: ['CONFIG_SERIAL_8250', 'CONFIG_SERIAL_8250_CONSOLE'],
    debianArch: 'amd64',
    nativeHost: 'x64',
    qemu: {
      binary: 'qemu-system-x86_64',
      package: 'qemu-system-x86',
      machine: 'q35',
      // "max" gives the guest RDRAND under TCG: crng is ready at once and the first ssh login does not stall.
      // Not -erms: without ERMS the kernel tests ran 10% faster, but kmalloc's memset and vmalloc's clear_page
      // sped up unequally and 4 KiB kmalloc measured slower than vmalloc (5339 vs 4567 ns): the emulator's cost
      // model would have decided alloc-cost's claim.
      cpu: 'max',
      console: 'ttyS0',
      netDevice: 'virtio-net-pci',
      // qboot, not SeaBIOS: it sets up the machine and jumps to the kernel (bzImage or PVH) without a BIOS's probing.
      firmware: 'qboot.rom',
    },
    cmdline: [],
    bannerCmdline: ['earlyprintk=serial,ttyS0', 'loglevel=6'],
    // Under TCG the TSC ticks at the host's rate, but a busy host makes the
    // PIT calibration fail ("Unable to calibrate against PIT", no HPET
    // without ACPI) or the watchdog distrust the TSC; either way the kernel
    // falls back to jiffies, a 4 ms clock that makes every timing fact 0.
    // So: give it the rate and tell it to trust the TSC.
    // lpj= presets the delay loop: without it the second CPU calibrates its own (about 0.1 s
    // emulated; the boot CPU's is skipped from the TSC rate, the others' only with constant_tsc).
    tcgCmdline: ['tsc=reliable', 'tsc_early_khz={HOST_TSC_KHZ}', 'lpj={LPJ}'],
    debianFlavours: { generic: 'amd64', cloud: 'cloud-amd64', rt: 'rt-amd64' },
    distroConfig: {
      package: 'linux-config-{SERIES}',
      files: {
        generic: 'usr/src/linux-config-{SERIES}/config.amd64_none_amd64.xz',
        cloud: 'usr/src/linux-config-{SERIES}/config.amd64_none_cloud-amd64.xz',
        rt: 'usr/src/linux-config-{SERIES}/config.amd64_rt_amd64.xz',
      },
    },
  },
  arm64: {
    name: 'arm64',
    kernelArch: 'arm64',
    crossPrefix: 'aarch64-linux-gnu-',
    crossPackage: 'gcc-aarch64-linux-gnu',
    imageTarget: 'Image',
    imagePath: 'arch/arm64/boot/Image',
    bootImages: [{ path: 'arch/arm64/boot/Image' }],
    fragment: 'arm64.config',
    configSymbol: 'CONFIG_ARM64',
    guestNeeds: ['CONFIG_SERIAL_AMBA_PL011', 'CONFIG_SERIAL_AMBA_PL011_CONSOLE', 'CONFIG_PCI_HOST_GENERIC'],
    debianArch: 'arm64',
    nativeHost: 'arm64',
    qemu: {
      binary: 'qemu-system-aarch64',
      package: 'qemu-system-arm',
      machine: 'virt',
      // "max" emulates pointer authentication slowly under TCG: without it, max boots as fast as
      // cortex-a57, and unlike cortex-a57 it has the 16 KiB translation granule 16K-page kernels need.
      cpu: 'max,pauth=off',
      console: 'ttyAMA0',
      netDevice: 'virtio-net-pci',
    },
    cmdline: [],
    // The virt machine's PL011 is at 0x09000000.
    bannerCmdline: ['earlycon=pl011,0x9000000', 'loglevel=6'],
    tcgCmdline: [],
    debianFlavours: { generic: 'arm64', cloud: 'cloud-arm64', rt: 'rt-arm64', '16k': 'arm64-16k' },
    // Debian ships no linux-config package for arm64: the image package carries the config.
    distroConfig: {
      package: '{IMAGE}',
      files: {
        generic: 'boot/config-{ABI}-arm64',
        cloud: 'boot/config-{ABI}-cloud-arm64',
        rt: 'boot/config-{ABI}-rt-arm64',
        '16k': 'boot/config-{ABI}-arm64-16k',
      },
      split: {
        generic: 'usr/lib/modules/{ABI}-arm64/config',
        cloud: 'usr/lib/modules/{ABI}-cloud-arm64/config',
        rt: 'usr/lib/modules/{ABI}-rt-arm64/config',
        '16k': 'usr/lib/modules/{ABI}-arm64-16k/config',
      },
    },
  },
};

export function archSpec(name: string): ArchSpec {
  const a = ARCHES[name];
  if (!a) throw new UsageError(`unknown arch "${name}"`, `Known arches: ${Object.keys(ARCHES).join(', ')}.`);
  return a;
}

/** Whether this host builds for the arch without a cross compiler. */
export function isNative(a: ArchSpec, hostArch: string = process.arch): boolean {
  return a.nativeHost === hostArch;
}

/**
 * The image QEMU boots of a build (a path relative to it): the first of the
 * arch's boot images the build has whose config option is set and whose
 * `unless` option is not.
 */
export function bootImage(a: ArchSpec, has: (path: string) => boolean, config: ReadonlyMap<string, string>): string | undefined {
  return a.bootImages.find((b) => (!b.needs || config.get(b.needs) === 'y') && (!b.unless || config.get(b.unless) !== 'y') && has(b.path))
    ?.path;
}
