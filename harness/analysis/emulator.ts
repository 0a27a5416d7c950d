/**
 * Deaths at boot that are the emulator's, not the kernel's: a boot that dies
 * this way before the readiness marker is booted once more, and the first
 * attempt stays on record (its console log, and the reason, in the guest
 * record). Data, one row per artefact; anything not listed is the kernel's
 * verdict and is never retried. Pure.
 */

export interface EmulatorArtefact {
  /** Matched against each console line of the failed boot. */
  re: RegExp;
  /** The accelerator it happens under. */
  accel: 'tcg' | 'kvm';
  why: string;
}

export const EMULATOR_ARTEFACTS: readonly EmulatorArtefact[] = [
  {
    // Seen on Debian's 6.12.117 x86_64 cloud kernel under TCG with 2 vCPUs, in sched_clock_cpu and
    // sched_clock_tick at 3-4 s of uptime, when late init enables the __sched_clock_stable static key:
    // a vCPU runs the int3 that text_poke_bp placed after the patch completed (3 in about 250 boots on a loaded host).
    re: /^\[\s*\d+\.\d+\] Oops: int3: /,
    accel: 'tcg',
    why: 'Oops: int3 at boot (a jump-label site hit mid-patch under TCG)',
  },
  {
    // Seen on the 6.1-debug x86_64 kernel (kmemleak, SLUB_DEBUG_ON) under TCG on a host at load 25 on 2 cores:
    // check_timer() waits for the emulated 8254 to tick through the IO-APIC and gives up before the host ran it.
    re: /Kernel panic - not syncing: IO-APIC \+ timer doesn't work!/,
    accel: 'tcg',
    why: 'IO-APIC + timer check timed out at boot (the emulated timer starved on a loaded host)',
  },
];

/** The artefact a failed boot's console shows, if it is one of the listed. */
export function emulatorArtefact(console: readonly string[], accel: 'tcg' | 'kvm'): string | undefined {
  for (const a of EMULATOR_ARTEFACTS) if (a.accel === accel && console.some((l) => a.re.test(l))) return a.why;
  return undefined;
}
