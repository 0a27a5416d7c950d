/** Option values shared by the commands. */
import { ARCHES, archSpec } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { type CatalogKernel, loadCatalog } from '../kernel/catalog.ts';
import { parseOwnBuild } from '../kernel/own.ts';
import { expandDebianNames } from '../kernel/prebuilt.ts';
import { type Accel, DEFAULT_TIMEOUTS, type MachineSettings } from '../run/machine.ts';
import type { Log } from '../util/log.ts';

/** "a,b, c" → ["a", "b", "c"]; undefined stays undefined. */
export function list(v: unknown): string[] | undefined {
  return v === undefined
    ? undefined
    : String(v)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export function positiveInt(v: unknown, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number of at least 1, not "${String(v)}"`);
  return n;
}

/** Longest timeout a flag takes: Node's timers cannot wait 2^31 ms, and a day is enough for any phase. */
const MAX_SECONDS = 86_400;

export function secondsFlag(v: unknown, d: number, flag: string): number {
  if (v === undefined) return d;
  const n = Number(v);
  if (!(n > 0) || n > MAX_SECONDS)
    throw new UsageError(`${flag} takes a number of seconds above 0 and at most ${MAX_SECONDS}, not "${String(v)}"`);
  return n * 1000;
}

export function parseMachineFlags(v: Record<string, unknown>): MachineSettings {
  const accel = String(v.accel ?? 'auto');
  if (!['auto', 'kvm', 'tcg'].includes(accel)) throw new UsageError(`--accel must be auto, kvm or tcg, not "${accel}"`);
  const t = DEFAULT_TIMEOUTS;
  return {
    accel: accel as Accel,
    memoryMb: positiveInt(v.memory ?? '512', '--memory'),
    smp: positiveInt(v.smp ?? '2', '--smp'),
    timeouts: {
      ...t,
      bootMs: secondsFlag(v['boot-timeout'], t.bootMs, '--boot-timeout'),
      stepMs: secondsFlag(v['step-timeout'], t.stepMs, '--step-timeout'),
      silenceMs: secondsFlag(v['silence-timeout'], t.silenceMs, '--silence-timeout'),
    },
  };
}

/**
 * The --kernel list with Debian names checked against the archive and ranges
 * expanded (debian:6.1.0-47..6.1.0-56-cloud), for the --arch list's arches.
 */
export async function kernelNames(
  kernel: unknown,
  arch: unknown,
  log: Log,
  o: { acrossSeries?: boolean } = {},
): Promise<string[] | undefined> {
  const names = list(kernel);
  if (!names) return undefined;
  const arches = (list(arch) ?? Object.keys(ARCHES)).map(archSpec);
  // build:DIR is checked now (a usage error before anything boots) and named by its absolute path.
  return expandDebianNames(
    names.map((n) => parseOwnBuild(n)?.name ?? n),
    arches,
    log,
    o,
  );
}

/** The catalog with the user's own builds among the names added, so planning knows their arch. */
export async function catalogWith(names: readonly string[] | undefined): Promise<CatalogKernel[]> {
  return [...(await loadCatalog()), ...(names ?? []).flatMap((n) => parseOwnBuild(n) ?? [])];
}
