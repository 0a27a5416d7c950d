import { existsSync } from 'node:fs';
import { ARCHES, isNative } from '../arch/arches.ts';
import { chooseAccel, probeAccelFacts } from '../guest/accel.ts';
import { loadCatalog } from '../kernel/catalog.ts';
import { cacheRoot } from '../paths.ts';
import { whichSync } from '../util/host.ts';
import type { Outcome } from './exit.ts';

/**
 * Host tools kharness and its tests run, the Debian package that provides each
 * (./setup.sh installs them all), and what needs it. The tests' own tools are
 * here too: a minimal container lacks them, and a test that cannot start one
 * fails with a message far from the fix.
 */
export const HOST_TOOLS: readonly [tool: string, pkg: string, why: string][] = [
  ['make', 'build-essential', 'kernel and module builds'],
  ['gcc', 'build-essential', 'x86_64 kernels'],
  ['flex', 'flex', 'kernel config'],
  ['bison', 'bison', 'kernel config'],
  ['bc', 'bc', 'kernel build'],
  ['tar', 'tar', 'source extraction'],
  ['git', 'git', 'git kernels and bisect'],
  ['apt-get', 'apt', 'guest userspace and prebuilt kernels'],
  ['dpkg-deb', 'dpkg', 'unpacking packages'],
  ['modinfo', 'kmod', "prebuilt kernels' module dependencies"],
  ['pahole', 'dwarves', "the probe's BTF for Debian's 6.12 kernels"],
  ['xz', 'xz-utils', "Debian's compressed kernel modules"],
  ['setpriv', 'util-linux', 'no QEMU outlives a killed harness'],
  ['ccache', 'ccache', 'faster rebuilds (optional)'],
  ['chromium', 'chromium', 'tests: the HTML report in a browser'],
  ['xmllint', 'libxml2-utils', 'tests: the JUnit output against its schema'],
  ['python3', 'python3', "tests: the kernel's kunit.py, the git fixture history"],
  ['pgrep', 'procps', 'tests and bench:faults: leftover QEMU processes'],
  ['pkill', 'procps', 'tests and bench:faults: stopping and killing QEMU'],
  ['ss', 'iproute2', "tests: ss -K cuts the harness's ssh socket; the host kernel needs CONFIG_INET_DIAG_DESTROY"],
];

export async function doctorCommand(): Promise<Outcome> {
  let missing = 0;
  const line = (ok: boolean, what: string, fix?: string) => {
    if (!ok) missing++;
    process.stdout.write(`${ok ? 'ok     ' : 'MISSING'}  ${what}${!ok && fix ? `  → ${fix}` : ''}\n`);
  };
  for (const [tool, pkg, why] of HOST_TOOLS) line(Boolean(whichSync(tool)), `${tool} (${why})`, `sudo apt-get install ${pkg}`);
  for (const a of Object.values(ARCHES)) {
    line(Boolean(whichSync(a.qemu.binary)), `${a.qemu.binary} (${a.name} guests)`, `sudo apt-get install ${a.qemu.package}`);
    if (!isNative(a))
      line(Boolean(whichSync(`${a.crossPrefix}gcc`)), `${a.crossPrefix}gcc (${a.name} kernels)`, `sudo apt-get install ${a.crossPackage}`);
    const accel = chooseAccel(probeAccelFacts(a));
    process.stdout.write(`info     ${a.name} guests run with ${accel.reason}\n`);
  }
  for (const k of await loadCatalog()) {
    // A source without a tarball is fetched into the cache when first built.
    if (k.source.type === 'debian-source' && k.source.tarball)
      line(existsSync(k.source.tarball), `kernel ${k.name}: ${k.source.tarball}`, `sudo apt-get install ${k.source.package}`);
  }
  process.stdout.write(`info     cache: ${cacheRoot()} (kharness cache ls)\n`);
  process.stdout.write(missing ? `\n${missing} missing: ./setup.sh installs them all.\n` : '\nall good\n');
  return missing ? 'missing' : 'done';
}
