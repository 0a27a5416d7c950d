/**
 * Debian's archive as seen through apt, for any architecture: package lists,
 * versions and downloads, never an install. The host's own architecture uses
 * the host's apt lists; a foreign one gets an apt state of its own under the
 * cache (lists refreshed daily), so the host's dpkg and apt configuration stay
 * as they are.
 */
import { existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot, debCacheDir } from '../paths.ts';
import type { Log } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';

let hostArch: string | undefined;
export async function hostDebianArch(): Promise<string> {
  hostArch ??= (await capture('dpkg', ['--print-architecture'])).trim();
  return hostArch;
}

/** apt-get / apt-cache options for a Debian architecture: none for the host's, a state of its own for a foreign one. */
export async function aptOptions(debianArch: string, log: Log): Promise<string[]> {
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

/** Names of the packages whose names match an extended regular expression. */
export async function searchNames(regex: string, debianArch: string, log: Log): Promise<string[]> {
  const opts = await aptOptions(debianArch, log);
  let out: string;
  try {
    out = await capture('apt-cache', [...opts, 'search', '--names-only', regex]);
  } catch (e) {
    throw new KharnessError('INFRA', `apt-cache search failed for ${debianArch}`, 'Run `apt-get update` and try again.', String(e));
  }
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
}

/** Each package's candidate version ("6.1.192-2"), from `apt-cache policy`. */
export async function candidateVersions(pkgs: string[], debianArch: string, log: Log): Promise<Map<string, string>> {
  if (!pkgs.length) return new Map();
  const opts = await aptOptions(debianArch, log);
  const out = await capture('apt-cache', [...opts, 'policy', ...pkgs]).catch(() => '');
  return new Map([...out.matchAll(/^(\S+?)(?::\w+)?:\n\s+Installed: .*\n\s+Candidate: (\S+)/gm)].map((m) => [m[1]!, m[2]!]));
}

/**
 * Downloads packages (`name` or `name=version`) into dir; a failure is an infrastructure error.
 * With a shared download directory (debCacheDir), apt downloads into that one instead, where it
 * skips a .deb that is already there with the hash its lists name, and the packages are copied
 * from it into dir.
 */
export async function download(pkgs: string[], dir: string, debianArch: string, logFile: string, log: Log): Promise<void> {
  const opts = await aptOptions(debianArch, log);
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
