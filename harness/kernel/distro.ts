/**
 * Debian's own kernel config for a source version and arch, for allocator
 * parity (kernels/distro-mm.yaml). Where it lives is arch data
 * (ArchSpec.distroConfig): amd64 in linux-config-X.Y, arm64 inside the image
 * package. The file is fetched once per package version into the cache and
 * never installed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../analysis/kconfig.ts';
import { candidateVersions, download, unpackDebs } from '../apt/apt.ts';
import type { ArchSpec } from '../arch/arches.ts';
import { HostToolError, KharnessError } from '../errors.ts';
import { cacheRoot, KERNELS_DIR } from '../paths.ts';
import { DPKG_STATUS, fileIdentity, hostFact } from '../util/facts.ts';
import type { Log } from '../util/log.ts';
import { cachedYamlDocument } from '../util/parsed.ts';
import { capture } from '../util/proc.ts';
import { seriesOf } from './debian.ts';
import { debianKernels } from './prebuilt.ts';
import { distroMmSchema } from './schema.ts';

export interface ParityOption {
  name: string;
  optional?: string;
}

/** The parity list: which options come from Debian's config. */
export async function parityOptions(file = join(KERNELS_DIR, 'distro-mm.yaml')): Promise<{ options: ParityOption[]; text: string }> {
  const text = readFileSync(file, 'utf8');
  const raw = await cachedYamlDocument<{ options: (string | ParityOption)[] }>(cacheRoot(), text, file, distroMmSchema);
  const options = raw.options.map((o) => (typeof o === 'string' ? { name: o } : o));
  return { options, text };
}

/** Options beyond the parity list that decide what a scenario sees: the sleeping-in-atomic report, in_atomic(), the page size. */
const PROFILE_EXTRAS = ['DEBUG_ATOMIC_SLEEP', 'PREEMPT_COUNT', 'ARM64_4K_PAGES', 'ARM64_16K_PAGES', 'ARM64_64K_PAGES'];

/** The options recorded as each target's allocator profile (and compared across targets). */
export async function profileOptions(): Promise<string[]> {
  return [...(await parityOptions()).options.map((o) => o.name), ...PROFILE_EXTRAS];
}

/** The Debian package version of an installed source package (linux-source-6.1 → 6.1.192-2). */
export async function installedVersion(pkg: string): Promise<string> {
  // dpkg-query's own format syntax, not a template.
  const format = ['$', '{Version}'].join('');
  // Asked again only when dpkg's status changes (a package installed, upgraded or removed).
  const v = (
    await hostFact(cacheRoot(), `dpkg-query ${pkg}`, [fileIdentity(DPKG_STATUS)], () =>
      capture('dpkg-query', ['-W', '-f', format, pkg]).catch(() => ''),
    )
  ).trim();
  if (!v) throw new HostToolError(pkg, pkg);
  return v;
}

/**
 * Debian's config text for a Debian package version ("6.1.192-2") on an arch,
 * with the package it came from.
 */
export async function debianConfig(arch: ArchSpec, version: string, flavour: string, log: Log): Promise<{ text: string; from: string }> {
  const series = seriesOf(version);
  const pattern = arch.distroConfig.files[flavour];
  if (!pattern)
    throw new KharnessError(
      'USAGE',
      `Debian has no ${flavour} config for ${arch.name}`,
      `Flavours: ${Object.keys(arch.distroConfig.files).join(', ')}`,
    );
  const fill = (p: string, abi = '') => p.replace(/\{SERIES\}/g, series).replace(/\{ABI\}/g, abi);
  const pkg = fill(arch.distroConfig.package);
  // Where the config is, best first: one package and file per version.
  const sources: { pkg: string; file: string; version: string }[] = [];
  if (!pkg.includes('{IMAGE}')) sources.push({ pkg, file: fill(pattern), version });
  else {
    // The image of this flavour and exactly this version (its ABI is in its name); then, should the archive's pool
    // have lost that .deb while its lists still name it (arm64 5.10.262, 2026-12-07), the nearest older ones.
    const ofFlavour = (await debianKernels(arch, log)).kernels.filter((k) => k.flavour === flavour && k.series === series);
    const versions = await candidateVersions(
      ofFlavour.map((k) => k.image),
      arch.debianArch,
      log,
      'kernels',
    );
    const at = ofFlavour.findIndex((k) => versions.get(k.image) === version);
    if (at < 0)
      throw new KharnessError(
        'INFRA',
        `no Debian ${arch.debianArch} image of version ${version} in the apt lists, for its config`,
        'Run `apt-get update`; the archive may have dropped that version (update linux-source too).',
      );
    for (const k of ofFlavour.slice(0, at + 1).reverse()) {
      const split = arch.distroConfig.split?.[flavour];
      const image = k.parts && split ? { pkg: k.parts[0]!, file: fill(split, k.abi) } : { pkg: k.image, file: fill(pattern, k.abi) };
      const v = versions.get(k.image)!;
      sources.push({ ...image, version: v });
      // The -unsigned image first (the same files, no signature), then the signed one.
      if (image.pkg.endsWith('-unsigned')) sources.push({ ...image, pkg: image.pkg.slice(0, -'-unsigned'.length), version: v });
    }
  }
  let first: unknown;
  for (const c of sources) {
    try {
      const got = await fetchConfig(arch, flavour, c.pkg, c.version, c.file, log);
      if (c.version !== version) log.warn(`Debian's ${arch.debianArch} config of ${version} could not be fetched: using ${got.from}'s`);
      return got;
    } catch (e) {
      if (!(e instanceof KharnessError) || e.code !== 'INFRA') throw e;
      first ??= e;
    }
  }
  throw first;
}

/** Debian's config file `file` out of package `pkg` at `version`, fetched once into the cache. */
async function fetchConfig(
  arch: ArchSpec,
  flavour: string,
  pkg: string,
  version: string,
  file: string,
  log: Log,
): Promise<{ text: string; from: string }> {
  const from = `${pkg}=${version}`;
  const cached = join(cacheRoot(), 'distro', `${arch.debianArch}-${flavour}-${from.replace(/[^A-Za-z0-9.+=-]/g, '_')}.config`);
  if (existsSync(cached)) return { text: await readFile(cached, 'utf8'), from };
  const tmp = `${cached}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    log.info(`  fetching Debian's config from ${from}`);
    const alog = join(tmp, 'fetch.log');
    await download([from], join(tmp, 'debs'), arch.debianArch, alog, log, 'kernels');
    await unpackDebs(join(tmp, 'debs'), join(tmp, 'root'), alog);
    const path = join(tmp, 'root', file);
    if (!existsSync(path))
      throw new KharnessError('INFRA', `${pkg} has no ${file}`, 'Debian may have moved the config: update the arch table (distroConfig).');
    const text = file.endsWith('.xz') ? await capture('xz', ['-dc', path]) : await readFile(path, 'utf8');
    if (!parseConfig(text).size) throw new KharnessError('INFRA', `${file} in ${pkg} is not a kernel config`);
    await writeFile(`${tmp}.config`, text);
    await rename(`${tmp}.config`, cached);
    return { text, from };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
