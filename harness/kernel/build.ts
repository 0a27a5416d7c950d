/**
 * The one way to a kernel: its name → a catalog entry (kernel/names.ts) → the
 * recipe of its source type (kernel/recipes/), chosen once here. The recipe
 * settles the cache key and makes the entry; this file keeps entries in the
 * cache (checked, repaired, sealed) and knows no kind of kernel.
 */
import { join } from 'node:path';
import { archSpec, isNative } from '../arch/arches.ts';
import { getOrBuild, writeMeta } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot } from '../paths.ts';
import { requireTool } from '../util/host.ts';
import { type Log, lockWait } from '../util/log.ts';
import { formatDuration } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';
import { type CatalogKernel, type KernelSource, loadCatalog } from './catalog.ts';
import { type BuildOptions, compiler } from './config.ts';
import { checkKernelEntry, type KernelBuild, type KernelEntry, sealImage } from './entry.ts';
import { findKernel } from './names.ts';
import { debianImage } from './recipes/debian-image.ts';
import { debianSource } from './recipes/debian-source.ts';
import { git } from './recipes/git.ts';
import { own } from './recipes/own.ts';
import type { KernelCache, Making, Recipe } from './recipes/recipe.ts';

/** Every kind of kernel, by the source type that names it in the catalog. */
const RECIPES: { [T in KernelSource['type']]: Recipe<Extract<KernelSource, { type: T }>> } = {
  'debian-source': debianSource,
  git,
  'debian-image': debianImage,
  build: own,
};

/** The recipe that makes k. */
export function recipeOf(k: CatalogKernel): Recipe {
  return RECIPES[k.source.type] as Recipe;
}

export async function buildKernel(kernelName: string, archName: string, o: BuildOptions): Promise<KernelBuild> {
  const k = findKernel(kernelName, await loadCatalog());
  const arch = archSpec(archName);
  if (!k.arches.includes(arch.name)) {
    throw new KharnessError('USAGE', `kernel ${k.name} does not support ${arch.name}`, `It supports: ${k.arches.join(', ')}`);
  }
  const recipe = recipeOf(k);
  // Every kind: the probe module builds against the kernel.
  await requireTool('make', 'build-essential');
  await requireTool(compiler(arch), isNative(arch) ? 'build-essential' : arch.crossPackage);
  for (const [tool, pkg] of recipe.tools) await requireTool(tool, pkg);
  const label = `${k.name}/${arch.name}`;
  const kernel = await recipe.kernel(k, arch, o, kernelCache(label, o.log));
  // Catalog data, not build output: read fresh so a cached entry follows catalog edits.
  kernel.memoryMb = k.memory_mb;
  return kernel;
}

/** The kernel cache as a recipe sees it: entries checked (after the recipe's repair) before use, sealed once made. */
function kernelCache(label: string, log: Log): KernelCache {
  return async <E extends KernelEntry>(key: string, how: Making<E>) => {
    const { meta, hit } = await getOrBuild<E>(cacheRoot(), 'kernels', key, async (dir) => sealImage(await how.produce(dir)), {
      onWait: lockWait(log, `the kernel ${label}`),
      stop: stopping.signal,
      check: async (m) => {
        await how.repair?.(m);
        return checkKernelEntry(m, how.files?.(m));
      },
      onDamaged: (problem, dir) => log.warn(`the cached kernel ${label} in ${dir} is damaged (${problem}): building it again`),
    });
    if (meta.imageSha256 === undefined) await writeMeta(join(cacheRoot(), 'kernels', key), await sealImage(meta), cacheRoot());
    log.info(
      hit
        ? `kernel ${label}: cached (${meta.release}, key ${key})`
        : `kernel ${label}: built ${meta.release} in ${formatDuration(meta.buildMs)}`,
    );
    return meta;
  };
}
