/**
 * The kernel catalog (kernels/catalog.yaml): names, sources, arches,
 * fragments. What a name outside the catalog means (git:, debian:, build:)
 * is kernel/names.ts's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot, KERNELS_DIR } from '../paths.ts';
import { cachedYamlDocument } from '../util/parsed.ts';
import { catalogSchema } from './schema.ts';

/**
 * A Debian linux-source-X.Y package: installed on the host (`tarball` under
 * /usr/src, put there by setup.sh), or, without `tarball`, fetched into the
 * cache through kharness's own apt state from whichever suite has it (5.10
 * from bullseye, 7.2 from sid): its candidate version, or `version` pinned.
 */
export interface DebianSource {
  type: 'debian-source';
  package: string;
  tarball?: string;
  /** A Debian package version ("7.2.13-1") of a fetched source; absent: the archive's candidate. */
  version?: string;
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
export async function loadCatalog(file = join(KERNELS_DIR, 'catalog.yaml')): Promise<CatalogKernel[]> {
  const raw = await cachedYamlDocument<{ kernels: CatalogKernel[] }>(cacheRoot(), readFileSync(file, 'utf8'), file, catalogSchema);
  return raw.kernels.map((k) => ({ ...k, name: String(k.name) }));
}

/**
 * The Debian source whose version picks Debian's config for a tree of
 * `series` ("6.1"): the one a catalog kernel with generic parity is built
 * from; undefined for a series the catalog does not build from Debian.
 */
export function paritySource(series: string, catalog: CatalogKernel[]): DebianSource | undefined {
  for (const c of catalog)
    if (c.source.type === 'debian-source' && c.distro_parity === true && /^linux-source-(\d+\.\d+)$/.exec(c.source.package)?.[1] === series)
      return c.source;
  return undefined;
}
