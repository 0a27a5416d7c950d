/**
 * Debian's prebuilt kernels as a series: `debian:VERSION[-FLAVOUR]` names one
 * (`debian:6.1.0-56-cloud`, `debian:6.12.117-rt`), `debian:SERIES[-FLAVOUR]`
 * the newest of a series (`debian:6.12-cloud`: the archive drops superseded
 * versions, a series name follows it), `debian:A..B` a range of one series
 * and flavour, where a series as A is its oldest version and as B its newest
 * (`debian:6.1..6.1-cloud`: every 6.1 cloud kernel). What exists comes from
 * the apt lists of the guest's arch: a version counts only when its image and
 * its headers are both in the archive (the probe is built against the
 * headers). Pure: the package names come in, the versions go out.
 */

/** One prebuilt kernel of one flavour on one arch, with the packages it takes. */
export interface DebianKernel {
  /** "6.1.0-56", "6.12.117+deb12": the ABI in Debian's package names. */
  abi: string;
  /** "6.1", "6.12". */
  series: string;
  flavour: string;
  /** linux-image-…, the -unsigned one when the archive has it (same image, no signature). */
  image: string;
  /** The flavour's headers and the common headers they include. */
  headers: string[];
  /**
   * The packages the image's files are in, when not the image package itself: from 7.x linux-image-X is empty
   * and depends on linux-base-X (config, System.map), linux-binary(-unsigned)-X (vmlinuz) and linux-modules-X.
   */
  parts?: string[];
}

/** One end of a name: an exact version or a whole series (one of the two), of one flavour. */
export interface DebianSpec {
  /** "6.1.0-56" or "6.12.117" as written (an ABI with any +debNN dropped). */
  version?: string;
  /** "6.12": the series, when no version is given. */
  series?: string;
  flavour: string;
}

export interface DebianRange {
  from: DebianSpec;
  to?: DebianSpec;
}

const VERSION = /^\d+\.\d+(?:\.\d+)?(?:-\d+|-rc)?(?:\+deb\d+)?$/;
/** A release candidate's ABI is its series alone (linux-image-7.3-cloud-amd64, 7.3~rc7): named X.Y-rc. */
const RC_ABI = /^\d+\.\d+$/;
/** A series is major.minor and nothing more: 6.1.0 is a (missing) version, not 6.1. */
const SERIES = /^\d+\.\d+$/;

/** The version people write for an ABI: 6.12.117+deb12 → 6.12.117. */
export function shortVersion(abi: string): string {
  return RC_ABI.test(abi) ? `${abi}-rc` : abi.replace(/\+deb\d+$/, '');
}

export function seriesOf(version: string): string {
  return /^(\d+\.\d+)/.exec(version)?.[1] ?? version;
}

/** The name a prebuilt kernel goes by: debian:6.1.0-56-cloud; the generic flavour has no suffix. */
export function debianName(version: string, flavour: string): string {
  return `debian:${shortVersion(version)}${flavour === 'generic' ? '' : `-${flavour}`}`;
}

/** The name of a series' newest kernel: debian:6.12-cloud. */
export function seriesName(series: string, flavour: string): string {
  return `debian:${series}${flavour === 'generic' ? '' : `-${flavour}`}`;
}

/** Numbers of a version, for ordering: 6.1.0-47 → [6,1,0,47]. */
function numbers(v: string): number[] {
  return (shortVersion(v).match(/\d+/g) ?? []).map(Number);
}

