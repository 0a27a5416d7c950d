/**
 * The guest-side loader that arms its own fail-nth (modules/failnth), built
 * for an arch with the same compiler as that arch's kernels, cached by
 * (arch, compiler, source). It is a static freestanding executable: it runs
 * in any guest, kharness's initramfs or a Debian one, with no libc.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { archSpec } from '../arch/arches.ts';
import { getOrBuild, missingPaths } from '../cache/store.ts';
import { compiler } from '../kernel/config.ts';
import { cacheRoot, MODULES_DIR } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { type Log, lockWait } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';

/** The flags that make it freestanding: no libc, no startup files, no stack protector, a fixed address. */
export const FAILNTH_CFLAGS = [
  '-Os',
  '-static',
  '-nostdlib',
  '-ffreestanding',
  '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables',
  '-fno-pie',
  '-no-pie',
  '-Wall',
  '-Wextra',
  '-Werror',
] as const;

export interface FailnthBuild {
  key: string;
  arch: string;
  /** The executable on the host. */
  path: string;
}

export async function buildFailnth(archName: string, log: Log): Promise<FailnthBuild> {
  const arch = archSpec(archName);
  const src = join(MODULES_DIR, 'failnth', 'failnth.c');
  const cc = compiler(arch);
  const version = (await capture(cc, ['--version'])).split('\n')[0]!;
  const key = hashParts(['failnth', arch.name, version, ...FAILNTH_CFLAGS, await readFile(src)]);
  const { meta, hit } = await getOrBuild<FailnthBuild>(
    cacheRoot(),
    'modules',
    key,
    async (dir) => {
      const path = join(dir, 'failnth');
      await runLogged(cc, [...FAILNTH_CFLAGS, '-o', path, src], {
        log: join(dir, 'build.log'),
        fails: 'BUILD',
        phase: `building the fail-nth loader (${arch.name})`,
        timeoutMs: 120_000,
        verbose: log.verbose,
      });
      return { key, arch: arch.name, path };
    },
    {
      check: (m) => (typeof m.path !== 'string' ? 'its meta.json names no executable' : missingPaths({ failnth: m.path })),
      onWait: lockWait(log, `the fail-nth loader for ${arch.name}`),
      stop: stopping.signal,
    },
  );
  if (!hit) log.info(`fail-nth loader: built for ${arch.name}`);
  return meta;
}
