/**
 * What a kernel name means, before anything is built: a catalog name
 * (kernels/catalog.yaml), `git:PATH[@REF]`, `debian:VERSION|SERIES[-FLAVOUR]`
 * or `build:DIR`. Each becomes a CatalogKernel whose source type names the
 * recipe that makes it (kernel/build.ts).
 */
import { resolve } from 'node:path';
import { ARCHES } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import type { CatalogKernel } from './catalog.ts';
import { type DebianRange, parseDebianName, specName } from './debian.ts';
import { parseOwnBuild } from './own.ts';

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
 * (kernel/recipes/debian-image.ts). A range names several and is expanded
 * against the apt lists first (`expandDebianNames`).
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

export function findKernel(name: string, catalog: CatalogKernel[]): CatalogKernel {
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
