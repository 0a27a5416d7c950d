/**
 * The compiler a module is built with against Debian's prebuilt headers.
 *
 * Debian builds each kernel with its suite's compiler (5.10: gcc-10 of
 * bullseye, 6.1 and 6.12+deb12: gcc-12 of bookworm, 7.2+deb13: gcc-14 of
 * trixie, 7.2.13+deb14 and 7.3-rc: gcc-16 of sid), and its kbuild tools link
 * against that suite's glibc (7.x: >= 2.38; a Debian 12 host has 2.36). The
 * headers' .kernelvariables turn Kbuild's own compiler check off
 * (DEBIAN_KERNEL_NO_CC_VERSION_CHECK), so a module compiled with another gcc
 * would build silently, with flags Kconfig chose for the other compiler
 * (CONFIG_CC_HAS_*, CONFIG_GCC_VERSION): the headers would not complain and
 * the result could mis-run. So kharness checks it itself:
 * - the host's gcc is used when its version is the kernel's CONFIG_GCC_VERSION;
 * - else a toolchain root: the archive's gcc of exactly that version (the
 *   suite whose gcc-N has the Debian revision CONFIG_CC_VERSION_TEXT names),
 *   with make, a shell, coreutils and the headers' kbuild package, resolved
 *   from kharness's own apt state with that suite preferred, unpacked into the
 *   cache (never installed), and run inside it with chroot in a private mount
 *   namespace, so every binary runs on the root's own loader and glibc;
 * - either way the compiler's version is checked against CONFIG_GCC_VERSION
 *   before the build, and the built module's vermagic against the kernel's
 *   release after it (module/build.ts): a mismatch is a build error, never a
 *   module the kernel refuses at insmod or runs with the wrong assumptions.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { aptOptions, hostDebianArch, unpackDebs } from '../apt/apt.ts';
import { type ArchSpec, isNative } from '../arch/arches.ts';
import { getOrBuild, missingPaths } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { type Log, lockWait } from '../util/log.ts';
import { capture, runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';

/** What a kernel's config says built it: CONFIG_CC_VERSION_TEXT and CONFIG_GCC_VERSION. */
export interface BuiltWith {
  /** "x86_64-linux-gnu-gcc-16 (Debian 16.2.0-4) 16.2.0" */
  text: string;
  /** 160200 */
  version: number;
  major: number;
  /** "16.2.0-4": the Debian package version in the text, when it names one. */
  debian?: string;
}

/** Pure: the compiler a kernel config names; undefined for a compiler other than gcc (clang: none of Debian's). */
export function builtWith(config: string): BuiltWith | undefined {
  const text = /^CONFIG_CC_VERSION_TEXT="(.*)"$/m.exec(config)?.[1];
  const version = Number(/^CONFIG_GCC_VERSION=(\d+)$/m.exec(config)?.[1] ?? 0);
  if (!text || !version) return undefined;
  return { text, version, major: Math.floor(version / 10000), debian: /\(Debian ([^)\s]+)\)/.exec(text)?.[1] };
}

/** Pure: "16.2.0" → 160200, as CONFIG_GCC_VERSION writes it. */
export function gccVersionNumber(dumpfullversion: string): number {
  const [a = 0, b = 0, c = 0] = dumpfullversion.trim().split('.').map(Number);
  return a * 10000 + b * 100 + c;
}

/** Pure: the suite of `apt-cache madison` lines whose version is the one wanted (exact Debian revision first, then the same upstream). */
export function suiteOfVersion(madison: string, want: BuiltWith): { suite: string; version: string } | undefined {
  const rows = madison
    .split('\n')
    .map((l) => l.split('|').map((x) => x.trim()))
    .filter((r) => r.length >= 3)
    .map((r) => ({ version: r[1]!, suite: /\s([^/\s]+)\/main\b/.exec(` ${r[2]}`)?.[1] ?? '' }));
  const exact = want.debian ? rows.find((r) => r.version === want.debian) : undefined;
  const upstream = rows.find((r) => gccVersionNumber(r.version.replace(/-.*$/, '')) === want.version);
  return exact ?? upstream;
}

/** The suite a toolchain root is resolved from: security and backports suites build with their base suite's compiler, experimental with sid's. */
const BASE_SUITE: Readonly<Record<string, string>> = { experimental: 'sid' };
export function baseSuite(suite: string): string {
  return BASE_SUITE[suite] ?? suite.replace(/-(security|backports|updates)$/, '');
}

/** Userland every module build needs inside a root, beside the compiler and the kbuild package. */
const ROOT_PACKAGES = ['make', 'dash', 'bash', 'coreutils', 'sed', 'grep', 'mawk', 'findutils', 'diffutils'];

export interface Toolchain {
  /** The root to chroot into, or undefined: the host's own compiler. */
  root?: string;
  /** The compiler's --version line. */
  compiler: string;
}

/** The compiler command for an arch: gcc-16 natively, aarch64-linux-gnu-gcc-16 across. */
function gccName(arch: ArchSpec, major?: number): string {
  return `${isNative(arch) ? '' : arch.crossPrefix}gcc${major ? `-${major}` : ''}`;
}

/**
 * The toolchain for a module build against a prebuilt kernel's headers (config: their .config,
 * kbuild: the linux-kbuild package their scripts link to).
 */
export async function toolchainFor(config: string, kbuild: string, arch: ArchSpec, log: Log): Promise<Toolchain> {
  const want = builtWith(config);
  const hostGcc = gccName(arch);
  const hostVersion = await capture(hostGcc, ['-dumpfullversion']).catch(() => '');
  if (!want) return { compiler: hostGcc };
  if (hostVersion && gccVersionNumber(hostVersion) === want.version)
    return { compiler: (await capture(hostGcc, ['--version'])).split('\n')[0] ?? hostGcc };
  return toolchainRoot(want, kbuild, arch, log);
}

