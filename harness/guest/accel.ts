/**
 * Choosing the accelerator: TCG unless KVM is present, usable and real. Pure
 * decision over probed facts, so the rules are testable without /dev/kvm.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { type ArchSpec, isNative } from '../arch/arches.ts';

export interface AccelFacts {
  /** /dev/kvm exists and is read-write for us. */
  devKvm: boolean;
  /** CPU virtualisation flags on an x86 host (vmx/svm); on arm64 hosts KVM needs none. */
  cpuVirt: boolean;
  /** /sys/module/kvm_pvm: a PVM host only runs PVM-patched guests. */
  pvm: boolean;
  /** The guest arch matches the host's. */
  native: boolean;
}

export interface AccelChoice {
  accel: 'kvm' | 'tcg';
  reason: string;
}

export function chooseAccel(f: AccelFacts, requested: 'auto' | 'kvm' | 'tcg' = 'auto'): AccelChoice {
  if (requested === 'tcg') return { accel: 'tcg', reason: 'TCG requested' };
  const why = !f.native
    ? 'guest arch differs from the host'
    : !f.devKvm
      ? '/dev/kvm is missing or not accessible'
      : f.pvm
        ? '/dev/kvm is PVM, which runs only PVM-patched guest kernels'
        : !f.cpuVirt
          ? 'the CPU has no vmx/svm flag'
          : undefined;
  if (why) return { accel: 'tcg', reason: `TCG: ${why}` };
  return { accel: 'kvm', reason: 'KVM: /dev/kvm usable and the CPU supports virtualisation' };
}

export function probeAccelFacts(arch: ArchSpec): AccelFacts {
  let devKvm = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    devKvm = true;
  } catch {
    devKvm = false;
  }
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    devKvm,
    cpuVirt: process.arch !== 'x64' || /\b(vmx|svm)\b/.test(cpuinfo),
    pvm: existsSync('/sys/module/kvm_pvm'),
    native: isNative(arch),
  };
}
