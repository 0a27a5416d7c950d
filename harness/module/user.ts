/**
 * A user's out-of-tree module: its directory checked before anything boots
 * (a Kbuild or Makefile naming one module in obj-m), then built against each
 * target's kernel, its compiler output kept in the target's directory. A
 * module that does not compile is that target's result, with the compiler's
 * first error, not an error of the harness.
 *
 * The directory's path goes to make as an argument (M=), never through a shell.
 */
import { cp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KharnessError, tail, UsageError } from '../errors.ts';
import type { KernelBuild } from '../kernel/entry.ts';
import type { Log } from '../util/log.ts';
import { makeModule } from './build.ts';

export interface ModuleDir {
  /** Absolute. */
  dir: string;
  /** The module's file name, from obj-m (foo-bar for foo-bar.o). */
  file: string;
  /** Its name in the kernel: insmod's and rmmod's (dashes become underscores). */
  name: string;
}

/** What a target's build of the module gave: its .ko, or why there is none (`infra`: the host failed, not the module). */
export type BuiltModule =
  | { ok: true; name: string; ko: string; buildLog: string }
  | { ok: false; error: string; buildLog?: string; details?: string; infra?: boolean };

/** The modules an obj-m line builds (`obj-m += a.o b.o`, `obj-m := a.o`), in order. Pure. */
export function objM(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*obj-m\s*[+:]?=\s*(.*)$/gm)) {
    for (const w of m[1]!.split(/\s+/)) if (w.endsWith('.o')) out.push(w.slice(0, -2));
  }
  return out;
}

/** The first error the compiler (or modpost, or make) printed, without its path prefix. Pure. */
export function firstCompilerError(log: string): string | undefined {
  const lines = log.split('\n');
  const hit =
    lines.find((l) => /\berror:/.test(l) && !/^make(\[\d+\])?: \*\*\*/.test(l)) ??
    lines.find((l) => /No rule to make target|undefined!|\*\*\* /.test(l));
  return hit?.trim().replace(/^\/\S*\//, '');
}

/**
 * A directory that holds one out-of-tree module, or a usage error saying why
 * not (no Kbuild or Makefile, no obj-m, more than one module, a name insmod
 * could not take). Read before anything builds or boots.
 */
export async function readModuleDir(dir: string): Promise<ModuleDir> {
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory())
    throw new UsageError(`${dir} is not a directory`, 'Give the directory of an out-of-tree module (with its Kbuild or Makefile).');
  const texts: string[] = [];
  for (const f of ['Kbuild', 'Makefile']) {
    const t = await readFile(join(dir, f), 'utf8').catch(() => undefined);
    if (t !== undefined) texts.push(t);
  }
  if (!texts.length)
    throw new UsageError(`${dir} is not a kernel module: it has no Kbuild or Makefile`, 'An out-of-tree module names itself in obj-m.');
  const names = [...new Set(texts.flatMap(objM))];
  if (!names.length) throw new UsageError(`${dir} is not a kernel module: its Kbuild/Makefile has no obj-m line`, 'e.g. obj-m += mymod.o');
  if (names.length > 1) throw new UsageError(`${dir} builds ${names.length} modules (${names.join(', ')}); kharness loads one`);
  const file = names[0]!;
  if (!/^[A-Za-z0-9_-]{1,55}$/.test(file))
    throw new UsageError(`${dir}: "${file}" is not a module name kharness can load (letters, digits, _ and -)`);
  return { dir, file, name: file.replace(/-/g, '_') };
}

/** Build products and version control: not sources, not copied. */
const NOT_SOURCE = /(^\.git$|^\.tmp_versions$|\.(o|ko|mod|a|cmd)$|\.mod\.c$|^modules\.order$|^Module\.symvers$)/;

/**
 * Builds the module against one kernel in `outDir` (a copy of its sources,
 * so the user's directory is never written to), with make's output in
 * `outDir/build.log`.
 */
export async function buildUserModule(kernel: KernelBuild, m: ModuleDir, outDir: string, log: Log): Promise<BuiltModule> {
  const buildLog = join(outDir, 'build.log');
  await rm(outDir, { recursive: true, force: true });
  await cp(m.dir, outDir, { recursive: true, filter: (src) => !NOT_SOURCE.test(src.split('/').pop()!) });
  try {
    await makeModule(
      kernel,
      outDir,
      { log: buildLog, phase: `build of the module ${m.file} (${kernel.kernel}/${kernel.arch})`, verbose: log.verbose },
      log,
    );
  } catch (e) {
    const text = await readFile(buildLog, 'utf8').catch(() => '');
    if (!(e instanceof KharnessError) || e.code !== 'BUILD')
      return {
        ok: false,
        infra: true,
        error: `the module ${m.file} could not be built: ${(e as Error).message}`,
        buildLog,
        details: e instanceof KharnessError ? e.details : undefined,
      };
    const first = firstCompilerError(text) ?? 'make failed (no compiler error in its output)';
    return {
      ok: false,
      error: `the module ${m.file} does not compile against ${kernel.release}: ${first}`,
      buildLog,
      details: `build log: ${buildLog}\n${tail(text, 20)}`,
    };
  }
  const ko = join(outDir, `${m.file}.ko`);
  if (!(await stat(ko).catch(() => undefined))) {
    const made = (await readdir(outDir)).filter((f) => f.endsWith('.ko'));
    return { ok: false, error: `make built no ${m.file}.ko (it built: ${made.join(', ') || 'nothing'})`, buildLog };
  }
  log.info(`module ${m.file}: built for ${kernel.release}`);
  return { ok: true, name: m.name, ko, buildLog };
}
