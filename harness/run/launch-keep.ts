/**
 * Keeping a launch for run/launch.ts: apart from it, so that bin/kharness.js's
 * early start does not load what only writing one needs.
 */
import { chmod, copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hash53 } from '../util/hash53.ts';
import { type LaunchRecord, launchDir, launchKeys } from './launch.ts';

/**
 * Keeps a launch for the next run of the same command line: the initramfs
 * copied (owner-only: it holds the guest's ssh keys) beside the record, the
 * spawn's arguments pointed at the copy. Best effort: a cache that cannot be
 * written only costs the next run its head start.
 */
export async function keepLaunch(code: string | undefined, record: LaunchRecord, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const keys = code ? launchKeys(process.argv.slice(2), process.cwd(), code, env) : [];
  if (!keys.length) return;
  const dir = launchDir(env);
  const tmp = `.${process.pid}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // Named by its plan: the command line's record and its target's share it.
    const initrd = join(dir, `${hash53(record.planKey)}.cpio`);
    await copyFile(record.initrd, initrd + tmp);
    await chmod(initrd + tmp, 0o600);
    await rename(initrd + tmp, initrd);
    const args = record.args.map((a) => (a === record.initrd ? initrd : a));
    for (const key of keys) {
      const file = join(dir, `${key}.json`);
      await writeFile(file + tmp, JSON.stringify({ ...record, args, initrd }), { mode: 0o600 });
      await rename(file + tmp, file);
    }
    await prune(dir);
  } catch {
    // Not kept: the next run spawns its own.
  }
}

/** How many launch records are kept (a command line's and its target's are two), the most recently written. */
export const LAUNCHES_KEPT = 16;

/** Removes all but the LAUNCHES_KEPT most recent records, then every initramfs no record names. */
async function prune(dir: string): Promise<void> {
  const names = await readdir(dir);
  const records = names.filter((n) => n.endsWith('.json'));
  const dated = await Promise.all(records.map(async (n) => ({ n, at: (await stat(join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })));
  dated.sort((a, b) => b.at - a.at);
  for (const { n } of dated.slice(LAUNCHES_KEPT)) await rm(join(dir, n), { force: true });
  const named = new Set<string>();
  for (const { n } of dated.slice(0, LAUNCHES_KEPT)) {
    const r = await readFile(join(dir, n), 'utf8').catch(() => '');
    const m = /"initrd":"([^"]+)"/.exec(r);
    if (m) named.add(m[1]!);
  }
  for (const n of names) if (n.endsWith('.cpio') && !named.has(join(dir, n))) await rm(join(dir, n), { force: true });
}
