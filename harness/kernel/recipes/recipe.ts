/**
 * A recipe makes one kind of kernel (kernels/catalog.yaml's source types):
 * what the kind needs from the host, its cache key, how an entry is made and
 * repaired, and what only that kind has (boot modules, where its own test
 * modules are, a build directory shared with other commits). buildKernel
 * picks one by the source type, once, the way kunit_tool picks one
 * LinuxSourceTreeOperations for its arch; nothing else asks the kind.
 */
import type { ArchSpec } from '../../arch/arches.ts';
import type { CatalogKernel, KernelSource } from '../catalog.ts';
import type { BuildOptions } from '../config.ts';
import type { KernelBuild, KernelEntry } from '../entry.ts';

/** How a recipe keeps its entry in the kernel cache (given to it by buildKernel). */
export interface Making<E extends KernelEntry> {
  /** Makes the entry in its directory (empty, locked). */
  produce(dir: string): Promise<E>;
  /** Puts right, in place, what a cached entry may have lost or named by an old layout, before it is checked. */
  repair?(entry: E): Promise<void>;
  /** The files only this kind's entry names, for the check of a cached entry. */
  files?(entry: E): Record<string, string | undefined>;
}

/** The kernel cache: the entry under key if it is whole (after repair), else the one `how` makes, sealed. */
export type KernelCache = <E extends KernelEntry>(key: string, how: Making<E>) => Promise<E>;

export interface Recipe<S extends KernelSource = KernelSource> {
  /** Host tools it takes beyond make and the compiler (which every kind takes: the probe module builds against it): [tool, package]. */
  tools: readonly (readonly [string, string])[];
  /** Whether `build --fragment` can change it: a kernel built elsewhere cannot. */
  configurable: boolean;
  /** The kernel on `arch`: from the cache (`cache`), made now, or used in place. */
  kernel(k: CatalogKernel & { source: S }, arch: ArchSpec, o: BuildOptions, cache: KernelCache): Promise<KernelBuild>;
}
