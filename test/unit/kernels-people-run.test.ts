import { beforeAll, describe, expect, it } from 'vitest';
import { allocatorProfile, parseConfig } from '../../harness/analysis/kconfig.ts';
import { ARCHES } from '../../harness/arch/arches.ts';
import { exitCode } from '../../harness/cli/exit.ts';
import { type CatalogKernel, loadCatalog, paritySource } from '../../harness/kernel/catalog.ts';
import { checkKernelEntry, type KernelEntry, orderedModules } from '../../harness/kernel/entry.ts';
import { parseGitKernel } from '../../harness/kernel/names.ts';
import { configArch, GUEST_NEEDS, missingGuestNeeds } from '../../harness/kernel/own.ts';
import { formatRequest, parseResponse } from '../../harness/probe/protocol.ts';
import { compareTargets } from '../../harness/report/compare.ts';
import type { ResultRecord } from '../../harness/results/records.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import { resolveStep } from '../../harness/scenario/resolve.ts';
import type { ProbeStep } from '../../harness/scenario/types.ts';

const GUEST_OK = parseConfig(
  `${[...GUEST_NEEDS, ...ARCHES.x86_64!.guestNeeds, 'CONFIG_X86_64'].map((o) => `${o}=y`).join('\n')}\n# CONFIG_SLUB_TINY is not set\n`,
);

describe('your own kernel build', () => {
  it('finds the arch from the .config and lists what a guest needs that it lacks', () => {
    expect(configArch(GUEST_OK)?.name).toBe('x86_64');
    expect(configArch(parseConfig('CONFIG_ARM64=y'))?.name).toBe('arm64');
    expect(configArch(parseConfig('CONFIG_RISCV=y'))).toBeUndefined();
    expect(missingGuestNeeds(GUEST_OK, ARCHES.x86_64!)).toEqual([]);
    const noNet = new Map(GUEST_OK);
    noNet.set('CONFIG_VIRTIO_NET', 'm');
    noNet.delete('CONFIG_DEBUG_FS');
    // virtio_net as a module is not enough: the guest has no modules of the build's own.
    expect(missingGuestNeeds(noNet, ARCHES.x86_64!)).toEqual(['CONFIG_DEBUG_FS', 'CONFIG_VIRTIO_NET']);
    expect(missingGuestNeeds(GUEST_OK, ARCHES.arm64!)).toEqual([
      'CONFIG_SERIAL_AMBA_PL011',
      'CONFIG_SERIAL_AMBA_PL011_CONSOLE',
      'CONFIG_PCI_HOST_GENERIC',
    ]);
  });

  it("passes a guest command's exit code through as kharness's", () => {
    expect(exitCode({ guest: 7 })).toBe(7);
    expect(exitCode({ guest: 0 })).toBe(0);
    expect(exitCode({ guest: null })).toBe(1);
  });
});

describe('cached kernels from before strict configs', () => {
  it('are not served when they recorded options they asked for and did not get', async () => {
    const entry = { key: 'k', release: '6.12.117', unmet: ['CONFIG_SLUB_DEBUG=y (got n)'] } as unknown as KernelEntry;
    expect(await checkKernelEntry(entry)).toBe('it was built without config options it asked for (CONFIG_SLUB_DEBUG=y (got n))');
  });
});

describe('allocator profiles', () => {
  it('records each option, "-" where the kernel has none', () => {
    expect(allocatorProfile(GUEST_OK, ['SLUB_TINY', 'SLAB_BUCKETS', 'X86_64'])).toEqual({ SLUB_TINY: 'n', SLAB_BUCKETS: '-', X86_64: 'y' });
  });

  it('shows the options that differ between targets', () => {
    const t = (kernel: string) => ({ arch: 'x86_64', kernel });
    const recs: ResultRecord[] = [
      { type: 'target-begin', target: t('6.12'), at: '' },
      { type: 'kernel-profile', target: t('6.12'), options: { SLUB_TINY: 'n', KFENCE: 'y', SLUB: 'y' } },
      { type: 'target-begin', target: t('tiny'), at: '' },
      { type: 'kernel-profile', target: t('tiny'), options: { SLUB_TINY: 'y', KFENCE: '-', SLUB: 'y' } },
    ];
    expect(compareTargets(recs).rows).toEqual([
      { label: 'config SLUB_TINY', values: { 'x86_64/6.12': 'n', 'x86_64/tiny': 'y' } },
      { label: 'config KFENCE', values: { 'x86_64/6.12': 'y', 'x86_64/tiny': '-' } },
    ]);
  });
});

