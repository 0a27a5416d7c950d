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
import { candidates, download, hostDebianArch, KERNEL_SUITES, unpackDebs } from '../apt/apt.ts';
import { type CacheKind, touchEntry, withLock } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { type Log, lockWait } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';
import type { CatalogKernel, DebianSource, GitSource } from './catalog.ts';
import { installedVersion } from './distro.ts';

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

/**
 * A Debian source resolved: the package version it is (the version whose
 * config gives the allocator options) and what identifies its tarball's
 * content, part of every cache key built from it. A host tarball is known by
 * its file; a fetched one by its package version, so nothing is downloaded
 * for a kernel that is already cached.
 */
export interface SourceIdentity {
  version: string;
  identity: string;
}

export async function sourceIdentity(s: DebianSource, log: Log): Promise<SourceIdentity> {
  if (!s.tarball) {
    const version = await fetchedVersion(s, log);
    return { version, identity: `${s.type}:${s.package}=${version}` };
  }
  const st = await stat(s.tarball).catch(() => undefined);
  if (!st) {
    throw new KharnessError(
      'HOST_TOOL',
      `kernel source ${s.tarball} is missing.`,
      `Install it with: sudo apt-get install ${s.package}  (or run ./setup.sh)`,
    );
  }
  return { version: await installedVersion(s.package), identity: `${s.type}:${s.tarball}:${st.size}:${Math.floor(st.mtimeMs)}` };
}

/** A fetched source's version: the pinned one, or the candidate of kharness's own apt state over every suite. */
async function fetchedVersion(s: DebianSource, log: Log): Promise<string> {
  if (s.version) return s.version;
  const arch = await hostDebianArch();
  const found = (await candidates([s.package], arch, log, 'kernels')).get(s.package);
  if (!found) {
    throw new KharnessError(
      'INFRA',
      `Debian's archive has no ${s.package} in ${KERNEL_SUITES.map((x) => x.suite).join(', ')}`,
      'Check the package name in kernels/catalog.yaml against `kharness kernels` (the series the archive has).',
    );
  }
  return found.version;
}

/**
 * The tarball of a source: the host's file, or the one inside the package's
 * .deb, fetched once per version into the cache (`src-debs/`).
 */
async function sourceTarball(s: DebianSource, version: string, log: Log): Promise<string> {
  if (s.tarball) return s.tarball;
  const root = cacheRoot();
  const dir = join(root, 'src-debs', `${s.package}_${version}`.replace(/[^A-Za-z0-9.+_~-]/g, '_'));
  const file = join(dir, `${s.package}.tar.xz`);
  if (existsSync(file)) return file;
  return withLock(
    join(root, 'locks'),
    `src-deb-${s.package}`,
    async () => {
      if (existsSync(file)) return file;
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      try {
        const flog = join(tmp, 'fetch.log');
        log.info(`  fetching ${s.package}=${version} from Debian's archive`);
        await download([`${s.package}=${version}`], join(tmp, 'debs'), await hostDebianArch(), flog, log, 'kernels');
        await unpackDebs(join(tmp, 'debs'), join(tmp, 'root'), flog, 10 * 60_000);
        const inside = join(tmp, 'root', 'usr', 'src', `${s.package}.tar.xz`);
        if (!existsSync(inside))
          throw new KharnessError(
            'INFRA',
            `${s.package}=${version} has no usr/src/${s.package}.tar.xz`,
            'Debian may have changed the package layout.',
          );
        await mkdir(join(tmp, 'out'));
        await rename(inside, join(tmp, 'out', `${s.package}.tar.xz`));
        await rm(dir, { recursive: true, force: true });
        await rename(join(tmp, 'out'), dir);
        return file;
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    },
    lockWait(log, `the download of ${s.package}`),
    stopping.signal,
  );
}

/**
 * Where each catalog kernel's Debian source comes from: the host's package, or
 * the version and suite kharness's apt state fetches it from
 * ("linux-source-7.2 7.2.13-1, sid").
 */
export async function sourceOrigins(catalog: readonly CatalogKernel[], log: Log): Promise<Map<string, string>> {
  const fetched = [...new Set(catalog.flatMap((k) => (k.source.type === 'debian-source' && !k.source.tarball ? [k.source.package] : [])))];
  const found = await candidates(fetched, await hostDebianArch(), log, 'kernels');
  const out = new Map<string, string>();
  for (const k of catalog) {
    if (k.source.type !== 'debian-source') continue;
    const s = k.source;
    const c = found.get(s.package);
    out.set(
      k.name,
      s.tarball
        ? `${s.package}, host`
        : `${s.package} ${s.version ?? c?.version ?? '?'}, ${s.version ? 'pinned' : (c?.suite ?? 'not in the archive')}`,
    );
  }
  return out;
}

/** Source packages' tarballs fetched from the archive, one directory per package version. */
export const SOURCE_DEB_CACHE: CacheKind = {
  kind: 'src-debs',
  label: (_m, key) => key,
  complete: (dir) => existsSync(join(dir, `${dir.split('/').pop()!.split('_')[0]}.tar.xz`)),
};

/** Extracted source trees: whole once their top-level Makefile is there (the extraction renames it in). */
export const SOURCE_CACHE: CacheKind = { kind: 'src', label: (_m, key) => key, complete: (dir) => existsSync(join(dir, 'Makefile')) };

/** Extracts a Debian tarball once per source identity. */
export async function extractDebianSource(s: DebianSource, id: SourceIdentity, log: Log): Promise<string> {
  const root = cacheRoot();
  const name = `${s.package}-${hashParts([id.identity])}`;
  const dir = join(root, 'src', name);
  if (existsSync(join(dir, 'Makefile'))) {
    // Used now: `cache prune` must not take a tree a cached kernel builds modules against.
    await touchEntry(dir);
    return dir;
  }
  const tarball = await sourceTarball(s, id.version, log);
  return withLock(
    join(root, 'locks'),
    `src-${name}`,
    async () => {
      if (existsSync(join(dir, 'Makefile'))) return dir;
      const tmp = `${dir}.tmp-${process.pid}`;
      await rm(tmp, { recursive: true, force: true });
      await mkdir(tmp, { recursive: true });
      log.info(`  extracting ${tarball}`);
      await runLogged('tar', ['-xf', tarball, '-C', tmp, '--strip-components=1'], {
        log: join(tmp, '..', `extract-${name}.log`),
        fails: 'INFRA',
        phase: `extracting ${tarball}`,
        timeoutMs: 10 * 60_000,
      });
      await rename(tmp, dir);
      return dir;
    },
    lockWait(log, `the extraction of ${tarball}`),
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
