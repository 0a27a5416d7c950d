/**
 * Debian's archive as seen through apt, for any architecture: package lists,
 * versions and downloads, never an install. Two views of it:
 * - `guest`: the guest's userspace (busybox, dropbear and their libraries),
 *   from the host's own suites (Debian 12): the host's architecture uses the
 *   host's apt lists, a foreign one an apt state of its own under the cache.
 * - `kernels`: every suite that has a kernel series (KERNEL_SUITES, bullseye
 *   to experimental), always through an apt state of kharness's own under the
 *   cache, with its own sources list and no preferences: the host's apt
 *   sources, lists and dpkg state are never read or written. A suite that
 *   cannot be reached is an infrastructure error naming it.
 * Lists are refreshed daily.
 */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot, debCacheDir } from '../paths.ts';
import { fileIdentity, hostAptIdentity, hostFact, toolIdentity, toolOutput } from '../util/facts.ts';
import type { Log } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';

let hostArch: string | undefined;
export async function hostDebianArch(): Promise<string> {
  hostArch ??= (await toolOutput(cacheRoot(), 'dpkg', ['--print-architecture'])).trim();
  return hostArch;
}

export type AptView = 'guest' | 'kernels';

/** A suite of Debian's archive: where it is, and what kharness reads it for. */
export interface Suite {
  suite: string;
  uri: string;
}

const DEBIAN = 'http://deb.debian.org/debian';
const SECURITY = 'http://deb.debian.org/debian-security';
/**
 * The suites the `kernels` view reads, oldest first: each kernel series
 * lives in one or more of them (5.10 in bullseye(-security), 6.1 in
 * bookworm(-security), 6.12 in trixie, bookworm-security and -backports, 7.2
 * in sid and trixie-backports, 7.3-rc in experimental); which suite a version
 * comes from is read from apt, never assumed. $KHARNESS_DEBIAN_MIRROR and
 * $KHARNESS_DEBIAN_SECURITY_MIRROR replace the two addresses.
 */
export const KERNEL_SUITES: readonly Suite[] = [
  { suite: 'bullseye', uri: DEBIAN },
  { suite: 'bullseye-security', uri: SECURITY },
  { suite: 'bookworm', uri: DEBIAN },
  { suite: 'bookworm-security', uri: SECURITY },
  { suite: 'bookworm-backports', uri: DEBIAN },
  { suite: 'trixie', uri: DEBIAN },
  { suite: 'trixie-backports', uri: DEBIAN },
  { suite: 'sid', uri: DEBIAN },
  { suite: 'experimental', uri: DEBIAN },
];

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The sources list of the kernels view: one line per suite, main only, signed by Debian's archive keyring. */
export function kernelSourcesList(env: NodeJS.ProcessEnv = process.env, suites: readonly Suite[] = KERNEL_SUITES): string {
  const uri = (s: Suite) =>
    s.uri === SECURITY
      ? (env.KHARNESS_DEBIAN_SECURITY_MIRROR ?? SECURITY)
      : s.uri === DEBIAN
        ? (env.KHARNESS_DEBIAN_MIRROR ?? DEBIAN)
        : s.uri;
  return suites.map((s) => `deb [signed-by=${KEYRING}] ${uri(s)} ${s.suite} main\n`).join('');
}

/**
 * The suites whose package lists apt did not fetch, from the names of the
 * files in a lists directory (`..._dists_SUITE_main_binary-ARCH_Packages...`).
 */
export function missingSuites(listFiles: readonly string[], debianArch: string, suites: readonly Suite[] = KERNEL_SUITES): string[] {
  return suites
    .filter((s) => !listFiles.some((f) => f.includes(`_dists_${s.suite}_main_binary-${debianArch}_Packages`)))
    .map((s) => s.suite);
}

/** apt-get / apt-cache options for a Debian architecture and view (see the file's header). */
export async function aptOptions(debianArch: string, log: Log, view: AptView = 'guest'): Promise<string[]> {
  if (view === 'kernels') return kernelsState(debianArch, log);
  if (debianArch === (await hostDebianArch())) return [];
  const root = cacheRoot();
  const state = join(root, 'apt', debianArch);
  const opts = [
    `-o`,
    `APT::Architecture=${debianArch}`,
    `-o`,
    `APT::Architectures=${debianArch}`,
    `-o`,
    `Dir::State=${join(state, 'state')}`,
    `-o`,
    `Dir::State::status=${join(state, 'state', 'status')}`,
    `-o`,
    `Dir::Cache=${join(state, 'cache')}`,
    `-o`,
    `Debug::NoLocking=1`,
  ];
  await withLock(join(root, 'locks'), `apt-${debianArch}`, async () => {
    // Refresh daily: the archive drops superseded .debs, and stale lists would name them.
    const stamp = join(state, 'state', 'lists', 'updated');
    if (existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 24 * 3600_000) return;
    await mkdir(join(state, 'state', 'lists', 'partial'), { recursive: true });
    await mkdir(join(state, 'cache', 'archives', 'partial'), { recursive: true });
    await writeFile(join(state, 'state', 'status'), '');
    log.info(`  fetching Debian package lists for ${debianArch}`);
    await runLogged('apt-get', [...opts, 'update'], {
      log: join(state, 'apt.log'),
      fails: 'INFRA',
      phase: `apt-get update (${debianArch})`,
      timeoutMs: 10 * 60_000,
    });
    await writeFile(join(state, 'state', 'lists', 'updated'), new Date().toISOString());
  });
  return opts;
}

