/**
 * Debian's prebuilt kernels: a build-free fast path. The image, its headers
 * and kbuild come from the archive with `apt-get download` (never
 * installed), the probe module builds against the headers, and the modules a
 * guest needs for its network (virtio_net is modular in Debian's configs) go
 * into the initramfs in dependency order. Package names carry the ABI number,
 * which Debian bumps and then drops from the archive: a series name
 * (`debian:6.12-cloud`, the catalog's `series:`) resolves to the newest one
 * the archive has, each time, and the cache entry is keyed on the packages it
 * resolved to. Which versions exist is read from the apt lists of the guest's
 * arch (kernel/debian.ts).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { candidates, candidateVersions, download, hostDebianArch, searchNames, unpackDebs } from '../apt/apt.ts';
import type { ArchSpec } from '../arch/arches.ts';
import { KharnessError, UsageError } from '../errors.ts';
import type { Log } from '../util/log.ts';
import { capture } from '../util/proc.ts';
import type { DebianImage } from './catalog.ts';
import { type DebianKernel, debianIndex, debianName, kbuildPackage, resolveDebian, specName } from './debian.ts';
import { readDebianName } from './names.ts';

/** The prebuilt kernels in the apt lists of a guest arch (image and headers both there), and those with an image only. */
export async function debianKernels(arch: ArchSpec, log: Log): Promise<ReturnType<typeof debianIndex>> {
  const names = await searchNames('^linux-(image|headers|base|binary|binary-unsigned|modules)-[0-9]', arch.debianArch, log, 'kernels');
  return debianIndex(names, arch.debianFlavours);
}

/** The suite each kernel's image comes from (its candidate's), by image package name. */
export async function suitesOf(kernels: readonly DebianKernel[], arch: ArchSpec, log: Log): Promise<Map<string, string>> {
  const c = await candidates(
    kernels.map((k) => k.image),
    arch.debianArch,
    log,
    'kernels',
  );
  return new Map([...c].map(([p, v]) => [p, v.suite]));
}

/** The exact kernel a prebuilt source names on an arch: its version, or the newest of its series. */
export async function resolvePrebuilt(src: DebianImage, arch: ArchSpec, log: Log): Promise<DebianKernel> {
  const index = await debianKernels(arch, log);
  const r = resolveDebian({ from: { version: src.version, series: src.series, flavour: src.flavour } }, index, arch.name);
  if (!('error' in r)) return r.ok[0]!;
  // No kernel at all: the apt lists are missing, not the name wrong.
  if (!index.kernels.length)
    throw new KharnessError(
      'INFRA',
      r.error,
      `kharness reads Debian's archive through its own apt state (${arch.debianArch}): check the network and try again.`,
    );
  throw new UsageError(r.error, 'Run `kharness kernels` to list the Debian kernels in the archive.');
}

/** What a prebuilt kernel is downloaded as: guest-arch and host-arch packages, each pinned to a version. */
export interface PrebuiltPackages {
  guest: string[];
  host: string[];
  /** "pkg=version ..." of everything: part of the cache key. */
  versions: string;
}

/** The host-arch kbuild package for a version (its headers' scripts link to it) and everything to download, with versions. */
export async function prebuiltPackages(k: DebianKernel, arch: ArchSpec, log: Log): Promise<PrebuiltPackages> {
  const host = await hostDebianArch();
  const kb = kbuildPackage(k.abi, await searchNames('^linux-kbuild-', host, log, 'kernels'));
  if (!kb)
    throw new KharnessError(
      'INFRA',
      `no linux-kbuild package for ${k.abi} in the ${host} apt lists`,
      'Run `apt-get update` and try again.',
    );
  const guest = [...(k.parts ?? [k.image]), ...k.headers];
  const v = new Map([
    ...(await candidateVersions(guest, arch.debianArch, log, 'kernels')),
    ...(await candidateVersions([kb], host, log, 'kernels')),
  ]);
  // Downloads name exact versions: what the cache key says is what is fetched, even if the lists change meanwhile.
  const pin = (p: string) => (v.has(p) ? `${p}=${v.get(p)}` : p);
  return { guest: guest.map(pin), host: [pin(kb)], versions: [...guest, kb].map((p) => `${p}=${v.get(p) ?? '?'}`).join(' ') };
}

