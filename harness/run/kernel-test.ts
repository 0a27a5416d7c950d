/**
 * A kernel test step: upload one of the kernel's own test modules, load it
 * with its parameters between the same kernel-log markers the probe uses,
 * and record the run and each of its cases (ktest/read.ts reads them). The
 * step's lifecycle (silence, timeout, a dying guest) is the probe's: observeAct.
 */
import { readFile } from 'node:fs/promises';
import { KERNEL_TESTS } from '../ktest/catalog.ts';
import { readRun } from '../ktest/read.ts';
import { ProbeLost } from '../probe/client.ts';
import { FLAG_CONSTANTS, SIZE_CONSTANTS, sizeConstants } from '../probe/vocabulary.ts';
import { evalPredicate, parsePredicate } from '../scenario/size.ts';
import type { Scenario, Step } from '../scenario/types.ts';
import type { Machine } from './machine.ts';
import { observeAct } from './observe.ts';
import type { ScenarioContext } from './phases.ts';

const RC = /^kharness-rc=(\d+)$/m;

/** Module parameters as insmod takes them (booleans as 1/0). */
function moduleArgs(params: Record<string, number | boolean>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`)
    .join(' ');
}

/**
 * The guest shell script of one load: markers around insmod, the module
 * removed again so a later step can load it. The module reaches insmod
 * through a pipe: busybox's insmod tries finit_module() and, when that
 * fails for any reason, init_module() on the same file, so a module whose
 * init returns an error (test_vmalloc's EAGAIN, test_meminit's EINVAL) would
 * run twice. finit_module() refuses a pipe before running anything, and the
 * fallback reads the module from it once (the guest has no /dev/stdin link).
 */
export function loadScript(seq: number, module: string, params: Record<string, number | boolean>): string {
  const args = moduleArgs(params);
  return [
    `echo "kalloc_probe: begin seq=${seq} cmd=ktest module=${module}" > /dev/kmsg`,
    `cat /tmp/ktest/${module}.ko | insmod /proc/self/fd/0 ${args} 2>&1; rc=$?`,
    `rmmod ${module} 2>/dev/null`,
    `echo "kalloc_probe: end seq=${seq}" > /dev/kmsg`,
    'echo "kharness-rc=$rc"',
  ].join('\n');
}

export async function kernelTestStep(c: ScenarioContext, s: Scenario, step: Step, m: Machine): Promise<'ok' | 'lost'> {
  const a = step.action;
  if (a.kind !== 'kernel-test') throw new Error('not a kernel test step');
  const t = KERNEL_TESTS[a.module]!;
  const built = t.config.find((o) => c.facts.config.get(o) === 'y');
  if (built) {
    c.rec.step(s, step, { status: 'skip', reason: `${built}=y: the test ran at boot; kharness runs it as a module (=m)` });
    return 'ok';
  }
  const ko = await c.testModule?.(a.module);
  if (!ko) {
    c.rec.step(s, step, { status: 'error', reason: `the kernel's config builds ${a.module} but no ${a.module}.ko was found with it` });
    return 'ok';
  }
  const timeouts = c.settings.timeouts;
  await m.exec(`mkdir -p /tmp/ktest && cat > /tmp/ktest/${a.module}.ko`, { stdin: await readFile(ko), timeoutMs: timeouts.stepMs });
  const seq = c.nextSeq();
  const script = loadScript(seq, a.module, a.params);
  const request = `insmod ${a.module}.ko ${moduleArgs(a.params)}`.trim();
  const obs = await observeAct(
    m,
    seq,
    {
      request,
      async send(mm, ms) {
        const r = await mm.exec(script, { timeoutMs: ms });
        // No exit status printed: the shell never got there (the connection dropped with the guest).
        if (!RC.test(r.stdout)) throw new ProbeLost(request);
        return { status: 'ok', facts: {}, output: r.stdout };
      },
    },
    { timeouts, withMeminfo: false, signal: c.signal, stepMs: a.timeoutMs },
  );
  const output = obs.output ?? '';
  const rc = Number(RC.exec(output)?.[1] ?? -1);
  const constants = sizeConstants(m.info.constants);
  const cut = obs.error ?? (obs.crashed ? 'the guest died during the run' : undefined);
  const run = readRun(t, {
    lines: obs.dmesg,
    load: { rc, output: output.replace(RC, '').trim() },
    params: a.params,
    version: c.facts.release,
    config: c.facts.config,
    selected: a.cases,
    holds: (when) => evalPredicate(parsePredicate(when, [...SIZE_CONSTANTS, ...FLAG_CONSTANTS]), constants),
    splats: obs.splats,
    cut,
  });
  const known = run.known.length ? ` (${run.known.length} kernel report(s) its expected failures are known to print)` : '';
  c.rec.step(s, step, {
    boot: m.info.boot,
    status: run.status,
    reason: run.reason ? `${run.reason}${known}` : known.trim() || undefined,
    request,
    facts: { ...run.facts, completion: run.completion },
    splats: run.unexpected,
    dmesg: obs.dmesg,
    ms: obs.ms,
    details: obs.details,
    kernelTest: { module: a.module },
  });
  for (const k of run.cases) {
    c.rec.step(s, step, {
      name: `${step.name}: ${k.name}`,
      boot: m.info.boot,
      status: k.status,
      reason: k.reason,
      facts: k.facts,
      dmesg: k.evidence,
      kernelTest: { module: a.module, case: k.name },
    });
  }
  return obs.lost ? 'lost' : 'ok';
}