/** The kernels view's apt state for an arch: its own sources, lists, cache and (empty) dpkg status. */
async function kernelsState(debianArch: string, log: Log): Promise<string[]> {
  const root = cacheRoot();
  const state = join(root, 'apt', `kernels-${debianArch}`);
  const lists = join(state, 'state', 'lists');
  const sources = join(state, 'sources.list');
  // The host's sources.list.d and preferences are not read: these name an empty directory instead.
  const empty = join(state, 'empty');
  const opts = [
    '-o',
    `APT::Architecture=${debianArch}`,
    '-o',
    `APT::Architectures=${debianArch}`,
    '-o',
    `Dir::State=${join(state, 'state')}`,
    '-o',
    `Dir::State::status=${join(state, 'state', 'status')}`,
    '-o',
    `Dir::Cache=${join(state, 'cache')}`,
    // A binary cache of its own (a container's apt config may turn it off): without it each apt-cache call parses every list.
    '-o',
    'Dir::Cache::pkgcache=pkgcache.bin',
    '-o',
    'Dir::Cache::srcpkgcache=srcpkgcache.bin',
    '-o',
    `Dir::Etc::sourcelist=${sources}`,
    '-o',
    `Dir::Etc::sourceparts=${empty}`,
    '-o',
    `Dir::Etc::preferences=${join(empty, 'none')}`,
    '-o',
    `Dir::Etc::preferencesparts=${empty}`,
    '-o',
    'Debug::NoLocking=1',
  ];
  const text = kernelSourcesList();
  await withLock(join(root, 'locks'), `apt-kernels-${debianArch}`, async () => {
    const stamp = join(lists, 'updated');
    const same = existsSync(sources) && (await readFile(sources, 'utf8')) === text;
    if (same && existsSync(stamp) && Date.now() - statSync(stamp).mtimeMs < 24 * 3600_000) return;
    await mkdir(join(lists, 'partial'), { recursive: true });
    await mkdir(join(state, 'cache', 'archives', 'partial'), { recursive: true });
    await mkdir(empty, { recursive: true });
    await writeFile(join(state, 'state', 'status'), '');
    await writeFile(sources, text);
    log.info(`  fetching Debian package lists for ${debianArch} (${KERNEL_SUITES.map((s) => s.suite).join(', ')})`);
    const alog = join(state, 'apt.log');
    await runLogged('apt-get', [...opts, 'update'], {
      log: alog,
      fails: 'INFRA',
      phase: `apt-get update (${debianArch}: ${KERNEL_SUITES.map((s) => s.suite).join(', ')})`,
      timeoutMs: 10 * 60_000,
    });
    // apt-get update only warns about a suite it could not fetch: name it.
    const missing = missingSuites(await readdir(lists), debianArch);
    if (missing.length)
      throw new KharnessError(
        'INFRA',
        `Debian's archive could not be reached for ${missing.join(', ')} (${debianArch})`,
        `Check the network or the mirror ($KHARNESS_DEBIAN_MIRROR), then run again; apt's log: ${alog}`,
      );
    await writeFile(stamp, new Date().toISOString());
  });
  return opts;
}

/** What apt's answers depend on, for these options: its lists, dpkg's status and the sources, of the host or of kharness's own state. */
export function aptStateIdentity(opts: readonly string[]): string[] {
  const opt = (name: string) => opts.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  const state = opt('Dir::State');
  if (!state) return [toolIdentity('apt-cache'), ...hostAptIdentity()];
  return [
    toolIdentity('apt-cache'),
    fileIdentity(join(state, 'lists')),
    fileIdentity(join(state, 'lists', 'updated')),
    fileIdentity(opt('Dir::State::status') ?? join(state, 'status')),
    fileIdentity(opt('Dir::Etc::sourcelist') ?? '/etc/apt/sources.list'),
  ];
}

