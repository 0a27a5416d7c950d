/**
 * Host facts (a compiler's or QEMU's version, an installed package's version,
 * apt's candidate versions) kept across runs under the cache root, a file each,
 * each with the key it depends on: the identity (path, size, times, inode) of
 * the files that decide it, such as the binary, dpkg's status file or apt's
 * lists. A fact is asked of the host again only when its key changed, so a
 * cached run asks nothing, and a stale entry never answers: upgrading the
 * compiler, installing or removing a package or refreshing apt changes a file
 * of its key.
 */
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashParts } from './hash.ts';
import { whichSync } from './host.ts';
import { capture } from './proc.ts';

export interface FactEntry {
  key: string;
  value: string;
}
export type Facts = Record<string, FactEntry>;

/** Pure: the cached value, only if it was found under the same key. */
export function lookupFact(facts: Facts, name: string, key: string): string | undefined {
  const e = facts[name];
  return e && e.key === key ? e.value : undefined;
}

/** A file's identity: what changes when it is rewritten, replaced or removed. */
export function fileIdentity(path: string): string {
  const st = statSync(path, { throwIfNoEntry: false });
  return st ? `${path} ${st.size} ${st.mtimeMs} ${st.ctimeMs} ${st.ino}` : `${path} missing`;
}

/** A tool's identity: the file PATH finds for it, through its symlinks (gcc → gcc-12). */
export function toolIdentity(tool: string): string {
  const p = whichSync(tool);
  if (!p) return `${tool} not on PATH`;
  return `${tool}=${fileIdentity(realpathSync(p))}`;
}

/** A directory's files' identities, one level down (apt's sources.list.d, preferences.d). */
export function dirIdentity(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [`${dir} missing`];
  }
  return [fileIdentity(dir), ...names.map((n) => fileIdentity(join(dir, n)))];
}

export const DPKG_STATUS = '/var/lib/dpkg/status';

/** The host's apt state: its package lists, dpkg's status (Installed:) and its configuration (sources, pins). */
export function hostAptIdentity(): string[] {
  return [
    fileIdentity('/var/lib/apt/lists'),
    fileIdentity(DPKG_STATUS),
    fileIdentity('/etc/apt/sources.list'),
    fileIdentity('/etc/apt/preferences'),
    ...dirIdentity('/etc/apt/sources.list.d'),
    ...dirIdentity('/etc/apt/preferences.d'),
    ...dirIdentity('/etc/apt/apt.conf.d'),
  ];
}

/** One file per fact: a run reads only the facts it asks (apt's candidate lists are tens of KB each), and writers never race on one file. */
const DIR = 'host-facts';
const loaded = new Map<string, FactEntry | null>();

/** A fact's file: its name hashed (the name is inside too, so two names of one hash never answer for each other). */
export function factFile(root: string, name: string): string {
  return join(root, DIR, `${hashParts([name])}.json`);
}

function read(root: string, name: string): FactEntry | undefined {
  const file = factFile(root, name);
  if (loaded.has(file)) return loaded.get(file) ?? undefined;
  let e: FactEntry | undefined;
  try {
    const f = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; key?: unknown; value?: unknown };
    if (f && f.name === name && typeof f.key === 'string' && typeof f.value === 'string') e = { key: f.key, value: f.value };
  } catch {
    // Missing or damaged: asked again, and the file written anew.
  }
  loaded.set(file, e ?? null);
  return e;
}

/** Forgets what this process read (tests: a new process). */
export function forgetFacts(): void {
  loaded.clear();
}

/**
 * The fact `name`, from the cache under root if it was stored with the same
 * key (`dependsOn`, joined), else computed and stored. A compute that throws
 * stores nothing. Each fact is its own file, written aside and renamed.
 */
export async function hostFact(root: string, name: string, dependsOn: readonly string[], compute: () => Promise<string>): Promise<string> {
  const key = dependsOn.join('\n');
  const e = read(root, name);
  const hit = e ? lookupFact({ [name]: e }, name, key) : undefined;
  if (hit !== undefined) return hit;
  const value = await compute();
  const file = factFile(root, name);
  loaded.set(file, { key, value });
  try {
    mkdirSync(join(root, DIR), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ name, key, value })}\n`);
    renameSync(tmp, file);
  } catch {
    // A cache root that cannot be written costs the next run the same question, nothing more.
  }
  return value;
}

/** A tool's output for these arguments (`gcc --version`), asked again only when the tool's file changes. */
export function toolOutput(root: string, tool: string, args: readonly string[]): Promise<string> {
  return hostFact(root, [tool, ...args].join(' '), [toolIdentity(tool)], () => capture(tool, [...args]));
}
