/**
 * The content-addressed cache under cacheRoot(). An entry is a directory
 * that counts as present only once its meta.json exists; meta.json is
 * written to a temporary name and renamed into place, so a reader never sees
 * half an entry. Builders of the same key serialise on a lock file, so two
 * harness processes asking for one kernel build it once.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError } from '../errors.ts';

/** How paths under the cache root are stored in meta.json: a moved or copied cache then uses its own files. */
const ROOT_MARK = '$CACHE';

function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, f)]));
  return v;
}

/**
 * An entry's meta with its paths made absolute again under `root`, and whether
 * it still holds absolute paths (written before they were stored relative to
 * the root, or in a cache since moved or copied).
 */
async function loadMeta<T>(dir: string, root?: string): Promise<{ meta?: T; absolute: boolean }> {
  try {
    const raw = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as unknown;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { absolute: false };
    if (!root) return { meta: raw as T, absolute: false };
    // Its own files are found under its own kind/key, wherever the cache was when it was written.
    const own = `/${basename(dirname(dir))}/${basename(dir)}/`;
    let absolute = false;
    const reroot = (s: string) => {
      if (s.startsWith(`${ROOT_MARK}/`)) return root + s.slice(ROOT_MARK.length);
      if (s.startsWith(`${root}/`)) absolute = true;
      const i = s.indexOf(own);
      if (!s.startsWith('/') || s.startsWith(`${root}/`) || i <= 0) return s;
      absolute = true;
      return root + s.slice(i);
    };
    return { meta: mapStrings(raw, reroot) as T, absolute };
  } catch {
    return { absolute: false };
  }
}

/** An entry's meta with its paths made absolute again under `root` (undefined when missing or unreadable). */
export async function readMeta<T>(dir: string, root?: string): Promise<T | undefined> {
  return (await loadMeta<T>(dir, root)).meta;
}

