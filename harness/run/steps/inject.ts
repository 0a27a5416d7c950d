/**
 * A step's `inject` around its observation: the debugfs knobs armed for the
 * step's kind before it (inject/plan.ts), the operation itself arming its
 * own task's fail-nth (the probe right before its allocation), then the
 * capabilities' `times` counters read and every knob reset, whatever the
 * step did. The facts say whether the Nth allocation was failed (fail-nth
 * read back as 0), by which capability, and where it was made (from the
 * injection's stack in the step's own kernel-log section).
 */
import { readFile } from 'node:fs/promises';
import { formatFrame, parseInjections } from '../../analysis/injection.ts';
import { isEnabled } from '../../analysis/kconfig.ts';
import { CAPABILITIES, CAPABILITY_NAMES, type Capability, injectUnmet } from '../../inject/kinds.ts';
import {
  armWrites,
  failedKnob,
  injectFacts,
  injectionsBetween,
  knobScript,
  parseTimes,
  resetWrites,
  timesScript,
} from '../../inject/plan.ts';
import type { TargetFacts } from '../../scenario/requires.ts';
import type { Inject, Step } from '../../scenario/types.ts';
import type { Machine } from '../machine.ts';
import type { Observation } from '../observe.ts';
import type { StepEnv } from './kind.ts';

/** The capabilities a target's kernel has. */
export function presentCapabilities(config: Map<string, string>): Capability[] {
  return CAPABILITY_NAMES.filter((c) => isEnabled(config, CAPABILITIES[c].config));
}

/** Why a step's injection cannot run on a target, before anything boots. */
export function injectUnmetReason(step: Step, t: TargetFacts): string | undefined {
  return step.inject ? injectUnmet(step.inject.kind, t) : undefined;
}

/** Arms the knobs and returns the counters as they were, or why they could not be armed. */
export async function armInjection(
  m: Machine,
  inj: Pick<Inject, 'kind'>,
  present: readonly Capability[],
  g: Pick<StepEnv, 'timeouts'>,
): Promise<{ times: Partial<Record<Capability, number>> } | { error: string }> {
  const r = await m.exec(`${knobScript(armWrites(inj.kind, present))}\n${timesScript(present)}`, { timeoutMs: g.timeouts.stepMs });
  const bad = failedKnob(r.stdout);
  if (r.code !== 0 || bad) return { error: `could not arm fault injection: ${bad ? `cannot write ${bad}` : `exit status ${r.code}`}` };
  return { times: parseTimes(r.stdout) };
}

/** Reads the counters and puts every knob back; undefined when the guest did not answer. */
export async function resetInjection(
  m: Machine,
  present: readonly Capability[],
  g: Pick<StepEnv, 'timeouts'>,
): Promise<Partial<Record<Capability, number>> | undefined> {
  const r = await m
    .exec(`${timesScript(present)}\n${knobScript(resetWrites(present))}`, { timeoutMs: g.timeouts.stepMs })
    .catch(() => undefined);
  return r ? parseTimes(r.stdout) : undefined;
}

/**
 * Runs `observe` with the step's injection armed around it. The operation
 * must report `fail_nth_left` (its own task's fail-nth read back); the
 * facts of the injection are added to the observation's.
 */
export async function withInjection(
  m: Machine,
  inj: Inject,
  g: StepEnv,
  request: string,
  observe: () => Promise<Observation>,
): Promise<Observation> {
  const present = presentCapabilities(g.facts.config);
  const armed = await armInjection(m, inj, present, g);
  if ('error' in armed) return { request, facts: {}, splats: [], dmesg: [], crashed: false, lost: false, ms: 0, error: armed.error };
  const obs = await observe();
  if (obs.lost) return obs;
  const after = await resetInjection(m, present, g);
  const left = obs.facts.fail_nth_left;
  if (typeof left !== 'number')
    return obs.error ? obs : { ...obs, error: 'the operation did not report its fail-nth: no proof of injection' };
  const facts = { ...obs.facts, ...injectFacts(inj.nth, inj.kind, left, after ? injectionsBetween(armed.times, after) : {}) };
  const first = parseInjections(obs.dmesg)[0];
  if (first?.site) facts.inject_site = formatFrame(first.site);
  if (first?.api) facts.inject_api = first.api;
  return { ...obs, facts };
}

/** Machines the fail-nth loader was copied into, and where it is there. */
const UPLOADED = new WeakMap<Machine, string>();

/** Copies the fail-nth loader (module/failnth.ts, built on the host) into the guest once per machine; returns its guest path. */
export async function uploadFailnth(m: Machine, hostPath: string, g: Pick<StepEnv, 'timeouts'>): Promise<string> {
  const have = UPLOADED.get(m);
  if (have) return have;
  const at = '/tmp/kharness-failnth';
  await m.exec(`cat > ${at} && chmod 755 ${at}`, { stdin: await readFile(hostPath), timeoutMs: g.timeouts.stepMs });
  UPLOADED.set(m, at);
  return at;
}