async function toolchainRoot(want: BuiltWith, kbuild: string, arch: ArchSpec, log: Log): Promise<Toolchain> {
  const host = await hostDebianArch();
  const opts = await aptOptions(host, log, 'kernels');
  const madison = await capture('apt-cache', [...opts, 'madison', `gcc-${want.major}`]).catch(() => '');
  const hit = suiteOfVersion(madison, want);
  const dotted = `${Math.floor(want.version / 10000)}.${Math.floor(want.version / 100) % 100}.${want.version % 100}`;
  if (!hit)
    throw new KharnessError(
      'BUILD',
      `Debian's archive has no gcc ${dotted}, which built this kernel (${want.text})`,
      'A module built with another compiler could mis-run on it: pick another version (kharness kernels).',
    );
  const suite = baseSuite(hit.suite);
  const compilerPkg = isNative(arch) ? `gcc-${want.major}` : `gcc-${want.major}-${arch.crossPrefix.replace(/-$/, '')}`;
  const pkgs = [compilerPkg, kbuild, ...ROOT_PACKAGES];
  const key = hashParts(['toolchain-1', host, suite, String(want.version), ...pkgs]);
  const { meta, hit: cached } = await getOrBuild<{ root: string; compiler: string; packages: string }>(
    cacheRoot(),
    'toolchains',
    key,
    async (dir) => {
      log.info(`  assembling a ${suite} toolchain root (${compilerPkg}, ${kbuild}) for ${want.text}`);
      const debs = join(dir, 'debs');
      const root = join(dir, 'root');
      const alog = join(dir, 'build.log');
      await mkdir(join(debs, 'partial'), { recursive: true });
      await runLogged(
        'apt-get',
        [
          ...opts,
          '-o',
          `Dir::Cache::archives=${debs}`,
          '-o',
          `APT::Default-Release=${suite}`,
          '-o',
          'APT::Install-Recommends=false',
          '-o',
          'APT::Get::Download-Only=true',
          '-y',
          'install',
          ...pkgs,
        ],
        { log: alog, fails: 'INFRA', phase: `downloading a ${suite} toolchain (${pkgs.join(', ')})`, timeoutMs: 20 * 60_000 },
      );
      const files = await unpackDebs(debs, root, alog);
      await rm(debs, { recursive: true, force: true });
      // What maintainer scripts would have made: awk (an alternative), and the mount points a build uses.
      if (!existsSync(join(root, 'usr', 'bin', 'awk'))) await symlink('mawk', join(root, 'usr', 'bin', 'awk'));
      for (const d of ['proc', 'dev', 'tmp']) await mkdir(join(root, d), { recursive: true });
      const tc = { root, compiler: '' };
      const gcc = gccName(arch, want.major);
      const got = (await capture(...inRoot(tc, [], [gcc, '-dumpfullversion']))).trim();
      if (gccVersionNumber(got) !== want.version)
        throw new KharnessError('BUILD', `the ${suite} toolchain's ${gcc} is ${got}, but the kernel was built by ${want.text}`);
      tc.compiler = (await capture(...inRoot(tc, [], [gcc, '--version']))).split('\n')[0] ?? gcc;
      return { ...tc, packages: files.join(' ') };
    },
    {
      check: (m) => missingPaths({ root: m.root }),
      onWait: lockWait(log, `the ${suite} toolchain`),
      stop: stopping.signal,
    },
  );
  if (!cached) log.info(`  toolchain: ${meta.compiler} (${suite})`);
  return { root: meta.root, compiler: meta.compiler };
}

/**
 * A command run inside a toolchain root: a private mount namespace (a user
 * namespace too when not root) in which the directories named are bound at
 * their own paths inside the root, with /proc (objtool reads it) and
 * /dev/null, then chroot. Returns capture()'s or runLogged()'s command and
 * arguments. Without a root, the command as it is.
 */
export function inRoot(tc: Toolchain, binds: readonly string[], command: readonly string[]): [string, string[]] {
  if (!tc.root) return [command[0]!, command.slice(1)];
  const script = [
    'set -e',
    'R=$1; shift; n=$1; shift',
    'while [ "$n" -gt 0 ]; do mkdir -p "$R$1"; mount --bind "$1" "$R$1"; shift; n=$((n-1)); done',
    'mount --rbind /proc "$R/proc"',
    ': > "$R/dev/null" 2>/dev/null || true; mount --bind /dev/null "$R/dev/null"',
    'exec chroot "$R" /usr/bin/env -i PATH=/usr/bin:/usr/sbin:/bin:/sbin HOME=/tmp LC_ALL=C "$@"',
  ].join('\n');
  const ns = process.getuid?.() === 0 ? ['-m'] : ['-r', '-m'];
  return ['unshare', [...ns, 'sh', '-c', script, 'toolchain', tc.root, String(binds.length), ...binds, ...command]];
}

/** The vermagic a module for this kernel must carry starts with its release: `modinfo -F vermagic`'s first word. */
export async function checkVermagic(ko: string, release: string): Promise<void> {
  const vermagic = (await capture('modinfo', ['-F', 'vermagic', ko])).trim();
  if (vermagic.split(/\s+/)[0] !== release)
    throw new KharnessError('BUILD', `${ko} has vermagic "${vermagic}", but the kernel is ${release}: it would not load`);
}
