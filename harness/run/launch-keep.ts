/**
 * Keeping a launch for run/launch.ts: apart from it, so that bin/kharness.js's
 * early start does not load what only writing one needs.
 */
import { chmod, copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LaunchRecord, launchDir, launchKey } from './launch.ts';

/**
 * Keeps a launch for the next run of the same command line: the initramfs
 * copied (owner-only: it holds the guest's ssh keys) beside the record, the
 * spawn's arguments pointed at the copy. Best effort: a cache that cannot be
 * written only costs the next run its head start.
 */
export async function keepLaunch(code: string | undefined, record: LaunchRecord, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const key = code && launchKey(process.argv.slice(2), process.cwd(), code, env);
  if (!key) return;
  const dir = launchDir(env);
  const tmp = `.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const initrd = join(dir, `${key}.cpio`);
    await copyFile(record.initrd, initrd + tmp);
    await chmod(initrd + tmp, 0o600);
    await rename(initrd + tmp, initrd);
    const args = record.args.map((a) => (a === record.initrd ? initrd : a));
    const file = join(dir, `${key}.json`);
    await writeFile(file + tmp, JSON.stringify({ ...record, args, initrd }), { mode: 0o600 });
    await rename(file + tmp, file);
    await prune(dir);
  } catch {
    // Not kept: the next run spawns its own.
  }
}

/** How many command lines keep a launch (each holds an initramfs of several MB): the most recently kept. */
export const LAUNCHES_KEPT = 8;

/** Removes all but the LAUNCHES_KEPT most recently kept launches. */
async function prune(dir: string): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json'));
  if (names.length <= LAUNCHES_KEPT) return;
  const dated = await Promise.all(names.map(async (n) => ({ n, at: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  dated.sort((a, b) => b.at - a.at);
  for (const { n } of dated.slice(LAUNCHES_KEPT)) {
    const base = n.slice(0, -'.json'.length);
    await rm(join(dir, n), { force: true });
    await rm(join(dir, `${base}.cpio`), { force: true });
  }
}
