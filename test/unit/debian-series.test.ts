import { describe, expect, it } from 'vitest';
import { ARCHES } from '../../harness/arch/arches.ts';
import {
  type DebianKernel,
  debianIndex,
  kbuildPackage,
  nearestVersions,
  parseDebianName,
  resolveDebian,
  seriesGap,
} from '../../harness/kernel/debian.ts';
import { parseDebianKernel } from '../../harness/kernel/names.ts';

// Package names as `apt-cache search --names-only '^linux-(image|headers)-[0-9]'` lists them
// on Debian 12 (bookworm + bookworm-security, 2026-11), a subset.
const AMD64 = [
  'linux-image-6.1.0-47-amd64',
  'linux-image-6.1.0-47-cloud-amd64',
  'linux-image-6.1.0-47-cloud-amd64-unsigned',
  'linux-image-6.1.0-47-rt-amd64',
  'linux-headers-6.1.0-47-amd64',
  'linux-headers-6.1.0-47-cloud-amd64',
  'linux-headers-6.1.0-47-common',
  'linux-headers-6.1.0-47-common-rt',
  'linux-headers-6.1.0-47-rt-amd64',
  'linux-image-6.1.0-48-cloud-amd64',
  'linux-image-6.1.0-50-cloud-amd64',
  'linux-image-6.1.0-50-cloud-amd64-dbg',
  'linux-headers-6.1.0-50-cloud-amd64',
  'linux-headers-6.1.0-50-common',
  'linux-image-6.1.0-56-cloud-amd64-unsigned',
  'linux-headers-6.1.0-56-cloud-amd64',
  'linux-headers-6.1.0-56-common',
  'linux-image-6.12-cloud-amd64',
  'linux-image-6.12.107+deb12-cloud-amd64',
  'linux-headers-6.12.107+deb12-cloud-amd64',
  'linux-headers-6.12.107+deb12-common',
  'linux-image-6.12.117+deb12-cloud-amd64-unsigned',
  'linux-headers-6.12.117+deb12-cloud-amd64',
  'linux-headers-6.12.117+deb12-common',
];
const ARM64 = ['linux-image-6.12.117+deb12-arm64-16k', 'linux-headers-6.12.117+deb12-arm64-16k', 'linux-headers-6.12.117+deb12-common'];
const FLAVOURS = ['generic', 'cloud', 'rt', '16k'];