/** The first of these paths that exists, else the first (so a missing file is named where it was expected first). */
function firstThere(paths: string[]): string {
  return paths.find((p) => existsSync(p)) ?? paths[0]!;
}

const MODULE_FILE = /\.ko(\.xz|\.zst|\.gz)?$/;
/** How to decompress a module Debian ships compressed (6.12 ships .ko.xz): busybox's insmod takes plain .ko files. */
const DECOMPRESS: Record<string, string[]> = { '.xz': ['xz', '-dkf'], '.zst': ['zstd', '-dkqf'], '.gz': ['gzip', '-dkf'] };

/**
 * Modules in load order: each one's dependencies (modinfo -F depends) before
 * it. A module built into the kernel (modules.builtin) needs no loading; a
 * compressed one is decompressed next to it.
 */
export async function moduleLoadOrder(modDir: string, wanted: string[]): Promise<string[]> {
  const index = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (MODULE_FILE.test(e.name)) index.set(e.name.replace(MODULE_FILE, '').replace(/-/g, '_'), join(d, e.name));
    }
  };
  await walk(modDir);
  const builtin = new Set(
    (await readFile(join(modDir, 'modules.builtin'), 'utf8').catch(() => ''))
      .split('\n')
      .map((l) => basename(l).replace(MODULE_FILE, '').replace(/-/g, '_'))
      .filter(Boolean),
  );
  const order: string[] = [];
  const visit = async (name: string, chain: string[]): Promise<void> => {
    const n = name.replace(/-/g, '_');
    if (builtin.has(n)) return;
    const path = index.get(n);
    if (path && order.includes(path)) return;
    // Not a build failure (nothing was built) and not the kernel's to skip: a guest without its boot modules has no
    // network, so no step of the target can run. The download was cut short, or guest_modules names a module this
    // kernel does not have: infrastructure, and a bisect stops here (nothing concluded) instead of skipping the kernel.
    if (!path) {
      const by = chain.length ? ` (needed by ${chain.join(' <- ')})` : '';
      throw new KharnessError(
        'INFRA',
        `the kernel's packages have no module ${name}${by}, which the guest loads at boot (${modDir})`,
        'Run again (a cut-short download is fetched anew); if it persists, the kernel lacks that module: ' +
          "take it out of the kernel's guest_modules (kernels/catalog.yaml).",
      );
    }
    const deps = (await capture('modinfo', ['-F', 'depends', path])).trim();
    for (const d of deps ? deps.split(',') : []) await visit(d, [n, ...chain]);
    if (!order.includes(path)) order.push(path);
  };
  for (const w of wanted) await visit(w, []);
  const plain: string[] = [];
  for (const p of order) {
    const ext = MODULE_FILE.exec(p)?.[1];
    if (!ext) {
      plain.push(p);
      continue;
    }
    const [tool, ...args] = DECOMPRESS[ext]!;
    await capture(tool!, [...args, p]);
    plain.push(p.slice(0, -ext.length));
  }
  return plain;
}

export interface Unpacked {
  image: string;
  config: string;
  headers: string;
  release: string;
  guestModules: string[];
}

/**
 * Downloads and unpacks a resolved prebuilt kernel (the very packages its
 * cache key names), fixes its headers up for module builds and orders the
 * guest modules it needs.
 */
