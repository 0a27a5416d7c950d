/**
 * The user's own kernel build: `--kernel build:DIR`, an `O=` directory or a
 * built tree, used where it is (no copy, no rebuild). Before anything boots,
 * its .config is checked for what a kharness guest needs; a missing piece is
 * a usage error listing the options and the fragment to merge.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isEnabled, parseConfig } from '../analysis/kconfig.ts';
import { ARCHES, type ArchSpec, bootImage } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { hashParts } from '../util/hash.ts';
import type { CatalogKernel } from './catalog.ts';
import type { KernelEntry } from './entry.ts';

/** Built in (=y): the guest boots without modules of its own, loads the probe, reaches ssh over virtio-net. */
export const GUEST_NEEDS = [
  'CONFIG_MODULES',
  'CONFIG_MODULE_UNLOAD',
  'CONFIG_BLK_DEV_INITRD',
  'CONFIG_RD_GZIP',
  'CONFIG_DEVTMPFS',
  'CONFIG_PROC_FS',
  'CONFIG_SYSFS',
  'CONFIG_DEBUG_FS',
  'CONFIG_TTY',
  'CONFIG_PRINTK',
  'CONFIG_BINFMT_ELF',
  'CONFIG_UNIX98_PTYS',
  'CONFIG_NET',
  'CONFIG_INET',
  'CONFIG_UNIX',
  'CONFIG_PCI',
  'CONFIG_VIRTIO',
  'CONFIG_VIRTIO_PCI',
  'CONFIG_VIRTIO_NET',
];

/** What the guest needs that this config lacks (pure). */
export function missingGuestNeeds(config: Map<string, string>, arch: ArchSpec): string[] {
  return [...GUEST_NEEDS, ...arch.guestNeeds].filter((o) => config.get(o) !== 'y');
}

/** The arch a kernel config is for, from the arch table's config symbols. */
export function configArch(config: Map<string, string>): ArchSpec | undefined {
  return Object.values(ARCHES).find((a) => isEnabled(config, a.configSymbol));
}

/**
 * `build:DIR` as a kernel: its arch from its .config, and every check a build
 * directory must pass before a guest boots from it. Usage errors, one line each.
 */
export function parseOwnBuild(spec: string): CatalogKernel | undefined {
  if (!spec.startsWith('build:')) return undefined;
  const dir = resolve(spec.slice('build:'.length));
  const { arch } = inspectOwnBuild(dir);
  return { name: `build:${dir}`, source: { type: 'build', dir }, arches: [arch.name], fragments: [] };
}

/** The build in DIR as a kernel entry, once it passes every check (usage errors, one line each). */
export function inspectOwnBuild(dir: string): { arch: ArchSpec; entry: KernelEntry } {
  const spec = `build:${dir}`;
  const fix = (what: string) => `Give the O= directory (or the tree) of a finished kernel build: ${what}`;
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${spec}: ${dir} is not a directory`, fix('it must exist.'));
  const configFile = join(dir, '.config');
  if (!existsSync(configFile)) throw new UsageError(`${spec}: no .config in ${dir}`, fix('it holds .config.'));
  const config = parseConfig(readFileSync(configFile, 'utf8'));
  const arch = configArch(config);
  if (!arch) throw new UsageError(`${spec}: its .config is for no arch kharness runs (${Object.keys(ARCHES).join(', ')})`);
  const missing = missingGuestNeeds(config, arch);
  if (missing.length) {
    throw new UsageError(
      `${spec}: the kernel lacks what a guest needs: ${missing.map((m) => `${m}=y`).join(' ')}`,
      `Merge kernels/config/base.config and kernels/config/${arch.fragment} (scripts/kconfig/merge_config.sh) and rebuild.`,
    );
  }
  // vmlinux where it has a PVH entry (x86), else the arch's image; a build that has neither is named by the latter.
  const image = join(dir, bootImage(arch, (p) => existsSync(join(dir, p)), config) ?? arch.imagePath);
  const releaseFile = join(dir, 'include', 'config', 'kernel.release');
  const symvers = join(dir, 'Module.symvers');
  for (const [path, what] of [
    [image, `the image ${arch.imagePath}`],
    [releaseFile, 'include/config/kernel.release'],
    [symvers, 'Module.symvers (run `make modules` too: modules build against it)'],
  ] as const) {
    if (!existsSync(path)) throw new UsageError(`${spec}: ${what} is missing in ${dir}`, fix('run make there first.'));
  }
  const st = statSync(image);
  const release = readFileSync(releaseFile, 'utf8').trim();
  const key = hashParts(['own-build', dir, String(st.size), String(Math.floor(st.mtimeMs)), readFileSync(configFile, 'utf8')]);
  return {
    arch,
    entry: { key, kernel: spec, arch: arch.name, release, buildDir: dir, srcDir: dir, image, configFile, unmet: [], buildMs: 0 },
  };
}
