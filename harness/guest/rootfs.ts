/**
 * Guest userspace from Debian packages of the guest's architecture: busybox
 * and dropbear with its libraries, fetched with `apt-get download` and
 * unpacked with dpkg-deb, never installed. A foreign architecture gets its
 * own apt state under the cache, so the host's dpkg and apt configuration
 * stay as they are. The unpacked tree becomes a cached base initramfs.
 */
import { appendFile, copyFile, lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { aptCache, aptOptions, unpackDebs } from '../apt/apt.ts';
import type { ArchSpec } from '../arch/arches.ts';
import { type CacheKind, getOrBuild, missingPaths } from '../cache/store.ts';
import { KharnessError } from '../errors.ts';
import { cacheRoot, GUEST_FILES_DIR } from '../paths.ts';
import { hashParts } from '../util/hash.ts';
import { type Log, lockWait } from '../util/log.ts';
import { runLogged } from '../util/proc.ts';
import { stopping } from '../util/stop.ts';
import { type CpioEntry, writeCpio } from './cpio.ts';
import { isLibrary, neededLibraries, type TreeFile } from './elf.ts';
import type { RunKeys } from './keys.ts';

/** dropbear-bin and what it links against (apt-cache depends, Debian 12). */
export const GUEST_PACKAGES = ['busybox-static', 'dropbear-bin', 'libc6', 'libcrypt1', 'libtomcrypt1', 'libtommath1', 'libgmp10', 'zlib1g'];

/** Not needed in the guest; leaving them out keeps the initramfs small. */
const SKIP = [/^usr\/share\//, /^usr\/lib\/[^/]+\/gconv\//, /^usr\/libexec\//, /^etc\/(?!ld\.so)/, /^usr\/lib\/[^/]+\/audit\//];

const RECIPE = 'guest-base-5';

/** What init mounts with one `mount -a`, in order (debugfs's mount point appears with sysfs). */
export const FSTAB = `proc /proc proc defaults 0 0
sysfs /sys sysfs defaults 0 0
devtmpfs /dev devtmpfs defaults 0 0
tmpfs /tmp tmpfs defaults 0 0
debugfs /sys/kernel/debug debugfs defaults 0 0
`;

/**
 * busybox's applet names, read from the binary of any arch without running
 * it: they are one table of NUL-separated names in sorted order, "[" and "[["
 * first. Undefined when no such table is found (init then makes the links
 * at boot with `busybox --install`).
 */
export function busyboxApplets(binary: Buffer): string[] | undefined {
  const start = binary.indexOf(Buffer.from('\0[\0[[\0', 'latin1'));
  if (start < 0) return undefined;
  const end = binary.indexOf(Buffer.from('\0\0', 'latin1'), start + 1);
  if (end < 0) return undefined;
  const names = binary.toString('latin1', start + 1, end).split('\0');
  const sorted = names.every((n, i) => i === 0 || names[i - 1]! < n);
  const plain = names.every((n) => /^[[a-z0-9_.-]+$/.test(n));
  return sorted && plain && ['sh', 'mount', 'insmod', 'cat'].every((n) => names.includes(n)) ? names : undefined;
}

/** A symlink bin/NAME -> busybox for each applet no other package put in bin/ already (what `busybox --install -s /bin` makes). */
export function appletLinks(applets: readonly string[], entries: readonly CpioEntry[]): CpioEntry[] {
  const taken = new Set(entries.map((e) => e.path));
  return applets.filter((a) => !taken.has(`bin/${a}`)).map((a) => ({ type: 'symlink', path: `bin/${a}`, target: 'busybox' }));
}

/**
 * The tree without the shared libraries none of its programs loads (libm,
 * libmvec, libnss_*... of libc6): about a quarter of the archive, which the
 * guest kernel copies, poisons and frees at every boot. Everything is kept
 * when a program cannot be read or names a library that is not there.
 */
export function onlyNeededLibraries(entries: CpioEntry[], arch: ArchSpec, log: Log): CpioEntry[] {
  const files: TreeFile[] = entries.flatMap((e): TreeFile[] =>
    e.type === 'file'
      ? [{ path: e.path, kind: 'file', data: e.data }]
      : e.type === 'symlink'
        ? [{ path: e.path, kind: 'symlink', target: e.target }]
        : [],
  );
  const keep = neededLibraries(files);
  if (!keep) {
    log.warn(`could not work out which libraries the ${arch.name} guest programs need: the guest keeps all of them`);
    return entries;
  }
  return entries.filter((e) => (e.type !== 'file' && e.type !== 'symlink') || !isLibrary(e.path) || keep.has(e.path));
}

export const GUEST_CACHE: CacheKind = { kind: 'guest', label: (_m, key) => key.split('-')[0]! };

async function walk(dir: string, base: string, out: CpioEntry[]): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const full = join(dir, name);
    const rel = relative(base, full);
    if (SKIP.some((re) => re.test(`${rel}/`) || re.test(rel))) continue;
    const st = await lstat(full);
    if (st.isSymbolicLink()) out.push({ type: 'symlink', path: rel, target: await readlink(full) });
    else if (st.isDirectory()) {
      out.push({ type: 'dir', path: rel, mode: st.mode & 0o7777 });
      await walk(full, base, out);
    } else if (st.isFile()) out.push({ type: 'file', path: rel, data: await readFile(full), mode: st.mode & 0o7777 });
  }
}

export interface GuestBase {
  /**
   * The cpio with the userspace and /init, uncompressed; per-run files go in
   * a second archive. Not gzip'ed: inflating 9 MB under TCG took the kernel
   * 0.65 s (x86_64 6.1, "Unpacking initramfs" to "Freeing initrd memory"),
   * and an uncompressed archive made ready 0.05-0.47 s sooner (medians of 5
   * and 8 interleaved boots per target, in 6 of 7 target rounds).
   */
  initramfs: string;
}

/** The base initramfs for an arch, built once per package set. */
export async function guestBase(arch: ArchSpec, log: Log): Promise<GuestBase> {
  const root = cacheRoot();
  const initText = await readFile(join(GUEST_FILES_DIR, 'init'));
  // Resolve versions first: the key names exactly what goes in.
  const opts = await aptOptions(arch.debianArch, log);
  const versions = await aptCache(opts, ['policy', ...GUEST_PACKAGES.map((p) => `${p}:${arch.debianArch}`)]).catch(() => '');
  const key = hashParts([RECIPE, arch.debianArch, versions.replace(/\*\*\*/g, ''), initText]);
  const { meta } = await getOrBuild<GuestBase>(
    root,
    'guest',
    `${arch.name}-${key}`,
    async (dir) => {
      log.info(`assembling ${arch.name} guest userspace from Debian packages`);
      const debs = join(dir, 'debs');
      const tree = join(dir, 'root');
      await mkdir(debs, { recursive: true });
      await mkdir(tree, { recursive: true });
      const alog = join(dir, 'assemble.log');
      try {
        await runLogged('apt-get', [...opts, 'download', ...GUEST_PACKAGES.map((p) => `${p}:${arch.debianArch}`)], {
          cwd: debs,
          log: alog,
          fails: 'INFRA',
          phase: `downloading ${arch.debianArch} guest packages`,
          timeoutMs: 10 * 60_000,
        });
      } catch (e) {
        throw new KharnessError(
          'HOST_TOOL',
          `could not download the guest packages for ${arch.debianArch}`,
          "Check that Debian's archive is reachable and run `apt-get update`.",
          (e as KharnessError).details,
        );
      }
      await unpackDebs(debs, tree, alog, 60_000);
      let entries: CpioEntry[] = [];
      for (const d of [
        'bin',
        'sbin',
        'usr',
        'usr/bin',
        'usr/sbin',
        'proc',
        'sys',
        'dev',
        'tmp',
        'run',
        'etc',
        'etc/dropbear',
        'root',
        'root/.ssh',
        'var',
        'var/log',
      ]) {
        entries.push({ type: 'dir', path: d, mode: d.startsWith('root') ? 0o700 : d === 'tmp' ? 0o1777 : 0o755 });
      }
      entries.push({ type: 'chardev', path: 'dev/console', major: 5, minor: 1 });
      entries.push({ type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 });
      await walk(tree, tree, entries);
      entries = onlyNeededLibraries(entries, arch, log);
      const applets = busyboxApplets(await readFile(join(tree, 'bin', 'busybox')).catch(() => Buffer.alloc(0)));
      if (!applets) log.warn(`could not read the applet list of the ${arch.name} busybox: the guest makes its links at each boot`);
      entries.push(...appletLinks(applets ?? [], entries));
      entries.push({ type: 'file', path: 'init', data: initText, mode: 0o755 });
      entries.push({ type: 'file', path: 'etc/fstab', data: Buffer.from(FSTAB) });
      entries.push({ type: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') });
      entries.push({ type: 'file', path: 'etc/group', data: Buffer.from('root:x:0:\n') });
      entries.push({ type: 'file', path: 'etc/shells', data: Buffer.from('/bin/sh\n') });
      const initramfs = join(dir, 'base.cpio');
      await writeFile(initramfs, writeCpio(entries));
      return { initramfs };
    },
    {
      check: (m) => (typeof m.initramfs !== 'string' ? 'its meta.json names no initramfs' : missingPaths({ initramfs: m.initramfs })),
      onDamaged: (problem, dir) =>
        log.warn(`the cached ${arch.name} guest userspace in ${dir} is damaged (${problem}): assembling it again`),
      onWait: lockWait(log, `the ${arch.name} guest userspace`),
      stop: stopping.signal,
    },
  );
  return meta;
}

/** Scripts init runs instead of starting sshd (a step run at boot), with the files they need; see /init. */
export interface BootFiles {
  scripts: readonly string[];
  files: readonly { path: string; data: Buffer }[];
}

/**
 * Writes one boot's whole initrd to `file`: the base archive, then this run's
 * keys and the modules init loads before sshd starts (host paths, in load
 * order: a prebuilt kernel's network drivers, then the probe), and the
 * scripts of steps run at boot, when there are any. The base is copied by the
 * kernel (copy_file_range), not read into memory and written out again.
 */
export async function writeGuestInitrd(
  file: string,
  base: GuestBase,
  /** sshd's host key and the harness's key; none where init starts no sshd (steps run at boot). */
  keys: RunKeys | undefined,
  modulePaths: readonly string[],
  scripts?: readonly { script: string; files: readonly { path: string; host: string }[] }[],
): Promise<void> {
  const [run] = await Promise.all([runPart(keys, modulePaths, scripts), copyFile(base.initramfs, file)]);
  await appendFile(file, run);
}

/** The per-run archive of one boot (the initrd's second part). */
async function runPart(
  keys: RunKeys | undefined,
  modulePaths: readonly string[],
  scripts?: readonly { script: string; files: readonly { path: string; host: string }[] }[],
): Promise<Buffer> {
  const modules = await Promise.all(
    modulePaths.map(async (p, i) => ({ name: `${String(i).padStart(2, '0')}-${basename(p)}`, data: await readFile(p) })),
  );
  const boot = scripts && {
    scripts: scripts.map((s) => s.script),
    files: await Promise.all(scripts.flatMap((s) => s.files).map(async (f) => ({ path: f.path, data: await readFile(f.host) }))),
  };
  return runArchive(keys && { hostKey: keys.hostKeyDropbear, authorized: keys.clientPublic }, modules, boot);
}

/** Every directory above a guest path, outermost first ("lib/a/b.ko" -> lib, lib/a). */
function parents(path: string): string[] {
  const parts = path.split('/').slice(0, -1);
  return parts.map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** The archive entries of steps run at boot: their files, one script file each, and the list init reads. */
export function bootEntries(boot: BootFiles): CpioEntry[] {
  const files = boot.files.map((f) => ({ ...f, path: f.path.replace(/^\/+/, '') }));
  const bad = files.find((f) => f.path === 'tmp' || f.path.startsWith('tmp/') || f.path.split('/').includes('..'));
  if (bad) throw new Error(`a boot file cannot go to /${bad.path} (init mounts /tmp over it)`);
  const scripts = boot.scripts.map((s, i) => ({ path: `etc/kharness-boot.d/${i + 1}.sh`, data: Buffer.from(`${s}\n`) }));
  const all = [...files, ...scripts];
  const dirs = [...new Set(all.flatMap((f) => parents(f.path)))];
  return [
    ...dirs.map((path): CpioEntry => ({ type: 'dir', path })),
    ...all.map((f): CpioEntry => ({ type: 'file', path: f.path, data: f.data })),
    { type: 'file', path: 'etc/kharness-boot', data: Buffer.from(scripts.map((f) => `/${f.path}\n`).join('')) },
  ];
}

/**
 * The per-run archive: keys, the modules a prebuilt kernel needs at boot, and
 * the scripts of steps run at boot. Appended to the base (the kernel unpacks
 * concatenated archives in order; each ends 4-byte aligned, as the next one's
 * header must start). Uncompressed, as the base is.
 */
export function runArchive(
  /** dropbear's host key and the authorized_keys line; none where init starts no sshd. */
  ssh: { hostKey: Buffer; authorized: string } | undefined,
  modules: { name: string; data: Buffer }[] = [],
  boot?: BootFiles,
): Buffer {
  const mods: CpioEntry[] = modules.length
    ? [
        { type: 'dir', path: 'lib' },
        { type: 'dir', path: 'lib/kharness-modules' },
        ...modules.map((m): CpioEntry => ({ type: 'file', path: `lib/kharness-modules/${m.name}`, data: m.data })),
        { type: 'file', path: 'etc/kharness-modules', data: Buffer.from(modules.map((m) => `/lib/kharness-modules/${m.name}\n`).join('')) },
      ]
    : [];
  return writeCpio([
    ...mods,
    ...(boot ? bootEntries(boot) : []),
    ...(ssh
      ? ([
          { type: 'dir', path: 'etc/dropbear', mode: 0o700 },
          { type: 'file', path: 'etc/dropbear/host_key', data: ssh.hostKey, mode: 0o600 },
          { type: 'dir', path: 'root/.ssh', mode: 0o700 },
          { type: 'file', path: 'root/.ssh/authorized_keys', data: Buffer.from(`${ssh.authorized}\n`), mode: 0o600 },
        ] satisfies CpioEntry[])
      : []),
  ]);
}