describe('the scan action', () => {
  const scenario = async (steps: string) => parseScenario(`name: s\nsteps:\n${steps}`, 's.yaml');

  it('resolves sizes in guest constants and goes on the wire with numbers only', async () => {
    const s = await scenario(
      '  - alloc: { api: kmalloc, size: PAGE_SIZE, hold: b }\n  - scan: { name: b, len: 32GiB + 16, mark: 16 }\n    expect: { scan_first: 16 }\n',
    );
    const [r] = resolveStep(s.steps[1] as ProbeStep, { PAGE_SIZE: 4096 });
    expect(formatRequest(3, r!.action)).toBe('cmd=scan seq=3 name=b len=34359738384 mark=16');
    expect(parseResponse('status=ok name=b scan_len=34359738384 scan_first=-1').facts).toEqual({
      name: 'b',
      scan_len: 34359738384,
      scan_first: -1,
    });
  });

  it('refuses a scan of an allocation no earlier step holds, at its line', async () => {
    await expect(scenario('  - scan: { name: nope, len: 4KiB, mark: 16 }\n')).rejects.toThrow(
      /s\.yaml:3:19: no earlier step holds an allocation named "nope"/,
    );
    await expect(scenario('  - alloc: { api: kmalloc, size: 64, hold: b }\n  - scan: { name: b, len: 4KiB }\n')).rejects.toThrow(
      /s\.yaml:4:\d+: .*mark/,
    );
  });
});

describe('git kernels take Debian parity from the catalog kernel of their series', () => {
  let catalog: CatalogKernel[];
  beforeAll(async () => {
    catalog = await loadCatalog();
  });

  it('names the Debian source package of a series the catalog builds with generic parity', () => {
    expect(paritySource('6.1', catalog)?.package).toBe('linux-source-6.1');
    expect(paritySource('6.12', catalog)?.package).toBe('linux-source-6.12');
  });

  it('names none for a series the catalog does not build from Debian, or builds only with another flavour', () => {
    expect(paritySource('6.6', catalog)).toBeUndefined();
    const rtOnly = catalog.filter((k) => k.name === '6.12-rt');
    expect(rtOnly.length).toBe(1);
    expect(paritySource('6.12', rtOnly)).toBeUndefined();
  });

  it('a git: kernel asks for parity, with the catalog 6.1 fragments', () => {
    const k = parseGitKernel('git:/tmp/linux@v6.1', ['x86_64']);
    const catalog61 = catalog.find((c) => c.name === '6.1')!;
    expect(k).toMatchObject({ distro_parity: true, fragments: catalog61.fragments });
  });
});

describe("the modules a build made, from Kbuild's modules.order", () => {
  // modules.order of the catalog's x86_64 6.1 (linux-source-6.1 6.1.192) and arm64 6.12 (6.12.118) builds, as written.
  it('reads 6.1 (NAME.ko) and 6.12 (NAME.o) lines as .ko paths in the build directory', () => {
    const ko = ['lib/test_vmalloc.ko', 'lib/test_meminit.ko', 'lib/test_free_pages.ko', 'lib/slub_kunit.ko'];
    expect(orderedModules(`${ko.join('\n')}\n`)).toEqual(ko);
    expect(orderedModules('lib/test_vmalloc.o\nlib/test_meminit.o\nlib/test_free_pages.o\nlib/slub_kunit.o\n')).toEqual(ko);
  });

  it('reads an empty list (a kernel with modules but none built) as none', () => {
    expect(orderedModules('')).toEqual([]);
    expect(orderedModules('\n')).toEqual([]);
  });
});
