/**
 * Debian's prebuilt kernels (`debian:`, the catalog's debian-image entries):
 * no build. The exact packages are settled first (a series name resolves to
 * the newest version the archive has, each time), and the cache key is
 * exactly those packages: the entry holds the unpacked image, headers to
 * build modules against, and the modules the guest loads at boot.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashParts } from '../../util/hash.ts';
import { DEBIAN_GUEST_MODULES, type DebianImage } from '../catalog.ts';
import { debianName } from '../debian.ts';
import { type KernelEntry, PLAIN, RECIPE } from '../entry.ts';
import { fetchPrebuilt, prebuiltPackages, resolvePrebuilt } from '../prebuilt.ts';
import type { Recipe } from './recipe.ts';

type ImageEntry = KernelEntry & { guestModules: string[] };

export const debianImage: Recipe<DebianImage> = {
  tools: [],
  configurable: false,
  async kernel(k, arch, o, cache) {
    const s = k.source;
    const kernel = await resolvePrebuilt(s, arch, o.log);
    // A series name moves with the archive: say which version it is this time (target.release records it too).
    if (s.version === undefined)
      o.log.info(
        `kernel ${k.name}/${arch.name} is ${debianName(kernel.abi, kernel.flavour)} (${kernel.abi}), ` +
          `the newest ${kernel.series} ${kernel.flavour} kernel in the archive`,
      );
    const packages = await prebuiltPackages(kernel, arch, o.log);
    const guestModules = s.guest_modules ?? DEBIAN_GUEST_MODULES;
    // A prebuilt kernel is exactly the packages it is made of.
    const key = hashParts([RECIPE, 'debian-image', arch.name, packages.versions, ...guestModules]);
    const started = Date.now();
    const entry = await cache<ImageEntry>(key, {
      async produce(dir) {
        const u = await fetchPrebuilt(kernel, packages, guestModules, arch, dir, o.log);
        return {
          key,
          kernel: k.name,
          arch: arch.name,
          buildMs: Date.now() - started,
          release: u.release,
          unmet: [],
          srcDir: u.headers,
          buildDir: u.headers,
          image: u.image,
          configFile: u.config,
          guestModules: u.guestModules,
        };
      },
      repair: relativeHeaders,
      files: (m) => Object.fromEntries((m.guestModules ?? []).map((p, i) => [`guest module ${i + 1}`, p])),
    });
    return {
      ...PLAIN,
      ...entry,
      // Debian's configs build none of the kernel tests kharness runs (ktest/catalog.ts): its packages are not searched.
      testModule: async () => undefined,
    };
  },
};

/** A prebuilt entry written before its headers' Makefile named the common headers relatively (see fetchPrebuilt). */
async function relativeHeaders(m: KernelEntry): Promise<void> {
  const makefile = join(String(m.buildDir), 'Makefile');
  const text = await readFile(makefile, 'utf8').catch(() => '');
  const abs = /^include \/\S*\/usr\/src\/([^/\s]+)\/Makefile$/.exec(text.trim());
  if (abs) await writeFile(makefile, `include ../${abs[1]}/Makefile\n`);
}
