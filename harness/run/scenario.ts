/**
 * One scenario on one machine: its steps in order, each through the kind
 * that runs it (steps/index.ts), with the guest's meminfo before and after.
 * Every step gets a record; a machine lost in a step ends the scenario, the
 * rest of it recorded as not run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diffMeminfo, type Meminfo, parseMeminfo } from '../analysis/meminfo.ts';
import { InterruptedError } from '../errors.ts';
import { sizeConstants } from '../probe/vocabulary.ts';
import type { TargetFacts } from '../scenario/requires.ts';
import type { Scenario, Step } from '../scenario/types.ts';
import type { MachineLease } from './lease.ts';
import type { Machine, MachineSettings } from './machine.ts';
import type { TargetRecorder } from './recorder.ts';
import { kindOf } from './steps/index.ts';
import type { Instance, StepEnv, UserModule } from './steps/kind.ts';

/** What the scenarios of one target run with: its recorder, its machines, its facts. */
export interface ScenarioContext {
  rec: TargetRecorder;
  lease: MachineLease;
  facts: TargetFacts;
  settings: MachineSettings;
  /** Where meminfo snapshots go. */
  dir: string;
  signal?: AbortSignal;
  /** The target's next request number (counter()): unique per target, so each request's kernel-log section is its own. */
  nextSeq(): number;
  testModule?: (name: string) => Promise<string | undefined>;
  failnth?: () => Promise<string>;
  userModule?: (dir: string | undefined) => Promise<UserModule>;
}

/** Numbers 1, 2, 3, … one per call. */
export function counter(): () => number {
  let n = 0;
  return () => ++n;
}

async function snapshot(c: ScenarioContext, m: Machine, s: Scenario, when: string): Promise<Meminfo | undefined> {
  const text = await m.meminfo(c.settings.timeouts.stepMs).catch(() => undefined);
  if (text === undefined) return undefined;
  // Kept beside the console logs, as the guest printed it.
  await mkdir(c.dir, { recursive: true });
  await writeFile(join(c.dir, `meminfo-${s.name}-${when}.txt`), text).catch(() => undefined);
  return parseMeminfo(text);
}

/**
 * One scenario's steps on one machine; every step gets a record. `unmet[i]`:
 * why step i cannot run on this target. An interrupt is thrown on: the
 * target's end records the step in flight and the rest as not run.
 * `replace`: boots a machine like `m` in its place (the lease's), for a step
 * that goes on after its machine was lost (a fault-injection sweep); the
 * steps after it run on the new one.
 */
export async function runScenario(
  c: ScenarioContext,
  s: Scenario,
  m: Machine,
  unmet: (string | undefined)[],
  replace?: () => Promise<Machine>,
): Promise<'ok' | 'lost'> {
  let current = m;
  const g: StepEnv = { ...c, timeouts: c.settings.timeouts, constants: sizeConstants(m.info.constants) };
  if (replace) g.fresh = async () => (current = await replace());
  const before = await snapshot(c, m, s, 'before');
  for (const [i, step] of s.steps.entries()) {
    if (unmet[i]) {
      c.rec.step(s, step, { status: 'skip', reason: unmet[i] });
      continue;
    }
    const lost = await runStep(c.rec, g, () => current, s, step);
    if (lost !== undefined) {
      c.rec.closeRest({ status: 'skip', reason: `not run: ${lost}` }, s);
      c.rec.scenarioEnd({ scenario: s.name });
      return 'lost';
    }
  }
  const after = current === m ? await snapshot(c, m, s, 'after') : undefined;
  const meminfoDelta = before && after ? diffMeminfo(before, after) : undefined;
  c.rec.scenarioEnd({ scenario: s.name, meminfoBefore: before, meminfoAfter: after, meminfoDelta });
  return 'ok';
}

/**
 * One step: resolved, each instance observed and judged, every record
 * written. Returns why the rest of the scenario cannot run when the machine
 * was lost in it. Whatever the harness fails at, the step is on record and
 * the machine is not reused.
 */
async function runStep(rec: TargetRecorder, g: StepEnv, on: () => Machine, s: Scenario, step: Step): Promise<string | undefined> {
  const kind = kindOf(step);
  let inst: Instance | undefined;
  try {
    const planned = await kind.resolve(step, g);
    if (!Array.isArray(planned)) {
      rec.step(s, step, planned);
      return undefined;
    }
    rec.expand(step, planned);
    for (inst of planned) {
      const obs = await kind.observe(on(), step, inst, g);
      for (const f of kind.judge(step, inst, obs, g)) rec.step(s, step, { boot: on().info.boot, ...f });
      if (obs.lost) return kind.lost(inst, obs);
    }
    return undefined;
  } catch (e) {
    if (e instanceof InterruptedError) throw e;
    const name = inst?.name ?? step.name;
    rec.step(s, step, {
      name,
      boot: on().info.boot,
      status: 'error',
      reason: `the harness failed during the step: ${(e as Error).message}`,
    });
    await on()
      .close()
      .catch(() => undefined);
    return kind.lost(inst ?? { name });
  }
}
