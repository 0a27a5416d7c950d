/**
 * Planning the matrix: which targets (arch × kernel) run which scenarios, and
 * how a CI splits that into shards. Pure functions over names.
 */

import { ARCHES } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import type { CatalogKernel } from '../kernel/catalog.ts';
import { parseDebianKernel, parseGitKernel } from '../kernel/names.ts';

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
    `Known kernels: ${catalog.map((k) => k.name).join(', ')} (kernels/catalog.yaml), git:/path/to/linux@REF, ` +
      'or debian:VERSION[-FLAVOUR] or debian:SERIES[-FLAVOUR].',
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
 * A target's name as a file or CI artifact name: `x86_64-6.1`,
 * `arm64-debian_6.12.57-cloud`. GitHub's artifact upload refuses paths with
 * `:` (and `"<>|*?\\`), which `debian:` and `git:` kernel names carry, and a
 * `git:/path` name would otherwise nest directories. Distinct targets keep
 * distinct names only up to that folding, so two whose names differ in
 * those characters alone get a short hash of the full name.
 */
export function targetSlug(t: Target): string {
  const raw = `${t.arch}-${t.kernel}`;
  const safe = raw.replace(/[^A-Za-z0-9._+-]+/g, '_');
  return safe === raw || !/[^A-Za-z0-9._+:-]/.test(raw) ? safe : `${safe.slice(0, 80)}-${hashName(raw)}`;
}

/** A short stable hash of a name (FNV-1a), so targetSlug stays pure and synchronous. */
function hashName(s: string): string {
  let h = 0x811c9dc5;
  for (const c of s) h = Math.imul(h ^ c.codePointAt(0)!, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/**
 * The targets of shard i of n: whole targets, never part of one. A target's
 * kernel is built (or fetched, or restored from the cache) by the job that
 * runs it, so a target split over two shards would build its kernel twice
 * — with scenarios dealt round-robin, every shard built every kernel, 16
 * cold builds for 4 targets on 4 shards. Targets are sorted by kernel then
 * arch and dealt round-robin, so a shard is deterministic, shards are
 * disjoint and together cover the matrix, and the two arches of one kernel
 * (on one host, the slow arm64 TCG one and the fast x86_64 one) land in
 * different shards. More shards than targets leaves the extra shards empty.
 */
export function shardTargets<T extends Target>(targets: readonly T[], index: number, count: number): T[] {
  const key = (t: Target) => `${t.kernel}\u0000${t.arch}`;
  const sorted = [...new Map(targets.map((t) => [key(t), t])).values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return sorted.filter((_, i) => i % count === index - 1);
}

/** The units of shard i of n: every unit of the shard's targets (shardTargets), in their given order. */
export function shardUnits(units: readonly Unit[], index: number, count: number): Unit[] {
  const mine = new Set(
    shardTargets(
      units.map((u) => u.target),
      index,
      count,
    ).map((t) => `${t.kernel}\u0000${t.arch}`),
  );
  return units.filter((u) => mine.has(`${u.target.kernel}\u0000${u.target.arch}`));
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

/**
 * How many targets to run at once: one per core, as a TCG guest running steps
 * keeps about one core busy (its second vCPU mostly idles), bounded by memory
 * for two guests per target (one may boot ahead), each with QEMU's own 512 MiB.
 * On 2 cores the default matrix took 61 s with two targets at once, 79 s one
 * at a time.
 */
export function defaultParallelTargets(cores: number, freeMemMb: number, guestMemMb: number): number {
  return Math.max(1, Math.min(cores, Math.floor(freeMemMb / (2 * (guestMemMb + 512)))));
}

/** One CI job: the targets it runs and the names it is known by. */
export interface MatrixEntry {
  /** Shown as the job's name: `x86_64/6.1`, or the targets of a shard. */
  name: string;
  /** For artifact and cache names: letters, digits, `._+-` only (targetSlug). */
  slug: string;
  /** `--arch` and `--kernel` values for `kharness run`: exactly this entry's targets. */
  arch: string;
  kernel: string;
  /** `--shard i/n` over the same filters: the same targets, for CIs that number their jobs. */
  shard: string;
}

/**
 * The CI job matrix. Without shards: one job per target, so each kernel is
 * built once, by the job that runs it, and a slow target does not hold up
 * another. With shards: n jobs, each a shardTargets slice (empty shards
 * dropped); its `arch`/`kernel` are then the slice's comma lists, which for
 * a shard of several targets may name pairs of another shard, so such a
 * job runs with `--shard` over the full filters instead.
 */
export function githubMatrix(targets: readonly Target[], shards?: number): { include: MatrixEntry[] } {
  if (!shards) {
    // In shardTargets' order, so entry i is exactly `--shard i/n` of the same filters.
    const all = shardTargets(targets, 1, 1);
    return {
      include: all.map((t, i) => ({
        name: `${t.arch}/${t.kernel}`,
        slug: targetSlug(t),
        arch: t.arch,
        kernel: t.kernel,
        shard: `${i + 1}/${all.length}`,
      })),
    };
  }
  const n = Math.max(1, shards);
  const include: MatrixEntry[] = [];
  for (let i = 1; i <= n; i++) {
    const mine = shardTargets(targets, i, n);
    if (!mine.length) continue;
    include.push({
      name: mine.map((t) => `${t.arch}/${t.kernel}`).join(' '),
      slug: `shard-${i}-of-${n}`,
      arch: [...new Set(mine.map((t) => t.arch))].join(','),
      kernel: [...new Set(mine.map((t) => t.kernel))].join(','),
      shard: `${i}/${n}`,
    });
  }
  return { include };
}