describe("Debian's prebuilt kernel series", () => {
  const index = debianIndex(AMD64, ARCHES.x86_64!.debianFlavours);

  it('counts a version only when its image and both headers packages are in the archive', () => {
    expect(index.kernels.map((k) => `${k.abi} ${k.flavour}`)).toEqual([
      '6.1.0-47 cloud',
      '6.1.0-47 generic',
      '6.1.0-47 rt',
      '6.1.0-50 cloud',
      '6.1.0-56 cloud',
      '6.12.107+deb12 cloud',
      '6.12.117+deb12 cloud',
    ]);
    expect(index.imageOnly).toEqual([{ abi: '6.1.0-48', flavour: 'cloud' }]);
  });

  it('takes the unsigned image when there is one, and the rt flavour with the rt common headers', () => {
    const by = (abi: string, fl: string) => index.kernels.find((k) => k.abi === abi && k.flavour === fl)!;
    expect(by('6.1.0-47', 'cloud').image).toBe('linux-image-6.1.0-47-cloud-amd64-unsigned');
    expect(by('6.1.0-50', 'cloud').image).toBe('linux-image-6.1.0-50-cloud-amd64');
    expect(by('6.1.0-47', 'rt').headers).toEqual(['linux-headers-6.1.0-47-rt-amd64', 'linux-headers-6.1.0-47-common-rt']);
  });

  it('reads the 16k flavour on arm64, not on x86_64', () => {
    expect(debianIndex(ARM64, ARCHES.arm64!.debianFlavours).kernels.map((k) => k.flavour)).toEqual(['16k']);
    expect(parseDebianKernel('debian:6.12.117-16k')!.arches).toEqual(['arm64']);
    expect(parseDebianKernel('debian:6.1.0-56-cloud')).toMatchObject({
      name: 'debian:6.1.0-56-cloud',
      source: { type: 'debian-image', version: '6.1.0-56', flavour: 'cloud' },
      arches: ['x86_64', 'arm64'],
    });
    expect(parseDebianKernel('debian:6.1.0-56-generic')!.name).toBe('debian:6.1.0-56');
  });

  it('names one version, or a range of one series and flavour, oldest first', () => {
    expect(parseDebianName('debian:6.12.117-rt', FLAVOURS)).toEqual({ from: { version: '6.12.117', flavour: 'rt' } });
    const r = parseDebianName('debian:6.1.0-47..6.1.0-56-cloud', FLAVOURS)!;
    expect(r).toEqual({ from: { version: '6.1.0-47', flavour: 'cloud' }, to: { version: '6.1.0-56', flavour: 'cloud' } });
    const ok = resolveDebian(r, index, 'x86_64');
    expect('ok' in ok && ok.ok.map((k) => k.abi)).toEqual(['6.1.0-47', '6.1.0-50', '6.1.0-56']);
    expect(parseDebianName('6.1', FLAVOURS)).toBeUndefined();
  });

  it('refuses what cannot be run, in one line naming what is there', () => {
    const err = (name: string) => {
      const r = resolveDebian(parseDebianName(name, FLAVOURS)!, index, 'x86_64');
      return 'error' in r ? r.error : 'resolved';
    };
    expect(err('debian:6.1.0-57-cloud')).toBe(
      'no Debian kernel debian:6.1.0-57-cloud for x86_64; nearest: debian:6.1.0-56-cloud, debian:6.1.0-50-cloud, debian:6.1.0-47-cloud',
    );
    expect(err('debian:6.1.0-48-cloud')).toMatch(/has no headers in the archive/);
    expect(err('debian:6.1.0-47-cloud..6.12.117-cloud')).toMatch(/different series \(6\.1, 6\.12\)/);
    expect(err('debian:6.1.0-56-cloud..6.1.0-47-cloud')).toMatch(/runs backwards/);
    expect(err('debian:6.1.0-47-rt..6.1.0-56-cloud')).toMatch(/different flavours/);
    expect(err('debian:6.1.0-56-16k')).toMatch(/no 16k kernels for x86_64/);
    expect(() => parseDebianName('debian:banana', FLAVOURS)).toThrow(/not a Debian kernel version/);
    expect(() => parseDebianName('debian:1..2..3', FLAVOURS)).toThrow(/more than one/);
  });

  describe("a series name: the newest version with headers, or the oldest as a range's first end", () => {
    const arm64 = debianIndex(ARM64, ARCHES.arm64!.debianFlavours);
    const resolve = (name: string, idx = index, arch = 'x86_64') => {
      const r = resolveDebian(parseDebianName(name, FLAVOURS)!, idx, arch);
      return 'error' in r ? r.error : r.ok.map((k: DebianKernel) => `${k.abi} ${k.flavour}`);
    };

    it('reads major.minor as a series, of the flavour written or generic', () => {
      expect(parseDebianName('debian:6.12-cloud', FLAVOURS)).toEqual({ from: { series: '6.12', flavour: 'cloud' } });
      expect(parseDebianName('debian:6.1', FLAVOURS)).toEqual({ from: { series: '6.1', flavour: 'generic' } });
      expect(parseDebianName('debian:6.12-16k', FLAVOURS)).toEqual({ from: { series: '6.12', flavour: '16k' } });
      // 6.1.0 is a version (one the archive does not have), not the series 6.1.
      expect(parseDebianName('debian:6.1.0-cloud', FLAVOURS)).toEqual({ from: { version: '6.1.0', flavour: 'cloud' } });
    });

    it('is the newest of its series and flavour, on the arch asked about', () => {
      expect(resolve('debian:6.1-cloud')).toEqual(['6.1.0-56 cloud']);
      expect(resolve('debian:6.12-cloud')).toEqual(['6.12.117+deb12 cloud']);
      expect(resolve('debian:6.1')).toEqual(['6.1.0-47 generic']);
      expect(resolve('debian:6.1-rt')).toEqual(['6.1.0-47 rt']);
      expect(resolve('debian:6.12-16k', arm64, 'arm64')).toEqual(['6.12.117+deb12 16k']);
    });

    it('stays the name of the target, its source a series to resolve when fetched', () => {
      expect(parseDebianKernel('debian:6.12-cloud')).toMatchObject({
        name: 'debian:6.12-cloud',
        source: { type: 'debian-image', series: '6.12', flavour: 'cloud' },
        arches: ['x86_64', 'arm64'],
      });
      expect(parseDebianKernel('debian:6.12-cloud')!.source).not.toHaveProperty('version');
      expect(parseDebianKernel('debian:6.12-16k')!.arches).toEqual(['arm64']);
      expect(parseDebianKernel('debian:6.1-generic')!.name).toBe('debian:6.1');
    });

    it('passes over a newer version whose headers are not in the archive', () => {
      // The capture with one more 6.12 cloud image and no headers for it, as the lists hold image-only versions
      // (today 6.1.0-48, -49, -51, -52, 6.12.100, 6.12.101): the series is the newest version the probe can be built for.
      const lagging = debianIndex([...AMD64, 'linux-image-6.12.118+deb12-cloud-amd64-unsigned'], ARCHES.x86_64!.debianFlavours);
      expect(lagging.imageOnly).toContainEqual({ abi: '6.12.118+deb12', flavour: 'cloud' });
      expect(resolve('debian:6.12-cloud', lagging)).toEqual(['6.12.117+deb12 cloud']);
      expect(resolve('debian:6.12.118-cloud', lagging)).toMatch(/^debian:6\.12\.118-cloud has no headers in the archive for x86_64/);
      // A series none of whose versions has headers says so, naming the image-only versions.
      const headless = debianIndex(
        AMD64.filter((n) => !n.startsWith('linux-headers-6.12')),
        ARCHES.x86_64!.debianFlavours,
      );
      expect(resolve('debian:6.12-cloud', headless)).toBe(
        'debian:6.12-cloud has no version with headers in the archive for x86_64 (image only: 6.12.107, 6.12.117), so the probe cannot be built for it',
      );
    });

    it('as a range end is the oldest of the series first, the newest last', () => {
      expect(resolve('debian:6.1..6.1-cloud')).toEqual(['6.1.0-47 cloud', '6.1.0-50 cloud', '6.1.0-56 cloud']);
      expect(resolve('debian:6.1.0-50..6.1-cloud')).toEqual(['6.1.0-50 cloud', '6.1.0-56 cloud']);
      expect(resolve('debian:6.1..6.1.0-50-cloud')).toEqual(['6.1.0-47 cloud', '6.1.0-50 cloud']);
      expect(resolve('debian:6.12..6.12-cloud')).toEqual(['6.12.107+deb12 cloud', '6.12.117+deb12 cloud']);
      expect(resolve('debian:6.1..6.12-cloud')).toMatch(/different series \(6\.1, 6\.12\)/);
    });

    it('refuses a series the archive does not have, in one line naming the series it has', () => {
      expect(resolve('debian:7.2-cloud')).toBe('Debian has no 7.2 cloud kernels for x86_64; nearest: 6.12 (series: 6.1, 6.12)');
      expect(resolve('debian:6.6')).toBe('Debian has no 6.6 generic kernels for x86_64; nearest: 6.1 (series: 6.1)');
      expect(resolve('debian:7.2-16k', arm64, 'arm64')).toBe('Debian has no 7.2 16k kernels for arm64; nearest: 6.12 (series: 6.12)');
      expect(resolve('debian:7.2..7.2-cloud')).toBe('Debian has no 7.2 cloud kernels for x86_64; nearest: 6.12 (series: 6.1, 6.12)');
      expect(resolve('debian:6.12-16k')).toMatch(/^Debian has no 16k kernels for x86_64/);
    });
  });

  describe('across the suites of five series (bullseye to experimental)', () => {
    // Package names as kharness's own apt state lists them (2026-12-07), a subset: 5.10 from bullseye(-security),
    // 6.12.117 built for bookworm (+deb12) and trixie (+deb13), 7.2 from sid, 7.3's release candidate from
    // experimental (its ABI is the series alone) beside the metapackages of 6.12 (no common headers of their own).
    const NAMES = [
      'linux-image-5.10.0-46-cloud-amd64-unsigned',
      'linux-headers-5.10.0-46-cloud-amd64',
      'linux-headers-5.10.0-46-common',
      'linux-image-6.12.117+deb13-cloud-amd64-unsigned',
      'linux-headers-6.12.117+deb13-cloud-amd64',
      'linux-headers-6.12.117+deb13-common',
      'linux-image-6.12.117+deb12-cloud-amd64-unsigned',
      'linux-headers-6.12.117+deb12-cloud-amd64',
      'linux-headers-6.12.117+deb12-common',
      'linux-image-6.12-cloud-amd64',
      'linux-headers-6.12-cloud-amd64',
      'linux-image-7.2.13+deb14-cloud-amd64',
      'linux-headers-7.2.13+deb14-cloud-amd64',
      'linux-image-7.2.13+deb14-rt-amd64',
      'linux-headers-7.2.13+deb14-rt-amd64',
      'linux-headers-7.2.13+deb14-common',
      'linux-image-7.3-cloud-amd64',
      'linux-headers-7.3-cloud-amd64',
      'linux-headers-7.3-common',
    ];
    const all = debianIndex(NAMES, ARCHES.x86_64!.debianFlavours);
    const resolve = (name: string) => {
      const r = resolveDebian(parseDebianName(name, FLAVOURS)!, all, 'x86_64');
      return 'error' in r ? r.error : r.ok.map((k: DebianKernel) => `${k.abi} ${k.flavour}`);
    };

    it('lists each version once, a release candidate as X.Y-rc, not the metapackages', () => {
      expect(all.kernels.map((k) => `${k.abi} ${k.flavour} ${k.series}`)).toEqual([
        '5.10.0-46 cloud 5.10',
        '6.12.117+deb12 cloud 6.12',
        '7.2.13+deb14 cloud 7.2',
        '7.2.13+deb14 rt 7.2',
        '7.3 cloud 7.3',
      ]);
      expect(resolve('debian:7.3-rc-cloud')).toEqual(['7.3 cloud']);
      expect(resolve('debian:7.3-cloud')).toEqual(['7.3 cloud']);
      expect(all.kernels.find((k) => k.abi === '7.3')!.headers).toEqual(['linux-headers-7.3-cloud-amd64', 'linux-headers-7.3-common']);
    });

    it("takes 7.x's rt headers from the shared common package (PREEMPT_RT is mainline there)", () => {
      expect(all.kernels.find((k) => k.flavour === 'rt')!.headers).toEqual([
        'linux-headers-7.2.13+deb14-rt-amd64',
        'linux-headers-7.2.13+deb14-common',
      ]);
    });

    it('walks across series for a bisect, in order, and says where the archive has nothing between two series', () => {
      const r = resolveDebian(parseDebianName('debian:6.12..debian:7.2-cloud', FLAVOURS)!, all, 'x86_64', { acrossSeries: true });
      expect('ok' in r && r.ok.map((k) => k.abi)).toEqual(['6.12.117+deb12', '7.2.13+deb14']);
      expect(seriesGap('debian:6.12.117-cloud', 'debian:7.2.13-cloud')).toBe(
        "the change lies between debian:6.12.117-cloud (6.12) and debian:7.2.13-cloud (7.2): Debian's archive has no versions between these series. " +
          'Continue on a tree that has the history: kharness bisect --repo LINUX --good v6.12 --bad v7.2 --scenario ... ' +
          '(or --kernels git:LINUX@v6.12,git:LINUX@v7.2 for the two ends alone)',
      );
      expect(seriesGap('debian:7.2.12-cloud', 'debian:7.2.13-cloud')).toBeUndefined();
      expect(seriesGap('git:/l@abc', 'git:/l@def')).toBeUndefined();
    });

    it('names the nearest for an unknown series or version, and refuses a range across series', () => {
      expect(resolve('debian:7.1-cloud')).toBe('Debian has no 7.1 cloud kernels for x86_64; nearest: 7.2 (series: 5.10, 6.12, 7.2, 7.3)');
      expect(resolve('debian:5.10.0-45-cloud')).toBe(
        'no Debian kernel debian:5.10.0-45-cloud for x86_64; nearest: debian:5.10.0-46-cloud, debian:7.2.13-cloud, debian:7.3-rc-cloud',
      );
      expect(resolve('debian:6.12..7.2-cloud')).toMatch(/different series \(6\.12, 7\.2\)/);
    });
  });

  it('finds the kbuild package the headers point at, per series or per version', () => {
    expect(kbuildPackage('6.1.0-56', ['linux-kbuild-6.1', 'linux-kbuild-6.12.117+deb12'])).toBe('linux-kbuild-6.1');
    expect(kbuildPackage('6.12.117+deb12', ['linux-kbuild-6.1', 'linux-kbuild-6.12.117+deb12'])).toBe('linux-kbuild-6.12.117+deb12');
    expect(kbuildPackage('6.12.99+deb12', ['linux-kbuild-6.1'])).toBeUndefined();
    expect(nearestVersions('6.12.116', ['6.1.0-56', '6.12.115', '6.12.117', '6.12.107'], 2)).toEqual(['6.12.115', '6.12.117']);
  });
});
