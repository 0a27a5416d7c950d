/**
 * A kernel as kharness hands it on: what every kind of kernel has (image,
 * config, build directory to build modules against, release), what its
 * cache entry records (meta.json), and how such an entry is checked before
 * it is booted. Knows no kind of kernel: each recipe (kernel/recipes/) adds
 * what only its kind has.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type CacheKind, missingPaths } from '../cache/store.ts';
import { cacheRoot } from '../paths.ts';
import { fileIdentity, hostFact } from '../util/facts.ts';
import type { Log } from '../util/log.ts';

export const KERNEL_CACHE: CacheKind = {
  kind: 'kernels',
  label: (m, key) => (m ? `${String(m.kernel)}/${String(m.arch)} ${String(m.release)}` : key),
};

/** Bump when the build steps change in a way that changes the output: part of every kernel cache key. */
export const RECIPE = 'kernel-recipe-2';

/** How an entry records an option it asked for as optional and did not get; any other miss makes the entry unusable. */
export const OPTIONAL = 'optional config option not met:';

/** What every kernel's cache entry records (its meta.json), whatever made it. */
export interface KernelEntry {
  key: string;
  kernel: string;
  arch: string;
  /** `make kernelrelease`. */
  release: string;
  /** The O= build directory; modules build against it. */
  buildDir: string;
  /** Source tree the build directory refers to. */
  srcDir: string;
  image: string;
  configFile: string;
  /** Config options asked for as optional that the kernel did not get, each "optional config option not met: ...". */
  unmet: string[];
  buildMs: number;
  /** The image as built: checked whenever the entry is read. */
  imageBytes?: number;
  imageSha256?: string;
}

/** A kernel ready to boot and to build modules against, as its recipe hands it on. */
export interface KernelBuild extends KernelEntry {
  /** Guest RAM this kernel needs, from the catalog. */
  memoryMb?: number;
  /** Modules the guest must load at boot, in order (absolute .ko paths): Debian's virtio_net; none for a kernel that builds them in. */
  guestModules: string[];
  /** The kernel's own test module of that name (its .ko on the host), undefined when the kernel has none. */
  testModule(name: string): Promise<string | undefined>;
  /**
   * Runs fn while buildDir is this kernel's, for an out-of-tree module build.
   * A git kernel's build directory is shared by the commits of its
   * repository: it is put back at this one first, `make` running the
   * arguments given to `prepare` (olddefconfig, modules_prepare).
   */
  withBuildDir<T>(log: Log, prepare: (makeArgs: string[]) => Promise<unknown>, fn: () => Promise<T>): Promise<T>;
}

/** The part of a KernelBuild that a kind of kernel need not say: no boot modules, its build directory always its own. */
export const PLAIN = {
  guestModules: [] as string[],
  withBuildDir: <T>(_log: Log, _prepare: unknown, fn: () => Promise<T>) => fn(),
};

/**
 * The modules a Kbuild build directory made, as paths relative to it, from
 * Kbuild's own list, modules.order: 6.1 names each NAME.ko, 6.2 on NAME.o.
 */
export function orderedModules(order: string): string[] {
  return order
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.replace(/\.o$/, '.ko'));
}

/**
 * What `make modules` left in a build directory. Read from modules.order, not
 * by walking the tree: an O= directory links back to its source tree
 * (`source -> ..`), and Node's recursive readdir followed that link through
 * millions of entries (72 s per build here, for 4 modules).
 */
export async function builtModules(dir: string): Promise<string[]> {
  const order = await readFile(join(dir, 'modules.order'), 'utf8').catch(() => '');
  return orderedModules(order).filter((rel) => existsSync(join(dir, rel)));
}

/** A module of that name in a build directory (modules.order), undefined when it made none. */
export async function moduleInTree(dir: string, name: string): Promise<string | undefined> {
  const hit = (await builtModules(dir)).find((rel) => basename(rel) === `${name}.ko`);
  return hit ? join(dir, hit) : undefined;
}

async function digest(path: string): Promise<{ imageBytes: number; imageSha256: string }> {
  const data = await readFile(path);
  return { imageBytes: data.length, imageSha256: createHash('sha256').update(data).digest('hex') };
}

/** The image's size and digest, so a cached entry whose image was cut short or changed is never booted. */
export async function sealImage<E extends KernelEntry>(k: E): Promise<E> {
  return { ...k, ...(await digest(k.image)) };
}

/**
 * What is wrong with a cached kernel entry, if anything: every file it names
 * (`more`: the files only its kind has), and the image as built.
 */
export async function checkKernelEntry(k: KernelEntry, more: Record<string, string | undefined> = {}): Promise<string | undefined> {
  if (typeof k.key !== 'string' || typeof k.release !== 'string') return 'its meta.json lacks the kernel key or release';
  // Entries built before configs were strict recorded every option they did not get: their allocator is not the one asked for.
  const asked = (k.unmet ?? []).filter((u) => !u.startsWith(OPTIONAL));
  if (asked.length) return `it was built without config options it asked for (${asked.join(', ')})`;
  const missing = missingPaths({
    image: k.image,
    '.config': k.configFile,
    'build directory': k.buildDir,
    'source tree': k.srcDir,
    ...more,
  });
  if (missing) return missing;
  // Entries written before images were sealed carry no digest: sealed on first use (see buildKernel).
  if (k.imageSha256 === undefined) return undefined;
  // Hashed again only when the image file changed (its size, times or inode): 0.1 s of every start otherwise.
  const now = JSON.parse(
    await hostFact(cacheRoot(), `sha256 ${k.image}`, [fileIdentity(k.image)], async () => JSON.stringify(await digest(k.image))),
  ) as Awaited<ReturnType<typeof digest>>;
  if (now.imageBytes !== k.imageBytes || now.imageSha256 !== k.imageSha256) {
    return `the image is not the one that was built (${now.imageBytes} bytes, ${k.imageBytes ?? 'unknown'} recorded)`;
  }
  return undefined;
}
