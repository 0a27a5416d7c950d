/**
 * A kernel test step: upload one of the kernel's own test modules, load it
 * with its parameters between the same kernel-log markers the probe uses,
 * and judge the run and each of its cases (ktest/read.ts reads them) into
 * records, the run's first. The step's lifecycle (silence, timeout, a dying
 * guest) is the probe's: observeAct.
 */
import { readFile } from 'node:fs/promises';
import { isEnabled } from '../../analysis/kconfig.ts';
import { KERNEL_TESTS } from '../../ktest/catalog.ts';
import { inVersions, paramsOn, readRun } from '../../ktest/read.ts';
import { FLAG_CONSTANTS, SIZE_CONSTANTS } from '../../probe/vocabulary.ts';
import { evalPredicate, parsePredicate } from '../../scenario/size.ts';
import type { Action } from '../../scenario/types.ts';
import { observeAct, shellAct } from '../observe.ts';
import type { StepFields } from '../recorder.ts';
import type { Instance, StepKind } from './kind.ts';

const RC = /^kharness-rc=(\d+)$/m;

/** Module parameters as insmod takes them (booleans as 1/0). */
function moduleArgs(params: Record<string, number | boolean>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`)
    .join(' ');
}

/** Where a kernel test module is placed in the guest: not under /tmp, which init mounts over, so the initramfs can hold it too. */
export const guestPath = (module: string) => `/lib/kharness-ktest/${module}.ko`;

/**
 * The guest shell script of one load: markers around insmod, the module
 * removed again so a later step can load it. The module reaches insmod
 * through a pipe: busybox's insmod tries finit_module() and, when that
 * fails for any reason, init_module() on the same file, so a module whose
 * init returns an error (test_vmalloc's EAGAIN, test_meminit's EINVAL) would
 * run twice. finit_module() refuses a pipe before running anything, and the
 * fallback reads the module from it once (the guest has no /dev/stdin link).
 * The same script runs over ssh or from init at boot.
 */
export function loadScript(seq: number, module: string, params: Record<string, number | boolean>): string {
  const args = moduleArgs(params);
  return [
    `echo "kalloc_probe: begin seq=${seq} cmd=ktest module=${module}" > /dev/kmsg`,
    `cat ${guestPath(module)} | insmod /proc/self/fd/0 ${args} 2>&1; rc=$?`,
    `rmmod ${module} 2>/dev/null`,
    `echo "kalloc_probe: end seq=${seq}" > /dev/kmsg`,
    'echo "kharness-rc=$rc"',
  ].join('\n');
}

type KernelTestAction = Extract<Action, { kind: 'kernel-test' }>;

/** The one load of a kernel test step: the module's .ko on the host. */
interface Load extends Instance {
  ko: string;
  /** The parameters on this kernel (paramsOn). */
  params: Record<string, number | boolean>;
}

/** What the record shows as the step's request: insmod with the module's parameters. */
const requestOf = (a: KernelTestAction, params: Record<string, number | boolean>) => `insmod ${a.module}.ko ${moduleArgs(params)}`.trim();

export const kernelTestStep: StepKind<KernelTestAction, Load> = {
  /** A kernel test module the kernel's config does not build, or a parameter its version lacks. */
  unmet(step, t) {
    const { module, params } = step.action;
    const k = KERNEL_TESTS[module]!;
    const missing = k.config.filter((o) => !isEnabled(t.config, o));
    if (missing.length) return `kernel config lacks ${missing.join(', ')} (the kernel's test module ${module})`;
    if (k.readable && !inVersions(k.readable, t.release)) return `${module} on ${t.release} cannot be read: ${k.readable.why}`;
    const absent = Object.keys(params).filter((p) => k.params[p] && !inVersions(k.params[p]!, t.release));
    if (absent.length) return `${module} on ${t.release} has no parameter ${absent.join(', ')}`;
    return undefined;
  },

  async resolve(step, g) {
    const a = step.action;
    const built = KERNEL_TESTS[a.module]!.config.find((o) => g.facts.config.get(o) === 'y');
    if (built) return { status: 'skip', reason: `${built}=y: the test ran at boot; kharness runs it as a module (=m)` };
    const ko = await g.testModule?.(a.module);
    if (!ko) return { status: 'error', reason: `the kernel's config builds ${a.module} but no ${a.module}.ko was found with it` };
    return [{ name: step.name, ko, params: paramsOn(KERNEL_TESTS[a.module]!, a.params, g.facts.release, g.facts.config) }];
  },

  // A module load needs nothing of user space but insmod: it can run from init, before sshd.
  atBoot(step, inst, seq) {
    const a = step.action;
    return { script: loadScript(seq, a.module, inst.params), files: [{ path: guestPath(a.module), host: inst.ko }] };
  },

  async observe(m, step, inst, g) {
    const a = step.action;
    await m.put(guestPath(a.module), await readFile(inst.ko), g.timeouts.stepMs);
    // Numbered once uploaded: a failed upload sent no request.
    const seq = g.nextSeq();
    const script = loadScript(seq, a.module, inst.params);
    const request = requestOf(a, inst.params);
    return observeAct(m, seq, shellAct(request, script, RC), {
      timeouts: g.timeouts,
      withMeminfo: false,
      signal: g.signal,
      stepMs: a.timeoutMs,
    });
  },

  judge(step, inst, obs, g) {
    const a = step.action;
    const output = obs.output ?? '';
    const rc = Number(RC.exec(output)?.[1] ?? -1);
    const cut = obs.error ?? (obs.crashed ? 'the guest died during the run' : undefined);
    const run = readRun(KERNEL_TESTS[a.module]!, {
      lines: obs.dmesg,
      load: { rc, output: output.replace(RC, '').trim() },
      params: inst.params,
      version: g.facts.release,
      config: g.facts.config,
      selected: a.cases,
      holds: (when) => evalPredicate(parsePredicate(when, [...SIZE_CONSTANTS, ...FLAG_CONSTANTS]), g.constants),
      splats: obs.splats,
      cut,
    });
    const why = KERNEL_TESTS[a.module]!.provokes ? 'the suite provokes on purpose and checks' : 'its expected failures are known to print';
    const known = run.known.length ? ` (${run.known.length} kernel report(s) ${why})` : '';
    const own: StepFields = {
      status: run.status,
      reason: run.reason ? `${run.reason}${known}` : known.trim() || undefined,
      request: obs.request,
      facts: { ...run.facts, completion: run.completion },
      splats: run.unexpected,
      dmesg: obs.dmesg,
      ms: obs.ms,
      details: obs.details,
      kernelTest: { module: a.module },
    };
    const cases = run.cases.map(
      (k): StepFields => ({
        name: `${inst.name}: ${k.name}`,
        status: k.status,
        reason: k.reason,
        facts: k.facts,
        dmesg: k.evidence,
        kernelTest: { module: a.module, case: k.name },
      }),
    );
    return [own, ...cases];
  },

  lost: (inst) => `the machine was lost in step "${inst.name}"`,
};
