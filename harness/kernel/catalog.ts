/** The kernel catalog (kernels/catalog.yaml): names, sources, arches, fragments. */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ARCHES } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { KERNELS_DIR } from '../paths.ts';

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
 * A prebuilt Debian kernel: image, headers and kbuild packages. `{ABI}` in the
 * names resolves to the newest ABI in the apt lists.
 */
export interface DebianImage {
  type: 'debian-image';
  image: string;
  packages: string[];
  /** Modules the guest loads at boot (with their dependencies), e.g. virtio_net. */
  guest_modules?: string[];
}
export type KernelSource = DebianSource | GitSource | DebianImage;

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
  /** false: only run when named (not part of the default matrix). */
  default?: boolean;
}

export function loadCatalog(file = join(KERNELS_DIR, 'catalog.yaml')): CatalogKernel[] {
  const raw = parse(readFileSync(file, 'utf8')) as { kernels: CatalogKernel[] };
  return raw.kernels.map((k) => ({ ...k, name: String(k.name) }));
}

/**
 * `git:PATH[@REF]` names a local kernel tree (REF defaults to HEAD). It builds
 * for every arch kharness knows, with the base fragments.
 */
export function parseGitKernel(spec: string, arches: string[]): CatalogKernel | undefined {
  const m = /^git:(.+?)(?:@([^@]+))?$/.exec(spec);
  if (!m) return undefined;
  return { name: spec, source: { type: 'git', repo: resolve(m[1]!), ref: m[2] ?? 'HEAD' }, arches, fragments: ['base.config'] };
}

export function findKernel(name: string, catalog = loadCatalog()): CatalogKernel {
  const git = parseGitKernel(name, Object.keys(ARCHES));
  if (git) return git;
  const k = catalog.find((c) => c.name === name);
  if (!k)
    throw new UsageError(`unknown kernel "${name}"`, `Known kernels: ${catalog.map((c) => c.name).join(', ')} (kernels/catalog.yaml).`);
  return k;
}
