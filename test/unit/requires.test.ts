import { describe, expect, it } from 'vitest';
import { parseConfig, unmetOptions } from '../../harness/analysis/kconfig.ts';
import { compareVersions } from '../../harness/analysis/version.ts';
import { missingApi, unmetReason } from '../../harness/scenario/requires.ts';

const config = parseConfig('CONFIG_SLUB=y\nCONFIG_VIRTIO_NET=m\n# CONFIG_KASAN is not set\n');
const t = { arch: 'x86_64', release: '6.1.192', config };

describe('requires', () => {
  it('is met by built-in and modular options', () => {
    expect(unmetReason({ config: ['CONFIG_SLUB', 'CONFIG_VIRTIO_NET'] }, t)).toBeUndefined();
  });
  it('names what is missing', () => {
    expect(unmetReason({ config: ['CONFIG_KASAN', 'CONFIG_DEBUG_ATOMIC_SLEEP'] }, t)).toBe(
      'kernel config lacks CONFIG_KASAN, CONFIG_DEBUG_ATOMIC_SLEEP',
    );
    expect(unmetReason({ arch: ['arm64'] }, t)).toBe('needs arch arm64, target is x86_64');
    expect(unmetReason({ min_version: '6.12' }, t)).toBe('needs kernel >= 6.12, target is 6.1.192');
    expect(unmetReason({ min_version: '6.1' }, t)).toBeUndefined();
  });
  it('bounds the version from above: a series as max_version holds all its releases', () => {
    expect(unmetReason({ max_version: '6.1' }, t)).toBeUndefined();
    expect(unmetReason({ max_version: '6.12' }, { ...t, release: '6.12.118+deb12-cloud-amd64' })).toBeUndefined();
    expect(unmetReason({ max_version: '6.12' }, { ...t, release: '7.2.13+deb14-cloud-amd64' })).toBe(
      'needs kernel <= 6.12, target is 7.2.13+deb14-cloud-amd64',
    );
    expect(unmetReason({ max_version: '6.1.100' }, t)).toBe('needs kernel <= 6.1.100, target is 6.1.192');
    expect(unmetReason({ min_version: '6.1', max_version: '6.12' }, { ...t, release: '5.10.0-46-cloud-amd64' })).toBe(
      'needs kernel >= 6.1, target is 5.10.0-46-cloud-amd64',
    );
  });
  it('skips a step whose API the version lacks, before boot', () => {
    expect(missingApi('kmalloc_nolock', '6.12.118+deb12-cloud-amd64')).toBe(
      'needs kmalloc_nolock, which kernels before 7.2 do not have (target is 6.12.118+deb12-cloud-amd64)',
    );
    expect(missingApi('kmalloc_nolock', '7.2.13+deb14-cloud-amd64')).toBeUndefined();
    expect(missingApi('__vmalloc', '5.10.0-46-cloud-amd64')).toBeUndefined();
  });
  it('compares versions numerically', () => {
    expect(compareVersions('6.12.117', '6.2')).toBeGreaterThan(0);
    expect(compareVersions('6.1.192', '6.1')).toBeGreaterThan(0);
    expect(compareVersions('6.1', '6.1.0')).toBe(0);
  });
  it('lists fragment options the final config did not honour', () => {
    const wanted = parseConfig('CONFIG_SLUB=y\n# CONFIG_KASAN is not set\nCONFIG_CPU_FREQ=n\nCONFIG_FOO=y\n');
    expect(unmetOptions(wanted, config)).toEqual(['CONFIG_FOO=y (got n)']);
  });
});
