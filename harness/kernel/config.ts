/**
 * The source-build half of kernel building, shared by the recipes that
 * compile a tree (the catalog's Debian source, git:): the toolchain's make
 * variables; config fragments (the catalog's, Debian's allocator options for
 * parity, the arch's, overlays); tinyconfig + fragments + olddefconfig with
 * every option checked, then make; and the cache key of such a build.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
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
import { ARCHES, type ArchSpec, bootImage, isNative } from '../arch/arches.ts';
import { KharnessError, UsageError } from '../errors.ts';
import { cacheRoot, KERNELS_DIR } from '../paths.ts';
import { toolOutput } from '../util/facts.ts';
import { hashParts } from '../util/hash.ts';
import { hostCpus, whichSync } from '../util/host.ts';
import type { Log } from '../util/log.ts';
import { cachedParse } from '../util/parsed.ts';
import { capture, formatDuration, runLogged } from '../util/proc.ts';
import type { CatalogKernel } from './catalog.ts';
import { debianConfig, parityOptions } from './distro.ts';
import { builtModules, type KernelEntry, moduleInTree, OPTIONAL, RECIPE } from './entry.ts';

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

export function compiler(arch: ArchSpec): string {
  return `${isNative(arch) ? '' : arch.crossPrefix}gcc`;
}

/** Host tools a build from source takes beyond make and the compiler (Kconfig's parsers, the timeconst script). */
export const SOURCE_TOOLS = [
  ['flex', 'flex'],
  ['bison', 'bison'],
  ['bc', 'bc'],
] as const;

