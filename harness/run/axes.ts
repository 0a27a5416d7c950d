/**
 * What a run records about where it ran (HostAxes): the accelerator, the
 * host's CPUs and memory, QEMU's version per arch, the guest's size and
 * kharness's own version. Each kernel's config hash and allocator profile are
 * recorded per target. Read once per run.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { ARCHES } from '../arch/arches.ts';
import { cacheRoot, PROJECT_ROOT } from '../paths.ts';
import type { HostAxes } from '../results/records.ts';
import { toolOutput } from '../util/facts.ts';
import { hostCpus } from '../util/host.ts';
import type { MachineSettings } from './machine.ts';

async function qemuVersion(binary: string): Promise<string> {
  const out = await toolOutput(cacheRoot(), binary, ['--version']).catch(() => '');
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown';
}

export async function hostAxes(settings: MachineSettings, arches: readonly string[]): Promise<HostAxes> {
  const qemu: Record<string, string> = {};
  for (const a of [...new Set(arches)]) {
    const spec = ARCHES[a];
    if (spec) qemu[a] = await qemuVersion(spec.qemu.binary);
  }
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  return {
    accel: String(settings.accel),
    hostCpus: hostCpus().count,
    hostCpuModel: hostCpus().model,
    hostMemoryMb: Math.round(totalmem() / 2 ** 20),
    qemu,
    guestMemoryMb: settings.memoryMb,
    guestCpus: settings.smp,
    kharness: pkg.version,
    node: process.version,
  };
}
