/**
 * Building a guest kernel: source acquisition, tinyconfig + fragments,
 * make, all cached by a content key (source identity, fragments, compiler,
 * arch, recipe).
 */

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, join } from 'node:path';
import {
  explainUnmet,
  type FragmentOption,
  inScope,
  kconfigEntries,
  kconfigSelectors,
  parseConfig,
  parseFragment,
  renderFragment,
  takeOptions,
} from '../analysis/kconfig.ts';
import { compareVersions, makefileVersion } from '../analysis/version.ts';
import { ARCHES, type ArchSpec, archSpec, bootImage, isNative } from '../arch/arches.ts';
import { type CacheKind, getOrBuild, missingPaths, writeMeta } from '../cache/store.ts';
import { KharnessError, UsageError } from '../errors.ts';
import { cacheRoot, KERNELS_DIR } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { requireTool, whichSync } from '../util/host.ts';
import { type Log, lockWait } from '../util/log.ts';
import { capture, formatDuration, runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';
import { type CatalogKernel, DEBIAN_GUEST_MODULES, type DebianSource, findKernel, loadCatalog, paritySource } from './catalog.ts';
import { type DebianKernel, debianName, seriesOf } from './debian.ts';
import { debianConfig, installedVersion, parityOptions } from './distro.ts';
import { parseOwnBuild } from './own.ts';
import { fetchPrebuilt, type PrebuiltPackages, prebuiltPackages, resolvePrebuilt } from './prebuilt.ts';
import { extractDebianSource, resolveCommit, sourceIdentity, withGitTree } from './source.ts';

export const KERNEL_CACHE: CacheKind = {
  kind: 'kernels',
  label: (m, key) => (m ? `${String(m.kernel)}/${String(m.arch)} ${String(m.release)}` : key),
};

/** How an entry records an option it asked for as optional and did not get; any other miss makes the entry unusable. */
const OPTIONAL = 'optional config option not met:';

/** Bump when the build steps change in a way that changes the output. */
const RECIPE = 'kernel-recipe-2';

export interface KernelBuild {
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
  /** Guest RAM this kernel needs, from the catalog. */
  memoryMb?: number;
  /** For git kernels: the commit. buildDir is shared with other commits of the repository. */
  git?: { repo: string; commit: string };
  /** Prebuilt kernels: modules the guest must load at boot, in order (absolute .ko paths). */
  guestModules?: string[];
  /** Every module the build made (the kernel's own test modules among them), copied flat: NAME.ko. */
  moduleDir?: string;
}

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
async function builtModules(dir: string): Promise<string[]> {
  const order = await readFile(join(dir, 'modules.order'), 'utf8').catch(() => '');
  return orderedModules(order).filter((rel) => existsSync(join(dir, rel)));
}

/**
 * A module the kernel built (the kernel's own test modules): from the entry's
 * module directory, or for a build kharness did not make (build:DIR), from
 * the build tree itself. undefined when the kernel has none of that name.
 */
export async function findTestModule(k: KernelBuild, name: string): Promise<string | undefined> {
  const file = `${name}.ko`;
  if (k.moduleDir) return existsSync(join(k.moduleDir, file)) ? join(k.moduleDir, file) : undefined;
  const hit = (await builtModules(k.buildDir)).find((rel) => basename(rel) === file);
  return hit ? join(k.buildDir, hit) : undefined;
}

/** Copies every module the build made into one flat directory, so the entry keeps them past the next build there. */
async function collectModules(out: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  for (const rel of await builtModules(out)) await copyFile(join(out, rel), join(into, basename(rel)));
  return into;
}

async function digest(path: string): Promise<{ imageBytes: number; imageSha256: string }> {
  const data = await readFile(path);
  return { imageBytes: data.length, imageSha256: createHash('sha256').update(data).digest('hex') };
}

/** The image's size and digest, so a cached entry whose image was cut short or changed is never booted. */
async function sealImage(k: KernelBuild): Promise<KernelBuild> {
  return { ...k, ...(await digest(k.image)) };
}

/** What is wrong with a cached kernel entry, if anything: every file it names, and the image as built. */
export async function checkKernelEntry(k: KernelBuild): Promise<string | undefined> {
  if (typeof k.key !== 'string' || typeof k.release !== 'string') return 'its meta.json lacks the kernel key or release';
  // Entries built before configs were strict recorded every option they did not get: their allocator is not the one asked for.
  const asked = (k.unmet ?? []).filter((u) => !u.startsWith(OPTIONAL));
  if (asked.length) return `it was built without config options it asked for (${asked.join(', ')})`;
  const missing = missingPaths({
    image: k.image,
    '.config': k.configFile,
    'build directory': k.buildDir,
    'source tree': k.srcDir,
    ...(k.moduleDir ? { 'module directory': k.moduleDir } : {}),
    ...Object.fromEntries((k.guestModules ?? []).map((m, i) => [`guest module ${i + 1}`, m])),
  });
  if (missing) return missing;
  // Entries written before images were sealed carry no digest: sealed on first use (see buildKernel).
  if (k.imageSha256 === undefined) return undefined;
  const now = await digest(k.image);
  if (now.imageBytes !== k.imageBytes || now.imageSha256 !== k.imageSha256) {
    return `the image is not the one that was built (${now.imageBytes} bytes, ${k.imageBytes ?? 'unknown'} recorded)`;
  }
  return undefined;
}

/**
 * A cached source-built kernel on a machine that has the cache but not the
 * extracted source tree (a CI runner restores `kernels/` and `modules/`, not
 * the 1.5 GB `src/`; or the cache was copied elsewhere): the tree is derived
 * data, extracted again from the tarball the cache key already names, and
 * the build directory (whose generated Makefile and `source` link name the
 * tree by absolute path) is pointed at it. Modules then build against the
 * entry as on the machine that built it.
 */
async function reattachSource(m: KernelBuild, k: CatalogKernel & { source: DebianSource }, log: Log): Promise<void> {
  if (typeof m.buildDir !== 'string' || !existsSync(m.buildDir)) return;
  if (typeof m.srcDir !== 'string' || !existsSync(join(m.srcDir, 'Makefile'))) {
    log.info(`kernel ${k.name}/${m.arch}: cached, its source tree is not here: extracting it again`);
    m.srcDir = await extractDebianSource(k, log);
  }
  await pointBuildAt(m.buildDir, m.srcDir);
}

/** Points a build directory's generated Makefile and `source` link at a source tree, by absolute path. */
async function pointBuildAt(buildDir: string, srcDir: string): Promise<void> {
  const makefile = join(buildDir, 'Makefile');
  const text = await readFile(makefile, 'utf8').catch(() => '');
  const wanted = `include ${join(srcDir, 'Makefile')}`;
  const current = /^include (\S+)$/m.exec(text)?.[0];
  if (current && current !== wanted) {
    await writeFile(
      makefile,
      text.replace(current, wanted).replace(/^(# Automatically generated by )\S+?(:? don't edit)$/m, `$1${join(srcDir, 'Makefile')}$2`),
    );
  }
  const link = join(buildDir, 'source');
  if ((await readlink(link).catch(() => undefined)) === srcDir) return;
  await rm(link, { force: true });
  await symlink(srcDir, link);
}

/**
 * A directory is moved with rename, or with mv where rename cannot (the
 * source tree on another file system than the entry).
 */
async function moveDir(from: string, to: string): Promise<void> {
  await rename(from, to).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EXDEV') throw e;
    await capture('mv', ['-T', from, to]);
  });
}

/** A prebuilt entry written before its headers' Makefile named the common headers relatively (see fetchPrebuilt). */
async function relativeHeaders(m: KernelBuild): Promise<void> {
  const makefile = join(String(m.buildDir), 'Makefile');
  const text = await readFile(makefile, 'utf8').catch(() => '');
  const abs = /^include \/\S*\/usr\/src\/([^/\s]+)\/Makefile$/.exec(text.trim());
  if (abs) await writeFile(makefile, `include ../${abs[1]}/Makefile\n`);
}

export interface BuildOptions {
  log: Log;
  /** Fragment files merged after all others (`build --fragment FILE`): part of the cache key. */
  fragments?: string[];
  jobs?: number;
  timeoutMs?: number;
  /**
   * For a git kernel: a version ("6.1.192") whose series decides the catalog
   * configuration it takes (Debian's allocator options), instead of the
   * version its own Makefile names. A bisect pins its good end's, so a
   * Makefile bump inside the range (a merge window's -rc1) cannot change the
   * config mid-bisect.
   */
  configVersion?: string;
}

/** The make variables for an arch: ARCH, CROSS_COMPILE, and CC through ccache when it is installed. */
export function makeVars(arch: ArchSpec, useCcache = whichSync('ccache') !== undefined): string[] {
  const prefix = isNative(arch) ? '' : arch.crossPrefix;
  const vars = [`ARCH=${arch.kernelArch}`];
  if (prefix) vars.push(`CROSS_COMPILE=${prefix}`);
  if (useCcache) vars.push(`CC=ccache ${prefix}gcc`);
  return vars;
}

function compiler(arch: ArchSpec): string {
  return `${isNative(arch) ? '' : arch.crossPrefix}gcc`;
}

interface Fragment {
  /** Where it came from, for messages: base.config, or Debian's config for parity. */
  name: string;
  options: FragmentOption[];
  /** The text that goes into the cache key. */
  text: string;
}

/** A fragment file's options, or a usage error at file:line for a malformed `# kharness:` line. */
function readFragment(name: string, text: string): Fragment {
  const { options, problems } = parseFragment(text, Object.keys(ARCHES));
  const p = problems[0];
  if (p)
    throw new UsageError(
      `${name.includes('/') ? name : `kernels/config/${name}`}:${p.line}: ${p.reason}`,
      'Fix the fragment: see kernels/config/base.config for the syntax.',
    );
  return { name, options, text };
}

/**
 * The Debian source package whose version picks the Debian config a kernel
 * takes its allocator options from: a Debian tree's own; for a git tree, the
 * catalog's package of the series its Makefile names at the commit, or of
 * `pinned`'s series (a bisect's good end); none: it keeps tinyconfig's
 * allocator options, and says so.
 */
async function parityPackage(k: CatalogKernel, log: Log, pinned?: string): Promise<string | undefined> {
  const s = k.source;
  if (s.type === 'debian-source') return s.package;
  if (s.type !== 'git') return undefined;
  const makefile = async () => {
    const commit = await resolveCommit(s);
    return capture('git', ['-C', s.repo, 'show', `${commit}:Makefile`]).catch(() => '');
  };
  const version = pinned ?? makefileVersion(await makefile());
  const pkg = version ? paritySource(seriesOf(version), loadCatalog()) : undefined;
  if (!pkg) {
    const why = version ? `the catalog builds no ${seriesOf(version)} kernel from Debian's source` : 'its Makefile names no version';
    log.info(`kernel ${k.name}: ${why}, so no Debian allocator options: tinyconfig's and the fragments' stay`);
  }
  return pkg;
}

/**
 * The fragments in the order they are merged: the catalog's, distribution
 * parity (Debian's values for kernels/distro-mm.yaml's options), the arch's,
 * the overlays.
 */
async function fragmentsFor(k: CatalogKernel, arch: ArchSpec, log: Log, x: Extras = {}): Promise<Fragment[]> {
  const file = async (name: string) => readFragment(name, await readFile(join(KERNELS_DIR, 'config', name), 'utf8'));
  const parity: Fragment[] = [];
  const pkg = k.distro_parity ? await parityPackage(k, log, x.configVersion) : undefined;
  if (k.distro_parity && pkg) {
    const { options: list, text: listText } = parityOptions();
    const flavour = k.distro_parity === true ? 'generic' : k.distro_parity;
    const debian = await debianConfig(arch, await installedVersion(pkg), flavour, log);
    const options = takeOptions(parseConfig(debian.text), list);
    parity.push({ name: `distro-mm.yaml (${debian.from})`, options, text: `${listText}\n${renderFragment(options)}` });
  }
  return [
    ...(await Promise.all(k.fragments.map(file))),
    ...parity,
    await file(arch.fragment),
    ...(await Promise.all((k.overlay ?? []).map(file))),
    ...(await Promise.all((x.fragments ?? []).map(async (p) => readFragment(p, await readFile(p, 'utf8'))))),
  ];
}

/**
 * What a kernel is made of, resolved once: the cache key is computed from it
 * and the build then uses exactly it (the same packages, the same fragments),
 * so nothing between the two can change under the key.
 */
type Ingredients =
  | { kind: 'prebuilt'; kernel: DebianKernel; packages: PrebuiltPackages; guestModules: string[] }
  | { kind: 'source'; fragments: Fragment[] };

/** What a source build adds to a catalog entry: extra fragment files, a git kernel's pinned version (BuildOptions). */
type Extras = Pick<BuildOptions, 'fragments' | 'configVersion'>;

async function ingredients(k: CatalogKernel, arch: ArchSpec, log: Log, x: Extras): Promise<Ingredients> {
  const s = k.source;
  if (s.type === 'debian-image') {
    const kernel = await resolvePrebuilt(s, arch, log);
    // A series name moves with the archive: say which version it is this time (target.release records it too).
    if (s.version === undefined)
      log.info(
        `kernel ${k.name}/${arch.name} is ${debianName(kernel.abi, kernel.flavour)} (${kernel.abi}), ` +
          `the newest ${kernel.series} ${kernel.flavour} kernel in the archive`,
      );
    return {
      kind: 'prebuilt',
      kernel,
      packages: await prebuiltPackages(kernel, arch, log),
      guestModules: s.guest_modules ?? DEBIAN_GUEST_MODULES,
    };
  }
  return { kind: 'source', fragments: await fragmentsFor(k, arch, log, x) };
}

async function kernelKey(k: CatalogKernel, arch: ArchSpec, ing: Ingredients): Promise<string> {
  const s = k.source;
  // A prebuilt kernel is exactly the packages it is made of.
  if (ing.kind === 'prebuilt') return hashParts([RECIPE, 'debian-image', arch.name, ing.packages.versions, ...ing.guestModules]);
  if (s.type === 'build' || s.type === 'debian-image') throw new KharnessError('BUILD', `${k.name} is built already: it has no build key`);
  const cc = (await capture(compiler(arch), ['--version'])).split('\n')[0]!;
  return hashParts([
    RECIPE,
    await sourceIdentity({ ...k, source: s }),
    arch.kernelArch,
    arch.imageTarget,
    cc,
    ...ing.fragments.flatMap((f) => [f.name, f.text]),
  ]);
}

/** Kconfig's reason for each option the merged config did not honour (grep finds where each is defined and selected). */
async function explain(src: string, arch: ArchSpec, unmet: { name: string }[], config: Map<string, string>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  // This arch's Kconfig beside the arch-independent ones: another arch's entry of the same name is not the reason.
  const archDir = arch.imagePath.split('/').slice(0, 2).join('/');
  for (const u of unmet) {
    const sym = u.name.replace(/^CONFIG_/, '');
    const grep = async (re: string) =>
      (await capture('grep', ['-rlE', '--include=Kconfig*', '--exclude-dir=arch', re, '.', archDir], { cwd: src }).catch(() => ''))
        .split('\n')
        .filter(Boolean);
    const entries = [];
    for (const f of await grep(`^\\s*(menu)?config\\s+${sym}\\s*$`))
      entries.push(...kconfigEntries(f.replace(/^\.\//, ''), await readFile(join(src, f), 'utf8'), sym));
    const selectors = [];
    for (const f of await grep(`^\\s+select\\s+${sym}\\b`)) selectors.push(...kconfigSelectors(await readFile(join(src, f), 'utf8'), sym));
    out.set(u.name, explainUnmet(u.name, entries, selectors, config));
  }
  return out;
}

/**
 * tinyconfig, the fragments (each option in the scope its `# kharness:` line
 * gives), olddefconfig, and a check that every option asked for is in the
 * merged .config: one that is not stops the build before compiling, naming
 * the value it got and the Kconfig dependency that blocked it (an optional
 * one is reported). Then make.
 */
async function configureAndMake(
  fragments: readonly Fragment[],
  arch: ArchSpec,
  src: string,
  out: string,
  log: string,
  label: string,
  o: BuildOptions,
  started: number,
) {
  await mkdir(out, { recursive: true });
  const vars = makeVars(arch);
  const timeoutMs = o.timeoutMs ?? 60 * 60_000;
  const make = (args: string[], phase: string) =>
    runLogged('make', ['-C', src, `O=${out}`, ...vars, ...args], {
      log,
      fails: 'BUILD',
      phase: `${phase} (${label})`,
      timeoutMs,
      verbose: o.log.verbose,
    });
  o.log.info(`building kernel ${label} (log: ${log})`);
  const version = makefileVersion(await readFile(join(src, 'Makefile'), 'utf8')) ?? '0.0';
  const frags = fragments.map((f) => ({
    ...f,
    options: f.options.filter((x) => inScope(x, arch.name, version, compareVersions)),
  }));
  const fragDir = join(out, 'kharness-fragments');
  await mkdir(fragDir, { recursive: true });
  const paths = await Promise.all(
    frags.map(async (f, i) => {
      const p = join(fragDir, `${String(i).padStart(2, '0')}-${f.name.replace(/[^A-Za-z0-9.=+-]+/g, '_')}`);
      await writeFile(p, renderFragment(f.options));
      return p;
    }),
  );
  await make(['tinyconfig'], 'kernel config');
  await runLogged(join(src, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', out, join(out, '.config'), ...paths], {
    cwd: src,
    log,
    fails: 'BUILD',
    phase: `merging config fragments (${label})`,
    timeoutMs,
    env: { ARCH: arch.kernelArch },
  });
  await make(['olddefconfig'], 'kernel config');
  // Later fragments override earlier ones, as merge_config.sh does.
  const wanted = new Map(frags.flatMap((f) => f.options.map((x) => [x.name, { ...x, from: `${f.name}:${x.line}` }] as const)));
  const final = parseConfig(await readFile(join(out, '.config'), 'utf8'));
  const missed = [...wanted.values()].filter((w) => (final.get(w.name) ?? 'n') !== w.value);
  const why = await explain(src, arch, missed, final);
  const line = (w: (typeof missed)[number]) => `${w.name}=${w.value} (${w.from}) got ${final.get(w.name) ?? 'n'}: ${why.get(w.name)}`;
  const unmet = missed.filter((w) => w.optional).map((w) => `${OPTIONAL} ${line(w)}`);
  for (const u of unmet) o.log.warn(`${label}: ${u}`);
  const hard = missed.filter((w) => !w.optional);
  if (hard.length) {
    throw new KharnessError(
      'BUILD',
      `kernel config ${label}: ${line(hard[0]!)}${hard.length > 1 ? ` (and ${hard.length - 1} more)` : ''}`,
      'Fix the fragment, or mark the option with `# kharness: optional` (or arch=, since=, until=) on the line above it.',
      hard.length > 1 ? hard.map(line).join('\n') : undefined,
    );
  }
  const ticker = setInterval(() => o.log.info(`  still building ${label}: ${formatDuration(Date.now() - started)}`), 60_000);
  try {
    // `modules` writes Module.symvers, without which 6.12's modpost rejects out-of-tree modules.
    await make([`-j${o.jobs ?? cpus().length}`, arch.imageTarget, 'modules_prepare', 'modules'], 'kernel build');
  } finally {
    clearInterval(ticker);
  }
  const release = (await capture('make', ['-s', '-C', src, `O=${out}`, ...vars, 'kernelrelease'])).trim().split('\n').pop()!;
  const boot = bootImage(arch, (p) => existsSync(join(out, p)), final);
  if (!boot)
    throw new KharnessError(
      'BUILD',
      `kernel ${label}: make finished but left no bootable image (${arch.bootImages.map((b) => b.path).join(', ')})`,
    );
  return { release, unmet, boot };
}

export async function buildKernel(kernelName: string, archName: string, o: BuildOptions): Promise<KernelBuild> {
  const k = findKernel(kernelName);
  const arch = archSpec(archName);
  if (!k.arches.includes(arch.name)) {
    throw new KharnessError('USAGE', `kernel ${k.name} does not support ${arch.name}`, `It supports: ${k.arches.join(', ')}`);
  }
  await requireTool('make', 'build-essential');
  await requireTool(compiler(arch), isNative(arch) ? 'build-essential' : arch.crossPackage);
  // The user's own build: used where it is, checked (kernel/own.ts), never copied or rebuilt.
  const own = parseOwnBuild(kernelName);
  if (own) {
    o.log.info(`kernel ${own.name}/${arch.name}: the build in place (${own.build.release})`);
    return own.build;
  }
  for (const [tool, pkg] of [
    ['flex', 'flex'],
    ['bison', 'bison'],
    ['bc', 'bc'],
  ] as const)
    await requireTool(tool, pkg);

  const ing = await ingredients(k, arch, o.log, o);
  const key = await kernelKey(k, arch, ing);
  const label = `${k.name}/${arch.name}`;
  const started = Date.now();
  const produce = async (dir: string): Promise<KernelBuild> => {
    const log = join(dir, 'build.log');
    const build = async (src: string, out: string) => {
      if (ing.kind !== 'source') throw new KharnessError('BUILD', `${label} is prebuilt: it has no fragments to build with`);
      const r = await configureAndMake(ing.fragments, arch, src, out, log, label, o, started);
      const moduleDir = await collectModules(out, join(dir, 'modules'));
      return { key, kernel: k.name, arch: arch.name, buildMs: Date.now() - started, srcDir: src, buildDir: out, moduleDir, ...r };
    };
    const s = k.source;
    if (ing.kind === 'prebuilt') {
      const u = await fetchPrebuilt(ing.kernel, ing.packages, ing.guestModules, arch, dir, o.log);
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
    }
    if (s.type === 'debian-source') {
      // Compiled in a directory directly inside the source tree, where Kbuild
      // names the tree `..` instead of by absolute path (its top Makefile does
      // that only one level down): every compiler command line is then the
      // same whichever tree of this release it runs in, so ccache serves a
      // tree that moved (another cache root, a new extraction) and a git tree
      // of the release built with the same config (see gitTreeFor). The
      // finished directory moves into the entry, pointed at the tree by
      // absolute path.
      const src = await extractDebianSource({ ...k, source: s }, o.log);
      const staging = join(src, `.kharness-build-${key}`);
      const out = join(dir, 'build');
      await rm(staging, { recursive: true, force: true });
      try {
        const { boot, ...r } = await build(src, staging);
        await moveDir(staging, out);
        await pointBuildAt(out, src);
        return { ...r, buildDir: out, image: join(out, boot), configFile: join(out, '.config') };
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
    if (s.type === 'build' || s.type === 'debian-image') throw new KharnessError('BUILD', `${k.name} has no source to build`);
    // git: the build directory is shared by every commit of this repository, so the
    // entry keeps its own copies of what outlives the next build there.
    const commit = await resolveCommit(s);
    return withGitTree(s, arch.name, commit, o.log, async (t) => {
      const { boot, ...r } = await build(t.src, t.out);
      await copyFile(join(t.out, boot), join(dir, 'image'));
      await copyFile(join(t.out, '.config'), join(dir, 'config'));
      return { ...r, image: join(dir, 'image'), configFile: join(dir, 'config'), git: { repo: s.repo, commit } };
    });
  };
  const { meta, hit } = await getOrBuild<KernelBuild>(cacheRoot(), 'kernels', key, async (dir) => sealImage(await produce(dir)), {
    onWait: lockWait(o.log, `the kernel ${label}`),
    stop: stopping.signal,
    check: async (m) => {
      if (k.source.type === 'debian-source') await reattachSource(m, { ...k, source: k.source }, o.log);
      if (k.source.type === 'debian-image') await relativeHeaders(m);
      return checkKernelEntry(m);
    },
    onDamaged: (problem, dir) => o.log.warn(`the cached kernel ${label} in ${dir} is damaged (${problem}): building it again`),
  });
  if (meta.imageSha256 === undefined) await writeMeta(join(cacheRoot(), 'kernels', key), await sealImage(meta), cacheRoot());
  // Catalog data, not build output: read fresh so a cached entry follows catalog edits.
  meta.memoryMb = k.memory_mb;
  o.log.info(
    hit
      ? `kernel ${label}: cached (${meta.release}, key ${key})`
      : `kernel ${label}: built ${meta.release} in ${formatDuration(meta.buildMs)}`,
  );
  return meta;
}
