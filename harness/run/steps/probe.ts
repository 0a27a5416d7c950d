/**
 * The probe's steps (alloc, free, inspect, scan, pause, fragment,
 * unfragment, time, query): resolved against the guest's constants into one
 * request per instance (a sweep: one per size), sent to the probe, judged
 * against the step's expectations.
 */

import { RATE_LIMITED, rateLimitWaitMs } from '../../analysis/splats.ts';
import { formatRequest } from '../../probe/protocol.ts';
import { needsMeminfo } from '../../scenario/expect.ts';
import { judge } from '../../scenario/judge.ts';
import { missingApi, missingGfp } from '../../scenario/requires.ts';
import { type ResolvedStep, resolveStep } from '../../scenario/resolve.ts';
import type { ProbeStep } from '../../scenario/types.ts';
import { observe } from '../observe.ts';
import { withInjection } from './inject.ts';
import type { StepKind } from './kind.ts';

export const probeStep: StepKind<ProbeStep['action'], ResolvedStep> = {
  /** A GFP flag the target's kernel version does not have. */
  unmet(step, t) {
    const a = step.action;
    if (a.kind === 'alloc') return missingApi(a.api, t.release) ?? missingGfp(a.gfp, t.release);
    if (a.kind === 'time') return missingApi(a.api, t.release) ?? (a.vs && missingApi(a.vs, t.release)) ?? missingGfp(a.gfp, t.release);
    return undefined;
  },

  async resolve(step, g) {
    try {
      return resolveStep(step, g.constants);
    } catch (e) {
      // A size the guest cannot give a meaning (a constant it did not report, a negative result).
      return { status: 'error', reason: `cannot resolve the step: ${(e as Error).message}` };
    }
  },

  async observe(m, step, inst, g) {
    // A report the kernel rate-limits, expected by this step, is printed only once the last one is far enough behind.
    const limited = step.expect.flatMap((b) => b.expect.dmesg?.has ?? []).filter((p) => RATE_LIMITED[p.kind] !== undefined);
    const wait = limited.length
      ? rateLimitWaitMs(
          limited.map((p) => p.kind),
          m.kmsg.slice(0),
          Date.now() - m.kmsg.lastLineAt,
        )
      : 0;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const seq = g.nextSeq();
    const run = () => observe(m, seq, inst, { timeouts: g.timeouts, withMeminfo: needsMeminfo(step.expect), signal: g.signal });
    // The probe arms its own task's fail-nth right before the allocation (inject=N on the wire).
    return step.inject ? withInjection(m, step.inject, g, formatRequest(seq, inst.action), run) : run();
  },

  judge(step, inst, obs, g) {
    return [
      {
        name: inst.name,
        ...judge(step, inst, obs, g.constants),
        request: obs.request,
        facts: obs.facts,
        splats: obs.splats,
        dmesg: obs.dmesg,
        ms: obs.ms,
        meminfoDelta: obs.meminfoDelta,
        details: obs.error ? obs.details : undefined,
      },
    ];
  },

  lost(inst, obs) {
    if (!obs) return `the harness failed in step "${inst.name}"`;
    return obs.crashed ? `the guest died in step "${inst.name}"` : `${obs.error} in step "${inst.name}"`;
  },
};
