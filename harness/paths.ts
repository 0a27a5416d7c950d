/** Where kharness keeps things: the project tree and the cache outside it. */
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The parent of this file's folder: of harness/ when run from source (vitest, tsx), of dist/ when compiled (bin/kharness.js). */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const KERNELS_DIR = join(PROJECT_ROOT, 'kernels');
export const MODULES_DIR = join(PROJECT_ROOT, 'modules');
export const SCENARIOS_DIR = join(PROJECT_ROOT, 'scenarios');
/** Files copied into every guest (its /init): read at run time, so they ship beside dist/. */
export const GUEST_FILES_DIR = join(PROJECT_ROOT, 'harness', 'guest', 'files');

/** $KHARNESS_CACHE, else $XDG_CACHE_HOME/kharness, else ~/.cache/kharness. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KHARNESS_CACHE) return resolve(env.KHARNESS_CACHE);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'kharness');
}

/**
 * $KHARNESS_DEB_CACHE: a directory Debian package downloads go through, for
 * caches that cannot share one another's (CI jobs with a HOME each); unset, none.
 */
export function debCacheDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.KHARNESS_DEB_CACHE ? resolve(env.KHARNESS_DEB_CACHE) : undefined;
}
