/**
 * Debian's prebuilt kernels: a build-free fast path. The image, its headers
 * and kbuild come from the archive with `apt-get download` (never
 * installed), the probe module builds against the headers, and the modules a
 * guest needs for its network (virtio_net is modular in Debian's configs) go
 * into the initramfs in dependency order. Package names carry the ABI number,
 * which Debian bumps and then drops from the archive: `{ABI}` in the catalog
 * resolves to the newest one the archive has.
 */
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KharnessError } from '../errors.ts';
import type { Log } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';
import type { DebianImage } from './catalog.ts';

/** The newest ABI number the archive has for the image pattern (linux-image-6.1.0-{ABI}-cloud-amd64-unsigned). */
export async function resolveAbi(src: DebianImage): Promise<string> {
  const re = `^${src.image.replace(/[.+]/g, '\\$&').replace('{ABI}', '[0-9]+')}$`;
  const names = (await capture('apt-cache', ['search', '--names-only', re]).catch(() => ''))
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter(Boolean);
  const abis = names
    .map((n) => new RegExp(re.replace('[0-9]+', '([0-9]+)')).exec(n)?.[1])
    .filter(Boolean)
    .map(Number);
  if (!abis.length) {
    throw new KharnessError(
      'HOST_TOOL',
      `no package matching ${src.image} in the apt lists`,
      'Run `apt-get update` (Debian 12 archive) and try again.',
    );
  }
  return String(Math.max(...abis));
}

export function packagesFor(src: DebianImage, abi: string): string[] {
  return [src.image, ...src.packages].map((p) => p.replace('{ABI}', abi));
}

/** Versions of exactly what will be downloaded: part of the cache key. */
export async function packageVersions(pkgs: string[]): Promise<string> {
  const out = await capture('apt-cache', ['policy', ...pkgs]).catch(() => '');
  return [...out.matchAll(/^(\S+):\n\s+Installed: .*\n\s+Candidate: (\S+)/gm)].map((m) => `${m[1]}=${m[2]}`).join(' ');
}

/** Modules in load order: each one's dependencies (modinfo -F depends) before it. */
export async function moduleLoadOrder(modDir: string, wanted: string[]): Promise<string[]> {
  const index = new Map<string, string>();
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith('.ko')) index.set(e.name.slice(0, -3).replace(/-/g, '_'), join(d, e.name));
    }
  };
  await walk(modDir);
  const order: string[] = [];
  const visit = async (name: string, chain: string[]): Promise<void> => {
    const n = name.replace(/-/g, '_');
    if (order.includes(index.get(n) ?? '')) return;
    const path = index.get(n);
    if (!path)
      throw new KharnessError('BUILD', `module ${name} is not in ${modDir}`, chain.length ? `needed by ${chain.join(' <- ')}` : undefined);
    const deps = (await capture('modinfo', ['-F', 'depends', path])).trim();
    for (const d of deps ? deps.split(',') : []) await visit(d, [n, ...chain]);
    if (!order.includes(path)) order.push(path);
  };
  for (const w of wanted) await visit(w, []);
  return order;
}

export interface Unpacked {
  image: string;
  config: string;
  headers: string;
  release: string;
  guestModules: string[];
}

export async function fetchPrebuilt(src: DebianImage, abi: string, dir: string, log: Log): Promise<Unpacked> {
  const debs = join(dir, 'debs');
  const root = join(dir, 'root');
  const alog = join(dir, 'build.log');
  const pkgs = packagesFor(src, abi);
  log.info(`  downloading ${pkgs.join(', ')}`);
  await runLogged('mkdir', ['-p', debs, root], { log: alog, fails: 'INFRA', phase: 'prebuilt kernel', timeoutMs: 10_000 });
  await runLogged('apt-get', ['download', ...pkgs], {
    cwd: debs,
    log: alog,
    fails: 'INFRA',
    phase: 'downloading the prebuilt kernel',
    timeoutMs: 15 * 60_000,
  });
  for (const f of (await readdir(debs)).filter((x) => x.endsWith('.deb'))) {
    await runLogged('dpkg-deb', ['-x', join(debs, f), root], { log: alog, fails: 'INFRA', phase: `unpacking ${f}`, timeoutMs: 5 * 60_000 });
  }
  const release = (await readdir(join(root, 'lib', 'modules')))[0]!;
  const headers = join(root, 'usr', 'src', `linux-headers-${release}`);
  // The headers' Makefile includes the common headers by absolute path (/usr/src/...): point it here.
  const common = (await readdir(join(root, 'usr', 'src'))).find((d) => d.startsWith('linux-headers-') && d.endsWith('-common'));
  if (!common || !existsSync(headers)) throw new KharnessError('BUILD', `the headers for ${release} are incomplete in ${root}`);
  await writeFile(join(headers, 'Makefile'), `include ${join(root, 'usr', 'src', common, 'Makefile')}\n`);
  return {
    image: join(root, 'boot', `vmlinuz-${release}`),
    config: join(root, 'boot', `config-${release}`),
    headers,
    release,
    guestModules: await moduleLoadOrder(join(root, 'lib', 'modules', release), src.guest_modules ?? []),
  };
}