export async function fetchPrebuilt(
  k: DebianKernel,
  pkgs: PrebuiltPackages,
  guestModules: readonly string[],
  arch: ArchSpec,
  dir: string,
  log: Log,
): Promise<Unpacked> {
  const debs = join(dir, 'debs');
  const root = join(dir, 'root');
  const alog = join(dir, 'build.log');
  log.info(`  downloading ${pkgs.versions}`);
  await mkdir(root, { recursive: true });
  await download(pkgs.guest, debs, arch.debianArch, alog, log, 'kernels').catch(async (e) => {
    // The archive lists some -unsigned images it does not serve (bullseye-security's 5.10 answers 404): the signed
    // package holds the same kernel with a signature appended, which QEMU's direct kernel boot ignores.
    const signed = pkgs.guest.map((p) => p.replace(/^(linux-image-[^=]+)-unsigned=/, '$1='));
    if (signed.join() === pkgs.guest.join()) throw e;
    log.warn(`  ${k.image} could not be downloaded: trying the signed image of the same version`);
    await download(signed, debs, arch.debianArch, alog, log, 'kernels');
  });
  await download(pkgs.host, debs, await hostDebianArch(), alog, log, 'kernels');
  await unpackDebs(debs, root, alog);
  // The .debs are unpacked: keeping them would double the entry's size.
  await rm(debs, { recursive: true, force: true });
  // From 7.x (trixie's merged /usr) the modules are under /usr/lib/modules.
  const modules = [join(root, 'lib', 'modules'), join(root, 'usr', 'lib', 'modules')].find((d) => existsSync(d));
  if (!modules)
    throw new KharnessError(
      'INFRA',
      `the image packages of ${k.abi} hold no lib/modules in ${root}`,
      "The archive changed the packages' layout: report it.",
    );
  const release = (await readdir(modules))[0]!;
  const headers = join(root, 'usr', 'src', `linux-headers-${release}`);
  // The headers' Makefile includes the common headers by absolute path (/usr/src/...): point it here, relative to
  // the headers directory (make -C's working directory), so a cache restored under another path (a CI runner) still builds.
  // The common headers the flavour's include: linux-headers-ABI-common, or -common-rt for the rt flavour.
  const common = k.headers[1]!;
  if (!existsSync(join(root, 'usr', 'src', common)) || !existsSync(headers))
    throw new KharnessError(
      'INFRA',
      `the headers for ${release} are incomplete in ${root}`,
      'The download was cut short or the archive changed: run again.',
    );
  // 7.x's also sets KBUILD_OUTPUT to the flavour's directory by absolute path: the directory make -C is in.
  const original = await readFile(join(headers, 'Makefile'), 'utf8');
  const output = /^KBUILD_OUTPUT\s*:?=/m.test(original) ? 'KBUILD_OUTPUT=$(CURDIR)\n' : '';
  await writeFile(join(headers, 'Makefile'), `${output}include ../${common}/Makefile\n`);
  return {
    // Up to 6.12 in /boot; from 7.x beside the modules (vmlinuz.unsigned from linux-binary-unsigned, else vmlinuz).
    image: firstThere([join(root, 'boot', `vmlinuz-${release}`), ...['vmlinuz.unsigned', 'vmlinuz'].map((f) => join(modules, release, f))]),
    config: firstThere([join(root, 'boot', `config-${release}`), join(modules, release, 'config')]),
    headers,
    release,
    guestModules: await moduleLoadOrder(join(modules, release), [...guestModules]),
  };
}

/**
 * Kernel names with every `debian:` name checked against the archive and
 * every range expanded, oldest first: debian:6.1.0-47..6.1.0-56-cloud becomes
 * the cloud kernels of that series in between. A single name stays as
 * written (canonically): debian:6.12-cloud is a target of its own, the newest
 * 6.12 cloud kernel of each arch when it is fetched. An unknown version or a
 * bad range is a usage error naming what is there, before anything is built.
 */
export async function expandDebianNames(
  names: readonly string[],
  arches: readonly ArchSpec[],
  log: Log,
  o: { acrossSeries?: boolean } = {},
): Promise<string[]> {
  const out: string[] = [];
  // One read of each arch's apt lists, however many names there are.
  const indexes = new Map<string, ReturnType<typeof debianKernels>>();
  const indexOf = (a: ArchSpec) => {
    if (!indexes.has(a.name)) indexes.set(a.name, debianKernels(a, log));
    return indexes.get(a.name)!;
  };
  for (const name of names) {
    const r = readDebianName(name);
    if (!r) {
      out.push(name);
      continue;
    }
    const on = arches.filter((a) => r.from.flavour in a.debianFlavours);
    if (!on.length) throw new UsageError(`no arch of ${arches.map((a) => a.name).join(', ')} has Debian's ${r.from.flavour} flavour`);
    let versions: string[] | undefined;
    for (const a of on) {
      const res = resolveDebian(r, await indexOf(a), a.name, o);
      if ('error' in res) throw new UsageError(res.error, 'Run `kharness kernels` to list the Debian kernels in the archive.');
      const names = r.to ? res.ok.map((k) => debianName(k.abi, k.flavour)) : [specName(r.from)];
      // A range must mean the same kernels on every arch it runs on.
      if (versions && versions.join() !== names.join())
        throw new UsageError(`"${name}" covers different versions on ${on.map((x) => x.name).join(' and ')}`, 'Pick one arch with --arch.');
      versions = names;
    }
    for (const n of versions ?? []) if (!out.includes(n)) out.push(n);
  }
  return out;
}
