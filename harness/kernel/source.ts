/**
 * Where a kernel's source comes from and where it is built.
 *
 * debian-source: the tarball is extracted once per source identity into
 * the cache; each kernel entry has its own build directory.
 *
 * git: a shared clone (`git clone --shared`, so the user's repository is only
 * read, never changed: no worktrees, no checkouts, its HEAD and branch stay
 * put) and ONE build directory per repository and arch, both in the cache. A
 * build checks the commit out there and runs make: only files that changed
 * since the last build of that directory get rebuilt, which is what makes a
 * bisect step an incremental build. Use of the pair is serialised by a lock.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type CacheKind, touchEntry, withLock } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { type Log, lockWait } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';
import type { DebianSource, GitSource } from './catalog.ts';

export async function resolveCommit(src: GitSource): Promise<string> {
  try {
    return (await capture('git', ['-C', src.repo, 'rev-parse', '--verify', `${src.ref}^{commit}`])).trim();
  } catch {
    throw new KharnessError(
      'USAGE',
      `cannot resolve ${src.ref} in ${src.repo}`,
      'Give a path to a kernel git repository and a ref that exists in it: git:/path/to/linux@v6.6',
    );
  }
}

/** What identifies a Debian source tarball's content: part of every cache key built from it. */
export async function tarballIdentity(s: DebianSource): Promise<string> {
  const st = await stat(s.tarball).catch(() => undefined);
  if (!st) {
    throw new KharnessError(
      'HOST_TOOL',
      `kernel source ${s.tarball} is missing.`,
      `Install it with: sudo apt-get install ${s.package}  (or run ./setup.sh)`,
    );
  }
  return `${s.type}:${s.tarball}:${st.size}:${Math.floor(st.mtimeMs)}`;
}

/** Extracted source trees: whole once their top-level Makefile is there (the extraction renames it in). */
export const SOURCE_CACHE: CacheKind = { kind: 'src', label: (_m, key) => key, complete: (dir) => existsSync(join(dir, 'Makefile')) };

/** Extracts a Debian tarball once per source identity. */
export async function extractDebianSource(s: DebianSource, log: Log): Promise<string> {
  const root = cacheRoot();
  const id = hashParts([await tarballIdentity(s)]);
  const name = `${s.package}-${id}`;
  const dir = join(root, 'src', name);
  if (existsSync(join(dir, 'Makefile'))) {
    // Used now: `cache prune` must not take a tree a cached kernel builds modules against.
    await touchEntry(dir);
    return dir;
  }
  return withLock(
    join(root, 'locks'),
    `src-${name}`,
    async () => {
      if (existsSync(join(dir, 'Makefile'))) return dir;
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      log.info(`  extracting ${s.tarball}`);
      await runLogged('tar', ['-xf', s.tarball, '-C', tmp, '--strip-components=1'], {
        log: join(tmp, '..', `extract-${id}.log`),
        fails: 'INFRA',
        phase: `extracting ${s.tarball}`,
        timeoutMs: 10 * 60_000,
      });
      await rename(tmp, dir);
      return dir;
    },
    lockWait(log, `the extraction of ${s.tarball}`),
    stopping.signal,
  );
}

export interface GitTree {
  /** The shared clone, checked out at the commit while the lock is held. */
  src: string;
  /** The persistent build directory for this repository and arch. */
  out: string;
  lockName: string;
}

/** The build directory's name inside a git clone (checkouts leave untracked directories alone). */
const GIT_BUILD_DIR = '.kharness-build';

export function gitTreeFor(src: GitSource, arch: string): GitTree {
  const id = `${hashParts([src.repo])}-${arch}`;
  const base = join(cacheRoot(), 'git', id);
  // Inside the clone, one level down: Kbuild then names the tree `..`, so the
  // compiler command lines match the catalog's builds of the same release, and
  // ccache serves whatever of them has the same config (see buildKernel).
  return { src: join(base, 'src'), out: join(base, 'src', GIT_BUILD_DIR), lockName: `git-${id}` };
}

/** Runs fn with the shared clone checked out at commit (cloning it the first time). */
export async function withGitTree<T>(src: GitSource, arch: string, commit: string, log: Log, fn: (t: GitTree) => Promise<T>): Promise<T> {
  const t = gitTreeFor(src, arch);
  return withLock(
    join(cacheRoot(), 'locks'),
    t.lockName,
    async () => {
      const glog = join(t.src, '..', 'git.log');
      await mkdir(join(t.src, '..'), { recursive: true });
      if (!existsSync(join(t.src, '.git'))) {
        await rm(t.src, { recursive: true, force: true });
        log.info(`  cloning ${src.repo} (shared: objects are borrowed, the repository is not changed)`);
        await runLogged('git', ['clone', '--shared', '--no-checkout', '--quiet', src.repo, t.src], {
          log: glog,
          fails: 'INFRA',
          phase: `git clone ${src.repo}`,
          timeoutMs: 10 * 60_000,
        });
      }
      // Objects of new commits are visible through the alternates file; refs are not needed.
      await runLogged('git', ['-C', t.src, '-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--force', '--detach', commit], {
        log: glog,
        fails: 'INFRA',
        phase: `git checkout ${commit.slice(0, 12)}`,
        timeoutMs: 10 * 60_000,
      });
      if (!existsSync(t.out)) {
        // The build directory of the layout before GIT_BUILD_DIR: nothing names it any more.
        await rm(join(t.src, '..', 'build'), { recursive: true, force: true });
        await mkdir(t.out, { recursive: true });
      }
      return fn(t);
    },
    lockWait(log, `the git tree of ${src.repo} for ${arch}`),
    stopping.signal,
  );
}
