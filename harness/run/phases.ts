/**
 * The phases of one target, in order: prepare (build or fetch the kernel and
 * the probe), requirements (what the built kernel can run), scenarios (each
 * on a machine from the lease). Each phase returns its own status and turns
 * the errors it meets into it, where their meaning is known: a failed `make`
 * is a build failure, a failed `apt-get` an infrastructure failure, a boot
 * that never reaches its marker a boot failure, anything else a bug.
 */
import { InterruptedError, KharnessError } from '../errors.ts';
import type { TargetStatus } from '../results/records.ts';
import { type TargetFacts, unmetReason } from '../scenario/requires.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Log } from '../util/log.ts';
import { effectiveCmdline } from './cmdline.ts';
import type { BootScript, Machine, MachineFactory, MachineSettings } from './machine.ts';
import type { TargetRecorder } from './recorder.ts';
import { runScenario, type ScenarioContext } from './scenario.ts';
import { kindOf, stepUnmetReason } from './steps/index.ts';
import type { StepEnv, UserModule } from './steps/kind.ts';

/** What the prepare phase hands on: the kernel's identity and config, and how to boot it. */
export interface Prepared {
  key: string;
  release: string;
  /** The kernel's .config, parsed: requirements are checked against it. */
  config: Map<string, string>;
  boot: MachineFactory;
  /** The kernel's own test module of that name (its .ko on the host), if the kernel built it. */
  testModule?: (name: string) => Promise<string | undefined>;
  /** The fail-nth loader built for the target's arch (memoised): its host path. */
  failnth?: () => Promise<string>;
  /** The user's module built for this kernel (memoised), by the scenario's directory unless the run names its own. */
  userModule?: (dir: string | undefined) => Promise<UserModule>;
}

export interface PrepareContext {
  arch: string;
  kernel: string;
  /** The target's directory for logs. */
  dir: string;
  settings: MachineSettings;
  log: Log;
  makeJobs?: number;
  /** A git kernel's pinned configuration version (BuildOptions.configVersion). */
  configVersion?: string;
  /** Serialises kernel builds across targets. */
  buildSlot: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Records how long a part of the preparation took. */
  phase(name: string, ms: number, detail?: Record<string, unknown>): void;
  /** The run is being interrupted: a boot that has not started QEMU yet does not start it. */
  signal?: AbortSignal;
  /** The user's module the run names (`--module DIR`): module steps load it, whatever their scenario names. */
  module?: string;
}

export type Prepare = (c: PrepareContext) => Promise<Prepared>;

/** `why`: what kept the steps left from running, for their records (rec.end). */
export type PhaseEnd = { status: TargetStatus; error?: unknown; why?: string };

const isCode = (e: unknown, ...codes: string[]) => e instanceof KharnessError && codes.includes(e.code);

/** Build phase: only the build itself is a build failure; the host's tools failing is infrastructure. */
export function prepareFailure(e: unknown): TargetStatus {
  if (isCode(e, 'INTERRUPTED')) return 'interrupted';
  if (isCode(e, 'BUILD')) return 'build-failure';
  return e instanceof KharnessError ? 'infra-failure' : 'internal-error';
}

/** Machine phase: the guest not coming up (marker, ssh, module, constants) is a boot failure. */
export function bootFailure(e: unknown): TargetStatus {
  if (isCode(e, 'INTERRUPTED')) return 'interrupted';
  if (isCode(e, 'BOOT', 'TIMEOUT', 'GUEST', 'PROBE')) return 'boot-failure';
  return e instanceof KharnessError ? 'infra-failure' : 'internal-error';
}

/**
 * Scenarios on the target's shared VM first; then those with kernel
 * parameters of their own, grouped so that equal command lines share a VM;
 * each crash-expecting one last, on its own VM. Within each VM, the
 * scenarios that run the kernel's own tests come after the probe scenarios:
 * what those tests leave behind (full per-CPU free lists, a rate-limited
 * allocation warning used up) must not change what a probe step observes.
 */
export function orderScenarios(
  scenarios: readonly Scenario[],
  cmdlineOf: (s: Scenario) => readonly string[] = (s) => s.cmdline ?? [],
): Scenario[] {
  const line = (s: Scenario) => cmdlineOf(s).join(' ');
  const rank = (s: Scenario) => (s.expectsCrash ? 2 : line(s) ? 1 : 0);
  return scenarios
    .map((s, i) => ({ s, i }))
    .sort(
      (a, b) =>
        rank(a.s) - rank(b.s) ||
        line(a.s).localeCompare(line(b.s)) ||
        Number(a.s.churns ?? false) - Number(b.s.churns ?? false) ||
        a.i - b.i,
    )
    .map((x) => x.s);
}

/** Requirements phase: scenarios whose requirements the built kernel meets; the others are recorded as skipped. */
export function requirementsPhase(scenarios: readonly Scenario[], facts: TargetFacts, rec: TargetRecorder): Scenario[] {
  return scenarios.filter((s) => {
    const why = unmetReason(s.requires, facts);
    if (why) rec.closeRest({ status: 'skip', reason: why }, s);
    return !why;
  });
}

/**
 * Whether `next`, run after `prev`, needs a machine other than the one `prev`
 * ran on (if that one survived): a crash scenario has a machine to itself,
 * fragmentation left behind is not inherited, other kernel parameters are
 * another VM. Pure: the runner boots that machine ahead on this answer.
 */
export function needsOwnMachine(prev: Scenario, next: Scenario, cmdlineOf: (s: Scenario) => readonly string[]): boolean {
  return (
    prev.expectsCrash || next.expectsCrash || Boolean(prev.leavesFragmented) || cmdlineOf(prev).join(' ') !== cmdlineOf(next).join(' ')
  );
}

