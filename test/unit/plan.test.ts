import { describe, expect, it } from 'vitest';
import type { CatalogKernel } from '../../harness/kernel/catalog.ts';
import {
  defaultParallelTargets,
  githubMatrix,
  groupByTarget,
  parseShard,
  planTargets,
  shardUnits,
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
  const units = unitsFor(planTargets(catalog), ['a', 'b', 'c', 'd', 'e']);

  it.each([1, 2, 3, 4, 7, 25, 40])('splits %i ways into disjoint shards that cover the matrix', (n) => {
    const shards = Array.from({ length: n }, (_, i) => shardUnits(units, i + 1, n));
    const keys = shards.flat().map((u) => `${label(u.target)}:${u.scenario}`);
    expect(keys.length).toBe(units.length);
    expect(new Set(keys).size).toBe(units.length);
    const sizes = shards.map((s) => s.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it('is deterministic whatever the input order', () => {
    expect(shardUnits([...units].reverse(), 2, 3)).toEqual(shardUnits(units, 2, 3));
  });

  it('groups a shard back by target for one VM per target', () => {
    const g = groupByTarget(shardUnits(units, 1, 2));
    expect(g.map((x) => label(x.target))).toEqual(['arm64/6.1', 'x86_64/6.1', 'arm64/6.12', 'x86_64/6.12']);
    expect(g.flatMap((x) => x.scenarios).length).toBe(10);
  });

  it('parses i/n and refuses nonsense', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    for (const bad of ['0/4', '5/4', '2', 'a/b', '1/0']) expect(() => parseShard(bad)).toThrow(/bad --shard/);
  });

  it('prints a CI matrix with one entry per shard', () => {
    expect(githubMatrix(3, planTargets(catalog)).include.map((e) => e.shard)).toEqual(['1/3', '2/3', '3/3']);
  });
});

describe('concurrency', () => {
  it('runs one TCG guest per two cores, bounded by memory', () => {
    expect(defaultParallelTargets(2, 20000, 512)).toBe(1);
    expect(defaultParallelTargets(16, 20000, 512)).toBe(8);
    expect(defaultParallelTargets(16, 2000, 512)).toBe(1);
    expect(defaultParallelTargets(1, 20000, 512)).toBe(1);
  });
});
