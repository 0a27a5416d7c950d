/** The kernel catalog (kernels/catalog.yaml): names, sources, arches, fragments. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ARCHES } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { KERNELS_DIR } from '../paths.ts';
import { parseYamlDocument } from '../util/document.ts';
import { type DebianRange, parseDebianName, specName } from './debian.ts';
import { parseOwnBuild } from './own.ts';
import { catalogSchema } from './schema.ts';

export interface DebianSource {
  type: 'debian-source';
  package: string;
  tarball: string;
}
/** A kernel git repository at a ref: `--kernel git:/path/to/linux@v6.6`. */
export interface GitSource {
  type: 'git';
  repo: string;
  ref: string;
}
/**
 * A prebuilt Debian kernel (image, headers, kbuild from the archive): an
 * exact version (`debian:6.1.0-56-cloud`), or the newest of a series
 * (`debian:6.1-cloud`), resolved against the apt lists each time it is
 * fetched (kernel/prebuilt.ts).
 */
export interface DebianImage {
  type: 'debian-image';
  /** "6.1.0-56", "6.12.117"; absent: the newest of `series` in the apt lists. */
  version?: string;
  series?: string;
  /** A flavour of the arch table's debianFlavours: generic, cloud, rt, 16k. */
  flavour: string;
  /** Modules the guest loads at boot (with their dependencies), e.g. virtio_net. */
  guest_modules?: string[];
}

/** virtio and virtio_net are modules in Debian's configs: the guest loads them from its initramfs. */
export const DEBIAN_GUEST_MODULES = ['virtio_pci', 'virtio_net'];
/** The user's own finished build, used in place: `--kernel build:DIR` (kernel/own.ts). */
export interface OwnBuild {
  type: 'build';
  dir: string;
}
export type KernelSource = DebianSource | GitSource | DebianImage | OwnBuild;

export interface CatalogKernel {
  name: string;
  source: KernelSource;
  arches: string[];
  /** Fragments under kernels/config/, applied in order before the arch fragment. */
  fragments: string[];
  /** Fragments applied after the arch fragment, to override it (e.g. the page size). */
  overlay?: string[];
  /** Guest RAM in MiB, when the run's default is not enough for this kernel. */
  memory_mb?: number;
  /**
   * Take the allocator options of Debian's own kernel of this version and
   * arch (kernels/distro-mm.yaml): true for its generic flavour, or a flavour
   * (rt).
   */
  distro_parity?: boolean | string;
  /** false: only run when named (not part of the default matrix). */
  default?: boolean;
}

/** The catalog, checked against its schema: a malformed one is a one-line file:line:column error. */
export function loadCatalog(file = join(KERNELS_DIR, 'catalog.yaml')): CatalogKernel[] {
  const raw = parseYamlDocument<{ kernels: CatalogKernel[] }>(readFileSync(file, 'utf8'), file, catalogSchema);
  return raw.kernels.map((k) => ({ ...k, name: String(k.name) }));
}

/**
 * `git:PATH[@REF]` names a local kernel tree (REF defaults to HEAD). It builds
 * for every arch kharness knows, with the catalog's fragments and, when the
 * catalog builds the tree's series from Debian's source, Debian's allocator
 * options of that series (`paritySource`): a bisect of a release runs the
 * allocator people run, configured as the catalog's kernel of that release.
 */
export function parseGitKernel(spec: string, arches: string[]): CatalogKernel | undefined {
  const m = /^git:(.+?)(?:@([^@]+))?$/.exec(spec);
  if (!m) return undefined;
  return {
    name: spec,
    source: { type: 'git', repo: resolve(m[1]!), ref: m[2] ?? 'HEAD' },
    arches,
    fragments: ['base.config', 'kernel-tests.config'],
    distro_parity: true,
  };
}

/**
 * The Debian source package whose version picks Debian's config for a tree of
 * `series` ("6.1"): the one a catalog kernel with generic parity is built
 * from; undefined for a series the catalog does not build from Debian.
 */
export function paritySource(series: string, catalog: CatalogKernel[]): string | undefined {
  for (const c of catalog)
    if (c.source.type === 'debian-source' && c.distro_parity === true && /^linux-source-(\d+\.\d+)$/.exec(c.source.package)?.[1] === series)
      return c.source.package;
  return undefined;
}

/**
 * A `debian:` name (one version or a range) read with every arch's flavours,
 * so a flavour only another arch has reads as that flavour, not as a bad
 * version; undefined for a name that is not a `debian:` one, a usage error
 * for a malformed one.
 */
export function readDebianName(spec: string): DebianRange | undefined {
  const flavours = [...new Set(Object.values(ARCHES).flatMap((a) => Object.keys(a.debianFlavours)))];
  try {
    return parseDebianName(spec, flavours);
  } catch (e) {
    throw new UsageError(`bad kernel name "${spec}": ${(e as Error).message}`, 'Run `kharness kernels` to list the Debian kernels.');
  }
}

/**
 * `debian:VERSION[-FLAVOUR]` names one of Debian's prebuilt kernels, and
 * `debian:SERIES[-FLAVOUR]` the newest of a series, on the arches that have
 * the flavour. A series name stays the target's name: which version it is on
 * each arch, and whether the archive has it, is settled when it is fetched
 * (kernel/prebuilt.ts). A range names several and is expanded against the
 * apt lists first (`expandDebianNames`).
 */
export function parseDebianKernel(spec: string): CatalogKernel | undefined {
  const r = readDebianName(spec);
  if (!r) return undefined;
  if (r.to)
    throw new UsageError(
      `"${spec}" is a range: it names several kernels`,
      'Give one here, e.g. debian:6.1-cloud or debian:6.1.0-56-cloud.',
    );
  const { version, series, flavour } = r.from;
  return {
    name: specName(r.from),
    source: version === undefined ? { type: 'debian-image', series, flavour } : { type: 'debian-image', version, flavour },
    arches: Object.values(ARCHES)
      .filter((a) => flavour in a.debianFlavours)
      .map((a) => a.name),
    fragments: [],
  };
}

export function findKernel(name: string, catalog = loadCatalog()): CatalogKernel {
  const named = parseGitKernel(name, Object.keys(ARCHES)) ?? parseDebianKernel(name) ?? parseOwnBuild(name);
  if (named) return named;
  const k = catalog.find((c) => c.name === name);
  if (!k)
    throw new UsageError(
      `unknown kernel "${name}"`,
      `Known kernels: ${catalog.map((c) => c.name).join(', ')} (kernels/catalog.yaml), git:/path/to/linux@REF, ` +
        'or debian:VERSION[-FLAVOUR] or debian:SERIES[-FLAVOUR] (kharness kernels).',
    );
  return k;
}
