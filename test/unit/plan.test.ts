import { describe, expect, it } from 'vitest';
import type { CatalogKernel } from '../../harness/kernel/catalog.ts';
import {
  defaultParallelTargets,
  githubMatrix,
  groupByTarget,
  parseShard,
  planTargets,
  shardTargets,
  shardUnits,
  targetSlug,
  unitsFor,
} from '../../harness/run/plan.ts';

const k = (name: string, arches: string[], extra: Partial<CatalogKernel> = {}): CatalogKernel => ({
  name,
  arches,
  fragments: ['base.config'],
  source: { type: 'debian-source', package: `linux-source-${name}`, tarball: `/usr/src/linux-source-${name}.tar.xz` },
  ...extra,
});
const catalog = [k('6.1', ['x86_64', 'arm64']), k('6.12', ['x86_64', 'arm64']), k('6.1-64k', ['arm64'], { default: false })];
const label = (t: { arch: string; kernel: string }) => `${t.arch}/${t.kernel}`;

describe('planning', () => {
  it('runs the default matrix without filters, leaving out kernels marked default: false', () => {
    expect(planTargets(catalog).map(label)).toEqual(['x86_64/6.1', 'arm64/6.1', 'x86_64/6.12', 'arm64/6.12']);
  });

  it('filters by arch and kernel, and runs a named non-default kernel', () => {
    expect(planTargets(catalog, { arches: ['arm64'] }).map(label)).toEqual(['arm64/6.1', 'arm64/6.12']);
    expect(planTargets(catalog, { kernels: ['6.1-64k'] }).map(label)).toEqual(['arm64/6.1-64k']);
    expect(planTargets(catalog, { kernels: ['6.12'], arches: ['x86_64'] }).map(label)).toEqual(['x86_64/6.12']);
  });

  it('refuses filters that match nothing or name an unknown kernel', () => {
    expect(() => planTargets(catalog, { kernels: ['6.1-64k'], arches: ['x86_64'] })).toThrow(/no target matches/);
    expect(() => planTargets(catalog, { kernels: ['5.10'] })).toThrow(/unknown kernel "5.10"/);
  });
});

describe('sharding', () => {
  const targets = planTargets(catalog);
  const units = unitsFor(targets, ['a', 'b', 'c', 'd', 'e']);
  const many = ['6.1', '6.12', '6.6', '5.10', '6.18'].flatMap((kn) => ['x86_64', 'arm64'].map((arch) => ({ arch, kernel: kn })));

  it.each([1, 2, 3, 4, 7, 25])('splits %i ways into disjoint shards of whole targets that cover the matrix', (n) => {
    const shards = Array.from({ length: n }, (_, i) => shardUnits(units, i + 1, n));
    const keys = shards.flat().map((u) => `${label(u.target)}:${u.scenario}`);
    expect(keys.length).toBe(units.length);
    expect(new Set(keys).size).toBe(units.length);
    // No target in two shards: its kernel is built by one job only.
    const owners = new Map<string, number[]>();
    shards.forEach((s, i) => {
      for (const t of new Set(s.map((u) => label(u.target)))) owners.set(t, [...(owners.get(t) ?? []), i]);
    });
    expect([...owners.values()].filter((o) => o.length > 1)).toEqual([]);
    expect(owners.size).toBe(targets.length);
  });

  it('balances targets over shards and leaves shards beyond the targets empty', () => {
    for (const n of [1, 2, 3, 4, 6, 10, 13]) {
      const sizes = Array.from({ length: n }, (_, i) => shardTargets(many, i + 1, n).length);
      expect(sizes.reduce((x, y) => x + y, 0)).toBe(many.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(shardTargets(targets, 5, 6)).toEqual([]);
    // The two arches of one kernel go to different shards when there are two or more.
    expect(shardTargets(targets, 1, 2).map(label)).toEqual(['arm64/6.1', 'arm64/6.12']);
    expect(shardTargets(targets, 2, 2).map(label)).toEqual(['x86_64/6.1', 'x86_64/6.12']);
  });

  it('is deterministic whatever the input order, and keeps the scenario order within a target', () => {
    expect(shardUnits([...units].reverse(), 2, 3).map((u) => label(u.target))).toEqual(
      [...shardUnits(units, 2, 3)].reverse().map((u) => label(u.target)),
    );
    expect(shardTargets([...targets].reverse(), 2, 3)).toEqual(shardTargets(targets, 2, 3));
    expect(shardUnits(units, 1, 4).map((u) => u.scenario)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('groups a shard back by target for one VM per target', () => {
    const g = groupByTarget(shardUnits(units, 1, 2));
    expect(g.map((x) => label(x.target))).toEqual(['arm64/6.1', 'arm64/6.12']);
    expect(g.flatMap((x) => x.scenarios).length).toBe(10);
  });

  it('parses i/n and refuses nonsense', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/4', '5/4', '2', 'a/b', '1/0']) expect(() => parseShard(bad)).toThrow(/bad --shard/);
  });
});

describe('CI matrix', () => {
  const targets = planTargets(catalog);

  it('has one job per target, whose --shard i/n is that same target', () => {
    const m = githubMatrix(targets).include;
    expect(m.map((e) => e.name)).toEqual(['arm64/6.1', 'x86_64/6.1', 'arm64/6.12', 'x86_64/6.12']);
    for (const e of m) {
      const { index, count } = parseShard(e.shard);
      expect(shardTargets(targets, index, count)).toEqual([{ arch: e.arch, kernel: e.kernel }]);
    }
    expect(m.map((e) => e.slug)).toEqual(['arm64-6.1', 'x86_64-6.1', 'arm64-6.12', 'x86_64-6.12']);
  });

  it('with --shards, one job per non-empty shard', () => {
    expect(githubMatrix(targets, 3).include.map((e) => [e.shard, e.name, e.slug])).toEqual([
      ['1/3', 'arm64/6.1 x86_64/6.12', 'shard-1-of-3'],
      ['2/3', 'x86_64/6.1', 'shard-2-of-3'],
      ['3/3', 'arm64/6.12', 'shard-3-of-3'],
    ]);
    expect(githubMatrix(targets, 9).include.length).toBe(4);
  });

  it('names targets safely for artifacts and files, distinct for distinct targets', () => {
    expect(targetSlug({ arch: 'x86_64', kernel: 'debian:6.12.57-cloud' })).toBe('x86_64-debian_6.12.57-cloud');
    const git = targetSlug({ arch: 'arm64', kernel: 'git:/src/linux@v6.6' });
    expect(git).toMatch(/^arm64-git_src_linux_v6\.6-[0-9a-f]{8}$/);
    expect(targetSlug({ arch: 'arm64', kernel: 'git:/src/linux/v6.6' })).not.toBe(git);
    // GitHub's upload-artifact refuses these in a path.
    for (const k of ['debian:6.1.0-41', 'git:/a b/"x"@<y>|*?', 'build:C:\\k'])
      expect(targetSlug({ arch: 'x86_64', kernel: k })).not.toMatch(/[":<>|*?\\/\r\n ]/);
  });
});

describe('concurrency', () => {
  it('runs one target per core, bounded by memory for two guests each', () => {
    expect(defaultParallelTargets(2, 20000, 512)).toBe(2);
    expect(defaultParallelTargets(16, 20000, 512)).toBe(9);
    expect(defaultParallelTargets(16, 64000, 512)).toBe(16);
    expect(defaultParallelTargets(16, 3000, 512)).toBe(1);
    expect(defaultParallelTargets(1, 20000, 512)).toBe(1);
  });
});
