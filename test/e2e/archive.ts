/**
 * The Debian prebuilt kernels the tests use, by series: each name resolves
 * to the newest version of its series the archive has with headers, so no
 * test breaks when the archive drops a superseded version. A test about a
 * particular change (memchr_inv's fix in 6.1.0-54) asks the archive for a
 * version on the right side of it at run time, and says so plainly when the
 * archive no longer has one.
 */
import { cli } from './helpers.ts';

/** Debian's 6.12 cloud kernel (x86_64 and arm64): the newest. */
export const CLOUD_612 = 'debian:6.12-cloud';
/** Debian's arm64 16 KiB-page kernel of 6.12: the newest. */
export const ARM64_16K = 'debian:6.12-16k';
/** Debian's PREEMPT_RT kernel of 6.12: the newest. */
export const RT_612 = 'debian:6.12-rt';

/** Debian's 7.2 cloud kernel (x86_64 and arm64): the newest (sid's, built with gcc-16: the probe builds in a toolchain root). */
export const CLOUD_72 = 'debian:7.2-cloud';
/** Debian's 5.10 cloud kernel (bullseye): the newest (built with gcc-10: a toolchain root too). x86_64 only: the archive
 * lists arm64's newest 5.10 but does not serve it (404, 2026-12-07). */
export const CLOUD_510 = 'debian:5.10-cloud';

/** Debian 6.1 ABIs before this one have memchr_inv()'s 32-bit word count (the fix came with 6.1.0-54). */
export const MEMCHR_FIXED_ABI = 54;

interface Listed {
  name: string;
  arch: string;
}

/** N of a `debian:6.1.0-N-cloud` name; -1 for any other name. */
export function abi61(name: string): number {
  return Number(/^debian:6\.1\.0-(\d+)-cloud$/.exec(name)?.[1] ?? -1);
}

/** The 6.1 cloud kernels the archive has for an arch, oldest first, as `debian:6.1.0-N-cloud` names. */
export async function debian61Cloud(arch: string): Promise<string[]> {
  const r = await cli(['kernels', '--format', 'json'], { timeoutMs: 5 * 60_000 });
  if (r.exitCode !== 0) throw new Error(`kharness kernels failed (${r.exitCode}): ${r.all}`);
  const listed = (JSON.parse(r.stdout) as { debian: Listed[] }).debian;
  return listed
    .filter((k) => k.arch === arch && abi61(k.name) >= 0)
    .map((k) => k.name)
    .sort((a, b) => abi61(a) - abi61(b));
}

/** A Debian 6.1 cloud kernel that still has the memchr_inv() bug: the newest such the archive has. */
export async function memchrUnfixed(arch = 'x86_64'): Promise<string> {
  const all = await debian61Cloud(arch);
  const before = all.filter((n) => abi61(n) < MEMCHR_FIXED_ABI);
  const name = before[before.length - 1];
  if (!name)
    throw new Error(
      `the archive has no Debian 6.1 cloud kernel for ${arch} older than 6.1.0-${MEMCHR_FIXED_ABI} (memchr_inv's fix); it has: ${all.join(', ')}`,
    );
  return name;
}