export async function writeMeta(dir: string, meta: unknown, root?: string): Promise<void> {
  const tmp = join(dir, `.meta.json.${process.pid}`);
  const stored = root ? mapStrings(meta, (s) => (s.startsWith(`${root}/`) ? ROOT_MARK + s.slice(root.length) : s)) : meta;
  await writeFile(tmp, `${JSON.stringify(stored, null, 2)}\n`);
  await rename(tmp, join(dir, 'meta.json'));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Told while a lock is held by another live process: by whom, and for how long so far. */
export type OnWait = (ownerPid: number, heldForMs: number) => void;

/** How often a long wait for a lock is reported again. */
const WAIT_REPORT_MS = 30_000;

/**
 * Runs fn while holding `<lockDir>/<name>.lock`. A lock whose owner process
 * is gone is stale and taken over. onWait is told when the wait begins and
 * every 30 s after; a stopping harness (Ctrl-C) gives up the wait at once.
 */
export async function withLock<T>(lockDir: string, name: string, fn: () => Promise<T>, onWait?: OnWait, stop?: AbortSignal): Promise<T> {
  await mkdir(lockDir, { recursive: true });
  const path = join(lockDir, `${name}.lock`);
  let reported = 0;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(String(process.pid));
      } catch (e) {
        await rm(path, { force: true });
        throw e;
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number((await readFile(path, 'utf8').catch(() => '')) || 0);
      const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now());
      // No owner written (it died between creating the file and writing its pid) or a dead owner: stale.
      if ((owner && !alive(owner)) || (!owner && age > 5000)) {
        await rm(path, { force: true });
        continue;
      }
      if (stop?.aborted) throw new InterruptedError();
      if (owner && Date.now() - reported >= WAIT_REPORT_MS) {
        onWait?.(owner, age);
        reported = Date.now();
      }
      await sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

export interface GetOrBuildOptions<T> {
  onWait?: OnWait;
  /** Gives up a wait for another builder's lock (the harness is stopping). */
  stop?: AbortSignal;
  /** What is wrong with a present entry (a missing file, a changed image), or undefined when it is whole. */
  check?: (meta: T) => Promise<string | undefined> | string | undefined;
  /** Told when a present entry is damaged and is being built again. */
  onDamaged?: (problem: string, dir: string) => void;
}

/**
 * Returns the entry's meta if present and whole, else builds it under the
 * lock (checking again once the lock is held). A damaged entry (meta.json of
 * another shape, files gone, an image cut short) is built again, not used.
 */
export async function getOrBuild<T>(
  root: string,
  kind: string,
  key: string,
  build: (dir: string) => Promise<T>,
  o: GetOrBuildOptions<T> = {},
): Promise<{ meta: T; dir: string; hit: boolean }> {
  const dir = join(root, kind, key);
  const usable = async (): Promise<{ meta?: T; problem?: string; absolute?: boolean }> => {
    const { meta, absolute } = await loadMeta<T>(dir, root);
    if (!meta) return { problem: existsSync(join(dir, 'meta.json')) ? 'its meta.json cannot be read' : undefined };
    const problem = await o.check?.(meta);
    return problem ? { problem } : { meta, absolute };
  };
  const ready = await usable();
  if (ready.meta) {
    // An entry that still names absolute paths: store it relative to the root from now on.
    if (ready.absolute) await writeMeta(dir, ready.meta, root);
    await touchEntry(dir);
    return { meta: ready.meta, dir, hit: true };
  }
  return withLock(
    join(root, 'locks'),
    `${kind}-${key}`,
    async () => {
      const again = await usable();
      if (again.meta) return { meta: again.meta, dir, hit: true };
      if (again.problem) o.onDamaged?.(again.problem, dir);
      // Whatever is there is a build that died, or a damaged entry: start clean.
      if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const meta = await build(dir);
      await writeMeta(dir, meta, root);
      await touchEntry(dir);
      return { meta, dir, hit: false };
    },
    o.onWait,
    o.stop,
  );
}

/** undefined when every path exists; else which are missing. */
export function missingPaths(paths: Record<string, string | undefined>): string | undefined {
  const gone = Object.entries(paths).filter(([, p]) => !p || !existsSync(p));
  return gone.length ? `missing ${gone.map(([k, p]) => `${k} (${p ?? 'not recorded'})`).join(', ')}` : undefined;
}

/** Marks an entry as used now: `cache prune` removes what has not been used for a while. */
export async function touchEntry(dir: string): Promise<void> {
  // A new file renamed over the old: a cache copied with hard links is never written through.
  const tmp = join(dir, `.last-used.${process.pid}`);
  await writeFile(tmp, new Date().toISOString())
    .then(() => rename(tmp, join(dir, '.last-used')))
    .catch(() => undefined);
}

export interface CacheEntry {
  kind: string;
  key: string;
  dir: string;
  bytes: number;
  lastUsed: Date;
  complete: boolean;
  label: string;
}

async function du(path: string): Promise<number> {
  let total = 0;
  const st = await lstat(path).catch(() => undefined);
  if (!st) return 0;
  if (!st.isDirectory()) return st.size;
  for (const e of await readdir(path)) total += await du(join(path, e));
  return total;
}

/**
 * What a kind of entry looks like to `cache ls`: each module that stores
 * entries describes its own kind, so the store knows no client.
 */
export interface CacheKind {
  kind: string;
  /** A human label from the entry's meta (undefined when the entry is incomplete). */
  label(meta: Record<string, unknown> | undefined, key: string): string;
  /** Whether the entry is whole; by default, once its meta.json exists. */
  complete?(dir: string, meta: Record<string, unknown> | undefined): boolean;
}

/** Every entry of the given kinds, with its size and when it was last used. */
export async function listCache(root: string, kinds: readonly CacheKind[]): Promise<CacheEntry[]> {
  const out: CacheEntry[] = [];
  for (const k of kinds) {
    const base = join(root, k.kind);
    for (const key of (await readdir(base).catch(() => [] as string[])).sort()) {
      const dir = join(base, key);
      if (!(await lstat(dir)).isDirectory()) continue;
      const meta = await readMeta<Record<string, unknown>>(dir, root);
      const used = await stat(join(dir, '.last-used')).catch(() => stat(dir));
      const complete = k.complete ? k.complete(dir, meta) : meta !== undefined;
      out.push({ kind: k.kind, key, dir, bytes: await du(dir), lastUsed: used.mtime, complete, label: k.label(meta, key) });
    }
  }
  return out;
}

/** Entries to remove: unused for longer than maxAgeMs, or incomplete leftovers of builds that died. */
export function selectPrunable(entries: readonly CacheEntry[], maxAgeMs: number, now = Date.now()): CacheEntry[] {
  return entries.filter((e) => !e.complete || now - e.lastUsed.getTime() > maxAgeMs);
}