export interface Fragment {
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
 * The fragments in the order they are merged: the catalog's, distribution
 * parity (Debian's values for kernels/distro-mm.yaml's options, taken from
 * the Debian source package `parity` names: the recipe knows which, if any),
 * the arch's, the overlays, the user's (`build --fragment`).
 */
export async function fragmentsFor(
  k: CatalogKernel,
  arch: ArchSpec,
  log: Log,
  /** The Debian package version ("7.2.13-1") whose config gives the allocator options; none: tinyconfig's stay. */
  parity: string | undefined,
  extra: readonly string[] = [],
): Promise<Fragment[]> {
  const file = async (name: string) => readFragment(name, await readFile(join(KERNELS_DIR, 'config', name), 'utf8'));
  const fromDebian: Fragment[] = [];
  if (k.distro_parity && parity) {
    const { options: list, text: listText } = await parityOptions();
    const flavour = k.distro_parity === true ? 'generic' : k.distro_parity;
    const debian = await debianConfig(arch, parity, flavour, log);
    // Debian's config has 10,000 lines: what the list takes from it is kept, keyed on both texts.
    const options = await cachedParse(cacheRoot(), ['parity-options', listText, debian.text], () =>
      takeOptions(parseConfig(debian.text), list),
    );
    fromDebian.push({ name: `distro-mm.yaml (${debian.from})`, options, text: `${listText}\n${renderFragment(options)}` });
  }
  return [
    ...(await Promise.all(k.fragments.map(file))),
    ...fromDebian,
    await file(arch.fragment),
    ...(await Promise.all((k.overlay ?? []).map(file))),
    ...(await Promise.all(extra.map(async (p) => readFragment(p, await readFile(p, 'utf8'))))),
  ];
}

/**
 * The cache key of a build from source: the tree's identity (sourceIdentity),
 * the arch, the compiler, every fragment's text. The build then uses exactly
 * these fragments, so nothing can change under the key.
 */
export async function sourceKey(identity: string, arch: ArchSpec, fragments: readonly Fragment[]): Promise<string> {
  const cc = (await toolOutput(cacheRoot(), compiler(arch), ['--version'])).split('\n')[0]!;
  return hashParts([RECIPE, identity, arch.kernelArch, arch.imageTarget, cc, ...fragments.flatMap((f) => [f.name, f.text])]);
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

/** Where a source build runs and what it is called in messages. */
export interface SourceBuild {
  fragments: readonly Fragment[];
  arch: ArchSpec;
  /** The source tree and the O= directory make writes to. */
  src: string;
  out: string;
  /** The cache entry's directory: its build.log, and the copies of the modules made. */
  dir: string;
  key: string;
  kernel: string;
  started: number;
}

/** What a source build leaves: the entry's fields (buildDir is `out`), and the image's path inside `out`. */
export type Built = KernelEntry & { boot: string; moduleDir: string };

/** A make in the source tree, writing to the O= directory, logged to the entry's build.log; a failure is BUILD. */
type Make = (args: string[], phase: string) => Promise<unknown>;

/**
 * A source build: configured (configure), compiled with the image, the
 * modules and what out-of-tree modules need (Module.symvers), then every
 * module it made copied out of `out` (the kernel's own test modules among
 * them), so the entry keeps them past the next build there.
 */
export async function configureAndMake(b: SourceBuild, o: BuildOptions): Promise<Built> {
  const { arch, src, out } = b;
  const label = `${b.kernel}/${arch.name}`;
  const log = join(b.dir, 'build.log');
  await mkdir(out, { recursive: true });
  const vars = makeVars(arch);
  const timeoutMs = o.timeoutMs ?? 60 * 60_000;
  const make: Make = (args, phase) =>
    runLogged('make', ['-C', src, `O=${out}`, ...vars, ...args], {
      log,
      fails: 'BUILD',
      phase: `${phase} (${label})`,
      timeoutMs,
      verbose: o.log.verbose,
    });
  o.log.info(`building kernel ${label} (log: ${log})`);
  const { unmet, config } = await configure(b, o.log, make, (script, args) =>
    runLogged(script, args, {
      cwd: src,
      log,
      fails: 'BUILD',
      phase: `merging config fragments (${label})`,
      timeoutMs,
      env: { ARCH: arch.kernelArch },
    }),
  );
  const ticker = setInterval(() => o.log.info(`  still building ${label}: ${formatDuration(Date.now() - b.started)}`), 60_000);
  try {
    // `modules` writes Module.symvers, without which 6.12's modpost rejects out-of-tree modules.
    await make([`-j${o.jobs ?? hostCpus().count}`, arch.imageTarget, 'modules_prepare', 'modules'], 'kernel build');
  } finally {
    clearInterval(ticker);
  }
  const release = (await capture('make', ['-s', '-C', src, `O=${out}`, ...vars, 'kernelrelease'])).trim().split('\n').pop()!;
  const boot = bootImage(arch, (p) => existsSync(join(out, p)), config);
  if (!boot)
    throw new KharnessError(
      'BUILD',
      `kernel ${label}: make finished but left no bootable image (${arch.bootImages.map((x) => x.path).join(', ')})`,
    );
  const moduleDir = await collectModules(out, join(b.dir, 'modules'));
  return {
    key: b.key,
    kernel: b.kernel,
    arch: arch.name,
    buildMs: Date.now() - b.started,
    srcDir: src,
    buildDir: out,
    moduleDir,
    release,
    unmet,
    boot,
    image: join(out, boot),
    configFile: join(out, '.config'),
  };
}

/**
 * tinyconfig, the fragments (each option in the scope its `# kharness:` line
 * gives), olddefconfig, and a check that every option asked for is in the
 * merged .config: one that is not stops the build before compiling, naming
 * the value it got and the Kconfig dependency that blocked it; an optional
 * one is warned about and returned, for the entry to record.
 */
async function configure(
  b: SourceBuild,
  log: Log,
  make: Make,
  merge: (script: string, args: string[]) => Promise<unknown>,
): Promise<{ unmet: string[]; config: Map<string, string> }> {
  const { arch, src, out } = b;
  const label = `${b.kernel}/${arch.name}`;
  const version = makefileVersion(await readFile(join(src, 'Makefile'), 'utf8')) ?? '0.0';
  const frags = b.fragments.map((f) => ({
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
  await merge(join(src, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', out, join(out, '.config'), ...paths]);
  await make(['olddefconfig'], 'kernel config');
  // Later fragments override earlier ones, as merge_config.sh does.
  const wanted = new Map(frags.flatMap((f) => f.options.map((x) => [x.name, { ...x, from: `${f.name}:${x.line}` }] as const)));
  const config = parseConfig(await readFile(join(out, '.config'), 'utf8'));
  const missed = [...wanted.values()].filter((w) => (config.get(w.name) ?? 'n') !== w.value);
  const why = await explain(src, arch, missed, config);
  const line = (w: (typeof missed)[number]) => `${w.name}=${w.value} (${w.from}) got ${config.get(w.name) ?? 'n'}: ${why.get(w.name)}`;
  const unmet = missed.filter((w) => w.optional).map((w) => `${OPTIONAL} ${line(w)}`);
  for (const u of unmet) log.warn(`${label}: ${u}`);
  const hard = missed.filter((w) => !w.optional);
  if (hard.length) {
    throw new KharnessError(
      'BUILD',
      `kernel config ${label}: ${line(hard[0]!)}${hard.length > 1 ? ` (and ${hard.length - 1} more)` : ''}`,
      'Fix the fragment, or mark the option with `# kharness: optional` (or arch=, since=, until=) on the line above it.',
      hard.length > 1 ? hard.map(line).join('\n') : undefined,
    );
  }
  return { unmet, config };
}

/** An entry of a source build: the modules it made, copied flat (NAME.ko); entries made before that copy have none. */
export type SourceEntry = KernelEntry & { moduleDir?: string };

/** The kernel's own test module: from the entry's copy, or for an entry made before there was one, from its build directory. */
export async function sourceTestModule(e: SourceEntry, name: string): Promise<string | undefined> {
  if (!e.moduleDir) return moduleInTree(e.buildDir, name);
  const file = join(e.moduleDir, `${name}.ko`);
  return existsSync(file) ? file : undefined;
}

/** Copies every module the build made into one flat directory, so the entry keeps them past the next build there. */
async function collectModules(out: string, into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  for (const rel of await builtModules(out)) await copyFile(join(out, rel), join(into, basename(rel)));
  return into;
}
