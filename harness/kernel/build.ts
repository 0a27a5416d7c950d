/**
 * Building a guest kernel: source acquisition, tinyconfig + fragments,
 * make, all cached by a content key (source identity, fragments, compiler,
 * arch, recipe).
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KharnessError } from '../errors.ts';
import { archSpec, isNative, type ArchSpec } from '../guest/arches.ts';
import { cacheRoot, KERNELS_DIR } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import type { Log } from '../util/log.ts';
import { capture, formatDuration, runLogged } from '../util/proc.ts';
import { getOrBuild, withLock } from './cache.ts';
import { findKernel, type CatalogKernel } from './catalog.ts';
import { parseConfig, unmetOptions } from '../analysis/kconfig.ts';
import { requireTool, whichSync } from '../util/host.ts';

/** Bump when the build steps change in a way that changes the output. */
const RECIPE = 'kernel-recipe-1';

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
  unmet: string[];
  buildMs: number;
  /** Guest RAM this kernel needs, from the catalog. */
  memoryMb?: number;
}

export interface BuildOptions {
  log: Log;
  jobs?: number;
  timeoutMs?: number;
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

async function sourceIdentity(k: CatalogKernel): Promise<string> {
  const st = await stat(k.source.tarball).catch(() => undefined);
  if (!st) {
    throw new KharnessError('HOST_TOOL', `kernel source ${k.source.tarball} is missing.`, `Install it with: sudo apt-get install ${k.source.package}  (or run ./setup.sh)`);
  }
  return `${k.source.type}:${k.source.tarball}:${st.size}:${Math.floor(st.mtimeMs)}`;
}

async function fragmentFiles(k: CatalogKernel, arch: ArchSpec): Promise<{ name: string; path: string; text: string }[]> {
  const names = [...k.fragments, arch.fragment, ...(k.overlay ?? [])];
  return Promise.all(
    names.map(async (name) => {
      const path = join(KERNELS_DIR, 'config', name);
      return { name, path, text: await readFile(path, 'utf8') };
    }),
  );
}

export async function kernelKey(k: CatalogKernel, arch: ArchSpec): Promise<string> {
  const frags = await fragmentFiles(k, arch);
  const cc = (await capture(compiler(arch), ['--version'])).split('\n')[0]!;
  return hashParts([RECIPE, await sourceIdentity(k), arch.kernelArch, arch.imageTarget, cc, ...frags.flatMap((f) => [f.name, f.text])]);
}

/** Extracts the tarball once per source identity, into the cache. */
async function extractSource(k: CatalogKernel, o: BuildOptions): Promise<string> {
  const root = cacheRoot();
  const id = hashParts([await sourceIdentity(k)]);
  const dir = join(root, 'src', `${k.source.package}-${id}`);
  if (existsSync(join(dir, 'Makefile'))) return dir;
  return withLock(join(root, 'locks'), `src-${k.source.package}-${id}`, async () => {
    if (existsSync(join(dir, 'Makefile'))) return dir;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    o.log.info(`  extracting ${k.source.tarball}`);
    await runLogged('tar', ['-xf', k.source.tarball, '-C', tmp, '--strip-components=1'], {
      log: join(tmp, '..', `extract-${id}.log`),
      phase: `extracting ${k.source.tarball}`,
      timeoutMs: 10 * 60_000,
    });
    await rename(tmp, dir);
    return dir;
  });
}

export async function buildKernel(kernelName: string, archName: string, o: BuildOptions): Promise<KernelBuild> {
  const k = findKernel(kernelName);
  const arch = archSpec(archName);
  if (!k.arches.includes(arch.name)) {
    throw new KharnessError('USAGE', `kernel ${k.name} does not support ${arch.name}`, `It supports: ${k.arches.join(', ')}`);
  }
  await requireTool('make', 'build-essential');
  await requireTool(compiler(arch), isNative(arch) ? 'build-essential' : arch.crossPackage);
  for (const [tool, pkg] of [['flex', 'flex'], ['bison', 'bison'], ['bc', 'bc']] as const) await requireTool(tool, pkg);

  const key = await kernelKey(k, arch);
  const label = `${k.name}/${arch.name}`;
  const started = Date.now();
  const { meta, hit } = await getOrBuild<KernelBuild>(
    cacheRoot(),
    'kernels',
    key,
    async (dir) => {
      const src = await extractSource(k, o);
      const out = join(dir, 'build');
      const log = join(dir, 'build.log');
      await mkdir(out, { recursive: true });
      const vars = makeVars(arch);
      const timeoutMs = o.timeoutMs ?? 60 * 60_000;
      const make = (args: string[], phase: string) =>
        runLogged('make', ['-C', src, `O=${out}`, ...vars, ...args], { log, phase: `${phase} (${label})`, timeoutMs, verbose: o.log.verbose });
      o.log.info(`building kernel ${label} (log: ${log})`);
      await make(['tinyconfig'], 'kernel config');
      const frags = await fragmentFiles(k, arch);
      await runLogged(join(src, 'scripts/kconfig/merge_config.sh'), ['-m', '-O', out, join(out, '.config'), ...frags.map((f) => f.path)], {
        cwd: src,
        log,
        phase: `merging config fragments (${label})`,
        timeoutMs,
        env: { ARCH: arch.kernelArch },
      });
      await make(['olddefconfig'], 'kernel config');
      const wanted = new Map(frags.flatMap((f) => [...parseConfig(f.text)]));
      const unmet = unmetOptions(wanted, parseConfig(await readFile(join(out, '.config'), 'utf8')));
      for (const u of unmet) o.log.warn(`${label}: config fragment asked for ${u}`);
      const ticker = setInterval(() => o.log.info(`  still building ${label}: ${formatDuration(Date.now() - started)}`), 60_000);
      try {
        // `modules` writes Module.symvers, without which 6.12's modpost rejects out-of-tree modules.
        await make([`-j${o.jobs ?? cpus().length}`, arch.imageTarget, 'modules_prepare', 'modules'], 'kernel build');
      } finally {
        clearInterval(ticker);
      }
      const release = (await capture('make', ['-s', '-C', src, `O=${out}`, ...vars, 'kernelrelease'])).trim().split('\n').pop()!;
      return {
        key,
        kernel: k.name,
        arch: arch.name,
        release,
        buildDir: out,
        srcDir: src,
        image: join(out, arch.imagePath),
        configFile: join(out, '.config'),
        unmet,
        buildMs: Date.now() - started,
      };
    },
    (pid) => o.log.info(`waiting for process ${pid}, which is building the same kernel ${label}`),
  );
  // Catalog data, not build output: read fresh so a cached entry follows catalog edits.
  meta.memoryMb = k.memory_mb;
  o.log.info(hit ? `kernel ${label}: cached (${meta.release}, key ${key})` : `kernel ${label}: built ${meta.release} in ${formatDuration(meta.buildMs)}`);
  return meta;
}
