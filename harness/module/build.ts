/** Building modules/kalloc_probe against a kernel build, cached by (kernel key, module sources). */
import { existsSync } from 'node:fs';
import { copyFile, readdir, readFile, readlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { archSpec, isNative } from '../arch/arches.ts';
import { type CacheKind, getOrBuild, missingPaths } from '../cache/store.ts';
import { makeVars } from '../kernel/config.ts';
import type { KernelBuild } from '../kernel/entry.ts';
import { checkVermagic, inRoot, toolchainFor } from '../kernel/toolchain.ts';
import { cacheRoot, MODULES_DIR } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { requireTool } from '../util/host.ts';
import { type Log, lockWait } from '../util/log.ts';
import { runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';

export const MODULE_CACHE: CacheKind = { kind: 'modules', label: (m, key) => (m ? String(m.name) : key) };

export interface ModuleBuild {
  key: string;
  name: string;
  ko: string;
}

/** The kbuild package Debian's headers link their scripts to (scripts -> ../../lib/linux-kbuild-X/scripts). */
async function kbuildOf(headers: string): Promise<string> {
  return basename(dirname(await readlink(join(headers, 'scripts')).catch(() => 'linux-kbuild/scripts')));
}

export async function buildModule(kernel: KernelBuild, log: Log, name = 'kalloc_probe'): Promise<ModuleBuild> {
  const srcDir = join(MODULES_DIR, name);
  const files = (await readdir(srcDir)).filter((f) => /\.(c|h)$|^Kbuild$|^Makefile$/.test(f)).sort();
  const contents = await Promise.all(files.map((f) => readFile(join(srcDir, f))));
  const key = hashParts([kernel.key, name, ...files.flatMap((f, i) => [f, contents[i]!])]);
  const { meta, hit } = await getOrBuild<ModuleBuild>(cacheRoot(), 'modules', key, produce, {
    check: (m) => (typeof m.ko !== 'string' ? 'its meta.json names no module' : missingPaths({ module: m.ko })),
    onDamaged: (problem, dir) => log.warn(`the cached module ${name} in ${dir} is damaged (${problem}): building it again`),
    onWait: lockWait(log, `the module ${name} for ${kernel.kernel}/${kernel.arch}`),
    stop: stopping.signal,
  });
  if (!hit) log.info(`module ${name}: built for ${kernel.release}`);
  return meta;

  async function produce(dir: string): Promise<ModuleBuild> {
    for (const f of files) await copyFile(join(srcDir, f), join(dir, f));
    await makeModule(
      kernel,
      dir,
      { log: join(dir, 'build.log'), phase: `module build ${name} (${kernel.kernel}/${kernel.arch})`, verbose: log.verbose },
      log,
    );
    return { key, name, ko: join(dir, `${name}.ko`) };
  }
}

/**
 * `make modules` of the out-of-tree module in `dir` against a kernel build:
 * its output goes to `o.log`; a failure is a BUILD error. The kernel's
 * recipe readies its build directory first (a git kernel's is shared by the
 * repository's commits).
 */
export async function makeModule(
  kernel: KernelBuild,
  dir: string,
  o: { log: string; phase: string; verbose?: boolean },
  log: Log,
): Promise<void> {
  const arch = archSpec(kernel.arch);
  const config = await readFile(kernel.configFile, 'utf8');
  // Debian's headers (a prebuilt kernel; they carry .kernelvariables): the compiler that built the kernel, from the
  // host or a toolchain root (kernel/toolchain.ts), and every module's vermagic checked after the build.
  const prebuilt = existsSync(join(kernel.buildDir, '.kernelvariables'));
  const tc = prebuilt ? await toolchainFor(config, await kbuildOf(kernel.buildDir), arch, log) : undefined;
  const run = { log: o.log, fails: 'BUILD' as const, phase: o.phase, timeoutMs: 10 * 60_000, verbose: o.verbose };
  if (tc?.root) {
    const entry = resolve(kernel.buildDir, '..', '..', '..');
    const vars = [`ARCH=${arch.kernelArch}`, ...(isNative(arch) ? [] : [`CROSS_COMPILE=${arch.crossPrefix}`])];
    const [cmd, args] = inRoot(tc, [entry, dir], ['make', '-C', kernel.buildDir, `M=${dir}`, ...vars, 'modules']);
    await runLogged(cmd, args, { ...run, phase: `${o.phase}, ${tc.compiler} in a toolchain root` });
  } else {
    // Modules of a kernel with BTF (Debian's 6.12) get BTF too, which takes pahole (a toolchain root brings its own).
    if (/^CONFIG_DEBUG_INFO_BTF_MODULES=y$/m.test(config)) await requireTool('pahole', 'dwarves');
    const make = (args: string[]) => runLogged('make', args, run);
    await kernel.withBuildDir(log, make, () => make(['-C', kernel.buildDir, `M=${dir}`, ...makeVars(arch), 'modules']));
  }
  if (prebuilt) for (const ko of (await readdir(dir)).filter((f) => f.endsWith('.ko'))) await checkVermagic(join(dir, ko), kernel.release);
}