/**
 * Scenario `i` runs on a machine of its own at boot when every step it will
 * run can (StepKind.atBoot) and it shares a machine with nothing: the
 * scenario before it on a machine needs another, and so does the one after.
 * A kernel test run alone so starts as soon as the kernel can run it, with
 * no network, sshd or ssh handshake before it. Pure.
 */
export function runsAtBoot(
  ordered: readonly Scenario[],
  i: number,
  needsMachine: readonly boolean[],
  unmetOf: readonly (string | undefined)[][],
  cmdlineOf: (s: Scenario) => readonly string[],
): boolean {
  const s = ordered[i]!;
  if (!s.steps.every((step, k) => unmetOf[i]![k] !== undefined || kindOf(step).atBoot)) return false;
  const near = (from: number, by: number) => {
    for (let k = from + by; k >= 0 && k < ordered.length; k += by) if (needsMachine[k]) return ordered[k];
    return undefined;
  };
  const prev = near(i, -1);
  const next = near(i, 1);
  return (!prev || needsOwnMachine(prev, s, cmdlineOf)) && (!next || needsOwnMachine(s, next, cmdlineOf));
}

/**
 * The scripts that run a scenario's steps from init, each instance numbered
 * from the target's requests (the numbers its steps will take again when
 * they observe, replayed by the returned nextSeq); undefined when it has no
 * instance to run.
 */
async function bootPlan(
  c: ScenarioContext,
  s: Scenario,
  unmet: readonly (string | undefined)[],
): Promise<{ scripts: BootScript[]; nextSeq: () => number } | undefined> {
  const g: StepEnv = { ...c, timeouts: c.settings.timeouts, constants: {} };
  const scripts: BootScript[] = [];
  const seqs: number[] = [];
  for (const [k, step] of s.steps.entries()) {
    if (unmet[k]) continue;
    const kind = kindOf(step);
    const planned = await kind.resolve(step, g);
    if (!Array.isArray(planned)) continue;
    for (const inst of planned) {
      const seq = c.nextSeq();
      seqs.push(seq);
      scripts.push(kind.atBoot!(step, inst, seq));
    }
  }
  if (!scripts.length) return undefined;
  return { scripts, nextSeq: () => seqs.shift() ?? c.nextSeq() };
}

/**
 * Scenarios phase: every scenario on a machine from the lease; ends the
 * target's run of steps. `another`: a further run of the same scenarios
 * follows (--repeat), on fresh machines, so its first one boots ahead too.
 */
export async function scenariosPhase(c: ScenarioContext, scenarios: readonly Scenario[], another = false): Promise<PhaseEnd> {
  // Parameters that restate the kernel's defaults change nothing: such a scenario shares the target's machine.
  const cmdlineOf = (s: Scenario) => effectiveCmdline(s.cmdline ?? [], c.facts.config);
  const ordered = orderScenarios(scenarios, cmdlineOf);
  c.rec.plan(ordered);
  // A scenario none of whose steps this target can run needs no machine.
  const unmetOf = ordered.map((s) => s.steps.map((step) => stepUnmetReason(step, c.facts)));
  const needsMachine = ordered.map((_, i) => unmetOf[i]!.some((why) => why === undefined));
  const nextWithMachine = (i: number) => ordered.findIndex((_, k) => k > i && needsMachine[k]);
  const atBoot = ordered.map((_, i) => needsMachine[i]! && runsAtBoot(ordered, i, needsMachine, unmetOf, cmdlineOf));
  for (const [i, s] of ordered.entries()) {
    // The steps left are recorded as not run by the target's end.
    if (c.signal?.aborted) throw new InterruptedError();
    const unmet = unmetOf[i]!;
    if (!needsMachine[i]) {
      for (const [k, step] of s.steps.entries()) c.rec.step(s, step, { status: 'skip', reason: unmet[k] });
      c.rec.scenarioEnd({ scenario: s.name });
      continue;
    }
    let m: Machine;
    let sc = c;
    try {
      const plan = atBoot[i] ? await bootPlan(c, s, unmet) : undefined;
      if (plan) sc = { ...c, nextSeq: plan.nextSeq };
      m = plan
        ? await c.lease.acquireAtBoot(plan.scripts, s.cmdline ?? [])
        : await c.lease.acquire(s.expectsCrash, s.cmdline ?? [], cmdlineOf(s));
      // The machine the next scenario will need, if not this one, boots while this one works (one run at boot boots when its turn comes).
      const k = nextWithMachine(i);
      const first = needsMachine.indexOf(true);
      const next = k >= 0 ? (atBoot[k] ? undefined : ordered[k]) : another && !atBoot[first] ? ordered[first] : undefined;
      if (next && (k < 0 || plan || needsOwnMachine(s, next, cmdlineOf))) c.lease.bootAhead(next.cmdline ?? [], cmdlineOf(next));
    } catch (e) {
      return { status: c.signal?.aborted ? 'interrupted' : bootFailure(e), error: e, why: `boot failed: ${(e as Error).message}` };
    }
    c.rec.status('running', `scenario ${i + 1}/${ordered.length}: ${s.name}${m.info.atBoot ? ' (at boot)' : ''}`);
    const replace = m.info.atBoot ? undefined : () => c.lease.acquire(true, s.cmdline ?? [], cmdlineOf(s));
    const end = await runScenario(sc, s, m, unmet, replace);
    // Fragmentation left behind would change what the next scenario observes: it gets a fresh machine. One run at boot served its scenario.
    if (end === 'lost' || s.leavesFragmented || m.info.atBoot) await c.lease.discard();
  }
  return { status: 'ok' };
}