/** `apt-cache ARGS` with these options, answered from the host-fact cache while the apt state it reads is unchanged. */
export function aptCache(opts: readonly string[], args: readonly string[]): Promise<string> {
  const all = [...opts, ...args];
  return hostFact(cacheRoot(), `apt-cache ${all.join(' ')}`, aptStateIdentity(opts), () => capture('apt-cache', all));
}

/** Names of the packages whose names match an extended regular expression. */
export async function searchNames(regex: string, debianArch: string, log: Log, view: AptView = 'guest'): Promise<string[]> {
  const opts = await aptOptions(debianArch, log, view);
  let out: string;
  try {
    out = await aptCache(opts, ['search', '--names-only', regex]);
  } catch (e) {
    throw new KharnessError('INFRA', `apt-cache search failed for ${debianArch}`, 'Run `apt-get update` and try again.', String(e));
  }
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Each package's candidate version ("6.1.192-2"), from `apt-cache policy`. */
export async function candidateVersions(
  pkgs: string[],
  debianArch: string,
  log: Log,
  view: AptView = 'guest',
): Promise<Map<string, string>> {
  return new Map([...(await candidates(pkgs, debianArch, log, view))].map(([p, c]) => [p, c.version]));
}

/** Each package's candidate version and the suite it comes from ("sid", "bookworm-security"). */
export async function candidates(
  pkgs: string[],
  debianArch: string,
  log: Log,
  view: AptView = 'guest',
): Promise<Map<string, { version: string; suite: string }>> {
  if (!pkgs.length) return new Map();
  const opts = await aptOptions(debianArch, log, view);
  return parsePolicy(await aptCache(opts, ['policy', ...pkgs]).catch(() => ''));
}

/**
 * `apt-cache policy` output → each package's candidate and the suite of the
 * first source listed under that version in its version table.
 */
export function parsePolicy(out: string): Map<string, { version: string; suite: string }> {
  const result = new Map<string, { version: string; suite: string }>();
  for (const block of out.split(/^(?=\S)/m)) {
    const head = /^(\S+?)(?::\w+)?:\n\s+Installed: .*\n\s+Candidate: (\S+)/.exec(block);
    if (!head || head[2] === '(none)') continue;
    const version = head[2]!;
    const lines = block.split('\n');
    const at = lines.findIndex((l) => new RegExp(`^\\s+(?:\\*\\*\\* )?${version.replace(/[.+~^$]/g, '\\$&')} -?\\d+$`).test(l));
    const src = at >= 0 ? /^\s+-?\d+ \S+ ([^/\s]+)\//.exec(lines[at + 1] ?? '') : null;
    result.set(head[1]!, { version, suite: src?.[1] ?? '?' });
  }
  return result;
}

/**
 * Downloads packages (`name` or `name=version`) into dir; a failure is an infrastructure error.
 * With a shared download directory (debCacheDir), apt downloads into that one instead, where it
 * skips a .deb that is already there with the hash its lists name, and the packages are copied
 * from it into dir.
 */
export async function download(
  pkgs: string[],
  dir: string,
  debianArch: string,
  logFile: string,
  log: Log,
  view: AptView = 'guest',
): Promise<void> {
  const opts = await aptOptions(debianArch, log, view);
  await mkdir(dir, { recursive: true });
  const shared = debCacheDir();
  const fetch = (cwd: string) =>
    runLogged('apt-get', [...opts, 'download', ...pkgs], {
      cwd,
      log: logFile,
      fails: 'INFRA',
      phase: `downloading ${pkgs.join(', ')} (${debianArch})`,
      timeoutMs: 15 * 60_000,
    });
  if (!shared) return fetch(dir);
  // The packages' file names: --print-uris lists `'URI' FILE SIZE HASH` for each one not yet in its working directory.
  const files = (await capture('apt-get', [...opts, 'download', '--print-uris', ...pkgs], { cwd: dir })).split('\n').flatMap((l) => {
    const m = /^'[^']*' (\S+) /.exec(l);
    return m ? [m[1]!] : [];
  });
  await mkdir(shared, { recursive: true });
  // One apt at a time in it: a second one would take a half-written .deb for a bad one.
  await withLock(shared, 'download', () => fetch(shared));
  for (const f of files) await copyFile(join(shared, f), join(dir, f));
}

/**
 * Unpacks every .deb in `debs` into `root`, in name order, never installing
 * them (a failure is an infrastructure error); returns the files' names.
 */
export async function unpackDebs(debs: string, root: string, logFile: string, timeoutMs = 5 * 60_000): Promise<string[]> {
  await mkdir(root, { recursive: true });
  const files = (await readdir(debs)).filter((x) => x.endsWith('.deb')).sort();
  for (const f of files)
    await runLogged('dpkg-deb', ['-x', join(debs, f), root], { log: logFile, fails: 'INFRA', phase: `unpacking ${f}`, timeoutMs });
  return files;
}
