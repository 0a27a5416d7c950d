/**
 * Planning the matrix: which targets (arch × kernel) run which scenarios, and
 * how a CI splits that into shards. Pure functions over names.
 */

import { ARCHES } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { type CatalogKernel, parseDebianKernel, parseGitKernel } from '../kernel/catalog.ts';

export interface Target {
  arch: string;
  kernel: string;
}

export interface Unit {
  target: Target;
  scenario: string;
}

export interface PlanFilters {
  arches?: string[];
  kernels?: string[];
}

/**
 * Targets for the filters. Without filters: every catalog kernel marked for
 * the default matrix, on every arch it supports. A named kernel runs on the
 * named arches it supports; asking for a pair the catalog lacks is an error.
 */
export function planTargets(catalog: readonly CatalogKernel[], f: PlanFilters = {}): Target[] {
  // Every name is checked, duplicates fold: `--arch x86_64,bogus` is a typo, not "x86_64".
  const wanted = f.arches?.length ? [...new Set(f.arches)] : undefined;
  for (const a of wanted ?? [])
    if (!(a in ARCHES)) throw new UsageError(`unknown arch "${a}"`, `Known arches: ${Object.keys(ARCHES).join(', ')}.`);
  const names = f.kernels?.length ? [...new Set(f.kernels)] : undefined;
  const kernels = names
    ? names.map(
        (n) =>
          catalog.find((k) => k.name === n) ?? parseGitKernel(n, Object.keys(ARCHES)) ?? parseDebianKernel(n) ?? unknownKernel(n, catalog),
      )
    : catalog.filter((k) => k.default !== false);
  const targets: Target[] = [];
  for (const k of kernels) {
    const arches = wanted ? wanted.filter((a) => k.arches.includes(a)) : k.arches;
    for (const arch of arches) targets.push({ arch, kernel: k.name });
  }
  if (!targets.length) {
    throw new UsageError(
      `no target matches --arch ${f.arches?.join(',') ?? '*'} --kernel ${f.kernels?.join(',') ?? '*'}`,
      `The catalog has: ${catalog.map((k) => `${k.name} (${k.arches.join(', ')})`).join('; ')}`,
    );
  }
  return targets;
}

function unknownKernel(name: string, catalog: readonly CatalogKernel[]): never {
  throw new UsageError(
    `unknown kernel "${name}"`,
    `Known kernels: ${catalog.map((k) => k.name).join(', ')} (kernels/catalog.yaml), git:/path/to/linux@REF, or debian:VERSION[-FLAVOUR].`,
  );
}

export function parseShard(s: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(s);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count)
    throw new UsageError(`bad --shard "${s}"`, 'Use --shard i/n with 1 <= i <= n, e.g. --shard 2/4.');
  return { index, count };
}

/**
 * The units of shard i of n. Units are sorted by target then scenario and
 * dealt round-robin, so every shard is deterministic, shards are disjoint,
 * and together they cover the matrix. Dealing (rather than cutting into
 * contiguous blocks) spreads one target's scenarios over shards, which
 * balances the slow targets (arm64 under TCG) across CI jobs; each shard then
 * boots only the targets it has units for.
 */
export function shardUnits(units: readonly Unit[], index: number, count: number): Unit[] {
  const key = (u: Unit) => `${u.target.kernel}\u0000${u.target.arch}\u0000${u.scenario}`;
  const sorted = [...units].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return sorted.filter((_, i) => i % count === index - 1);
}

export function unitsFor(targets: readonly Target[], scenarios: readonly string[]): Unit[] {
  return targets.flatMap((target) => scenarios.map((scenario) => ({ target, scenario })));
}

/** Groups units back by target, keeping scenario order, for one VM per target. */
export function groupByTarget(units: readonly Unit[]): { target: Target; scenarios: string[] }[] {
  const out = new Map<string, { target: Target; scenarios: string[] }>();
  for (const u of units) {
    const k = `${u.target.arch}/${u.target.kernel}`;
    if (!out.has(k)) out.set(k, { target: u.target, scenarios: [] });
    out.get(k)!.scenarios.push(u.scenario);
  }
  return [...out.values()];
}

/** How many targets to run at once: each TCG guest keeps a core busy and needs its RAM. */
export function defaultParallelTargets(cores: number, freeMemMb: number, guestMemMb: number): number {
  return Math.max(1, Math.min(Math.floor(cores / 2), Math.floor(freeMemMb / (guestMemMb + 512))));
}

/** The CI job matrix: one entry per shard. */
export function githubMatrix(shards: number, targets: readonly Target[]): { include: { shard: string; name: string }[] } {
  const n = Math.max(1, shards);
  return {
    include: Array.from({ length: n }, (_, i) => ({
      shard: `${i + 1}/${n}`,
      name: n === 1 ? targets.map((t) => `${t.arch}/${t.kernel}`).join(' ') : `shard ${i + 1} of ${n}`,
    })),
  };
}