export function compareDebianVersions(a: string, b: string): number {
  const x = numbers(a);
  const y = numbers(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/**
 * Parses `debian:VERSION[-FLAVOUR]` or `debian:A..B` (B may repeat the
 * `debian:` prefix); undefined when the name is not a debian: name at all.
 * Throws a one-line reason when it is one but malformed.
 */
export function parseDebianName(name: string, flavours: readonly string[]): DebianRange | undefined {
  if (!name.startsWith('debian:')) return undefined;
  const body = name.slice('debian:'.length);
  const ends = body.split('..');
  if (ends.length > 2) throw new Error(`"${name}" has more than one ".."`);
  const one = (s: string): DebianSpec => {
    const t = s.replace(/^debian:/, '');
    const f = [...flavours].sort((a, b) => b.length - a.length).find((fl) => t.endsWith(`-${fl}`));
    const version = f ? t.slice(0, -(f.length + 1)) : t;
    if (SERIES.test(version)) return { series: version, flavour: f ?? 'generic' };
    if (!VERSION.test(version))
      throw new Error(
        `"${t}" is not a Debian kernel version like 6.1.0-56 or 6.12.117, or a series like 6.12 (flavours: ${flavours.join(', ')})`,
      );
    return { version: shortVersion(version), flavour: f ?? 'generic' };
  };
  const from = one(ends[0]!);
  if (ends.length === 1) return { from };
  const to = one(ends[1]!);
  // debian:6.1.0-47..6.1.0-56-cloud: a flavour written once applies to both ends.
  if (from.flavour === 'generic' && to.flavour !== 'generic' && !ends[0]!.includes('-generic')) from.flavour = to.flavour;
  return { from, to };
}

/**
 * The prebuilt kernels the package names describe, per flavour, oldest
 * first; versions with an image but no headers are listed in `imageOnly`.
 * `suffixes`: the arch's flavour table (cloud → cloud-amd64).
 */
export function debianIndex(
  names: readonly string[],
  suffixes: Readonly<Record<string, string>>,
): { kernels: DebianKernel[]; imageOnly: { abi: string; flavour: string }[] } {
  const set = new Set(names);
  const kernels: DebianKernel[] = [];
  const imageOnly: { abi: string; flavour: string }[] = [];
  // Longest suffix first: "cloud-amd64" before "amd64", "arm64-16k" before "arm64".
  const bySuffix = Object.entries(suffixes).sort((a, b) => b[1].length - a[1].length);
  const seen = new Set<string>();
  for (const n of [...names].sort()) {
    const m = /^linux-image-(.+?)(-unsigned)?$/.exec(n);
    if (!m) continue;
    const hit = bySuffix.find(([, suf]) => m[1]!.endsWith(`-${suf}`));
    if (!hit) continue;
    const [flavour, suffix] = hit;
    const abi = m[1]!.slice(0, -(suffix.length + 1));
    // The rt flavour's common headers are -common-rt up to 6.12; from 7.x (PREEMPT_RT in mainline) the shared -common.
    const common =
      [`linux-headers-${abi}-common${flavour === 'rt' ? '-rt' : ''}`, `linux-headers-${abi}-common`].find((h) => set.has(h)) ??
      `linux-headers-${abi}-common`;
    // X.Y alone is a metapackage (linux-image-6.12-cloud-amd64), unless it has common headers of its own: a release candidate.
    const rc = RC_ABI.test(abi) && (set.has(common) || set.has(`linux-headers-${abi}-common`));
    if (!rc && (!VERSION.test(abi) || !/[-+]/.test(abi))) continue;
    // One name per version and flavour: 6.12.117+deb12 and +deb13 (the same release built for two suites) are both
    // debian:6.12.117; the older suite's build is kept (names sort +deb12 first), whose compiler a Debian 12 host has.
    const key = `${shortVersion(abi)} ${flavour}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const headers = [`linux-headers-${abi}-${suffix}`, common];
    const unsigned = `linux-image-${abi}-${suffix}-unsigned`;
    const split = [`linux-base-${abi}-${suffix}`, `linux-modules-${abi}-${suffix}`];
    const binary = [`linux-binary-unsigned-${abi}-${suffix}`, `linux-binary-${abi}-${suffix}`].find((b) => set.has(b));
    const parts = binary && split.every((p) => set.has(p)) ? [split[0]!, binary, split[1]!] : undefined;
    if (headers.every((h) => set.has(h)))
      kernels.push({
        abi,
        series: seriesOf(abi),
        flavour,
        image: set.has(unsigned) ? unsigned : `linux-image-${abi}-${suffix}`,
        headers,
        ...(parts ? { parts } : {}),
      });
    else imageOnly.push({ abi, flavour });
  }
  const order = (a: { abi: string; flavour: string }, b: { abi: string; flavour: string }) =>
    compareDebianVersions(a.abi, b.abi) || a.flavour.localeCompare(b.flavour);
  return { kernels: kernels.sort(order), imageOnly: imageOnly.sort(order) };
}

/** The kbuild package a version's headers point at: linux-kbuild-6.12.117+deb12, or the series' linux-kbuild-6.1. */
export function kbuildPackage(abi: string, kbuildNames: readonly string[]): string | undefined {
  return [`linux-kbuild-${abi}`, `linux-kbuild-${seriesOf(abi)}`].find((n) => kbuildNames.includes(n));
}

/** The versions nearest to one that is not there, for the error message: same series first. */
export function nearestVersions(want: string, have: readonly string[], count = 3): string[] {
  const w = numbers(want);
  const distance = (v: string) => {
    const x = numbers(v);
    const sameSeries = seriesOf(v) === seriesOf(want) ? 0 : 1e9;
    return sameSeries + Math.abs((x[x.length - 1] ?? 0) - (w[w.length - 1] ?? 0));
  };
  return [...new Set(have)].sort((a, b) => distance(a) - distance(b) || compareDebianVersions(a, b)).slice(0, count);
}

/** The series nearest to one that is not there (6.6 → 6.1 of 6.1, 6.12): by major, then minor. */
export function nearestSeries(want: string, have: readonly string[]): string {
  const key = (v: string) => {
    const [a = 0, b = 0] = numbers(v);
    return a * 1000 + b;
  };
  return [...have].sort((x, y) => Math.abs(key(x) - key(want)) - Math.abs(key(y) - key(want)) || key(y) - key(x))[0] ?? 'none';
}

/** The name an end goes by: debian:6.1.0-56-cloud, or debian:6.12-cloud for a series. */
export function specName(s: DebianSpec): string {
  return s.version !== undefined ? debianName(s.version, s.flavour) : seriesName(s.series ?? '', s.flavour);
}

export type Resolved = { ok: DebianKernel[] } | { error: string };

/**
 * The kernels a parsed name stands for, oldest first: one, or every version
 * of the range's series and flavour from A to B. A series is its newest
 * version with headers, or its oldest as a range's first end. Errors are one
 * line saying what is there instead.
 */
export function resolveDebian(
  r: DebianRange,
  index: ReturnType<typeof debianIndex>,
  arch: string,
  o: { acrossSeries?: boolean } = {},
): Resolved {
  const ofFlavour = index.kernels.filter((k) => k.flavour === r.from.flavour);
  if (!ofFlavour.length) {
    const fl = [...new Set(index.kernels.map((k) => k.flavour))];
    return { error: `Debian has no ${r.from.flavour} kernels for ${arch} (flavours: ${fl.join(', ') || 'none in the apt lists'})` };
  }
  // ofFlavour is oldest first and holds only versions with headers, so a series' ends are its first and last.
  const ofSeries = (s: DebianSpec, end: 'oldest' | 'newest'): DebianKernel | string => {
    const all = ofFlavour.filter((x) => x.series === s.series);
    const k = end === 'oldest' ? all[0] : all[all.length - 1];
    if (k) return k;
    const orphans = index.imageOnly.filter((x) => seriesOf(x.abi) === s.series && x.flavour === s.flavour).map((x) => shortVersion(x.abi));
    if (orphans.length)
      return `${specName(s)} has no version with headers in the archive for ${arch} (image only: ${orphans.join(', ')}), so the probe cannot be built for it`;
    const series = [...new Set(ofFlavour.map((x) => x.series))];
    return `Debian has no ${s.series} ${s.flavour} kernels for ${arch}; nearest: ${nearestSeries(s.series ?? '', series)} (series: ${series.join(', ')})`;
  };
  const find = (s: DebianSpec, end: 'oldest' | 'newest'): DebianKernel | string => {
    if (s.version === undefined) return ofSeries(s, end);
    const k = ofFlavour.find((x) => shortVersion(x.abi) === s.version);
    if (k) return k;
    const name = debianName(s.version, s.flavour);
    if (index.imageOnly.some((x) => shortVersion(x.abi) === s.version && x.flavour === s.flavour))
      return `${name} has no headers in the archive for ${arch}, so the probe cannot be built for it`;
    const near = nearestVersions(
      s.version,
      ofFlavour.map((x) => shortVersion(x.abi)),
    ).map((v) => debianName(v, s.flavour));
    return `no Debian kernel ${name} for ${arch}; nearest: ${near.join(', ')}`;
  };
  const a = find(r.from, r.to ? 'oldest' : 'newest');
  if (typeof a === 'string') return { error: a };
  if (!r.to) return { ok: [a] };
  if (r.to.flavour !== r.from.flavour) return { error: `the range's ends have different flavours (${r.from.flavour}, ${r.to.flavour})` };
  const b = find(r.to, 'newest');
  if (typeof b === 'string') return { error: b };
  if (a.series !== b.series && !o.acrossSeries)
    return {
      error: `the range's ends are on different series (${a.series}, ${b.series}): a range walks one series of Debian kernels (bisect walks across series)`,
    };
  if (compareDebianVersions(a.abi, b.abi) > 0)
    return { error: `the range runs backwards: ${debianName(a.abi, a.flavour)} is newer than ${debianName(b.abi, b.flavour)}` };
  return {
    ok: ofFlavour.filter(
      (k) =>
        (o.acrossSeries || k.series === a.series) && compareDebianVersions(k.abi, a.abi) >= 0 && compareDebianVersions(k.abi, b.abi) <= 0,
    ),
  };
}

/**
 * When a bisect over Debian's kernels ends between two versions of different
 * series (debian:6.12.118-cloud good, debian:7.2.6-cloud bad), the archive
 * has nothing between them: says so and how to go on with git. Pure;
 * undefined for two versions of one series or names that are not Debian's.
 */
export function seriesGap(good: string, bad: string): string | undefined {
  const series = (n: string) => /^debian:(\d+\.\d+)[.-]/.exec(n)?.[1];
  const [a, b] = [series(good), series(bad)];
  if (!a || !b || a === b) return undefined;
  return (
    `the change lies between ${good} (${a}) and ${bad} (${b}): Debian's archive has no versions between these series. ` +
    `Continue on a tree that has the history: kharness bisect --repo LINUX --good v${a} --bad v${b} --scenario ... ` +
    `(or --kernels git:LINUX@v${a},git:LINUX@v${b} for the two ends alone)`
  );
}
