/**
 * The user's module loaded with each of its load's allocations failed in
 * turn (`kharness check-module --inject-sweep`): for N = 1, 2, ... the
 * injection knobs are armed for the step's kind, the fail-nth helper
 * (modules/failnth) loads the module from a task whose Nth allocation fails,
 * the knobs are read back and reset, a load that succeeded is unloaded, and
 * kmemleak (on kernels that have it) says what the failure path left behind.
 * Over an exercise (`--exec 'echo 1 > /sys/...'`), the module is loaded once
 * and the helper makes that one write (or read) with its Nth allocation
 * failed; kmemleak is read before the unload, so the module's frames resolve.
 * The sweep ends at the first N the operation survives without an injection
 * (it made fewer than N allocations), at the cap, or when the kernel dies.
 * What to do next and each row's text are inject/sweep.ts's; this file only
 * runs them on a machine. One instance: its record first, then one per index.
 */
import { formatFrame, parseInjections } from '../../analysis/injection.ts';
import { isEnabled } from '../../analysis/kconfig.ts';
import { type Leak, type ModuleSymbol, moduleSymbols, resolveFrames } from '../../analysis/kmemleak.ts';
import { isFinding, type Splat } from '../../analysis/splats.ts';
import { InterruptedError } from '../../errors.ts';
import { injectUnmet } from '../../inject/kinds.ts';
import { failnthCommand, failnthIOCommand, injectionsBetween, ioOutcome, loadOutcome, parseFailnth } from '../../inject/plan.ts';
import { isFindingIndex, nextIndex, SWEEP_DEATHS_MAX, type SweepEnd, type SweepIndex, sweepExit, sweepRow } from '../../inject/sweep.ts';
import type { Action, StepOf } from '../../scenario/types.ts';
import type { Machine } from '../machine.ts';
import type { Observation } from '../observe.ts';
import type { StepFields } from '../recorder.ts';
import { armInjection, presentCapabilities, resetInjection, uploadFailnth } from './inject.ts';
import type { Instance, StepEnv, StepKind } from './kind.ts';
import {
  GUEST_DIR,
  insmodArgs,
  kmemleakDo,
  kmemleakPhase,
  namedTask,
  oopsed,
  phaseOutput,
  placementScript,
  rcOf,
  runModulePhase,
  runPhase,
  taskOf,
  upload,
} from './module.ts';

type SweepAction = Extract<Action, { kind: 'module-sweep' }>;
/** The allocator reporting the very failure the sweep made (vmalloc's "vm_struct allocation failed"): its echo, not a finding. */
const ECHOES: ReadonlySet<string> = new Set(['alloc-failure', 'vmalloc-failure']);

interface SweepInstance extends Instance {
  module: string;
  ko: string;
}

/** What the sweep found, carried from observe to judge. */
interface SweepResult {
  rows: SweepIndex[];
  end: SweepEnd | 'lost';
  /** The boot each index ran on: after a death, the next runs on a fresh machine. */
  boots: ReadonlyMap<SweepIndex, number>;
}
const RESULTS = new WeakMap<Observation, SweepResult>();

/**
 * One index's row from what the kernel logged for it: the failed allocation
 * (its entry and call site, from the first injection's stack) and the
 * reports that are findings (not the allocator echoing the failure itself).
 */
function indexRow(
  nth: number,
  injected: boolean,
  outcome: string,
  dmesg: readonly string[],
  splats: readonly Splat[],
  crashed: boolean,
): SweepIndex {
  const first = parseInjections(dmesg)[0];
  return {
    nth,
    injected,
    api: first?.api,
    site: first?.site ? formatFrame(first.site) : undefined,
    outcome,
    leaks: [],
    reports: splats.filter((x) => isFinding(x) && !ECHOES.has(x.kind)).map((x) => x.title),
    crashed,
  };
}

/**
 * One index: armed, loaded by the fail-nth loader (its pid kept: kmemleak
 * names the task that made each object, so one scan after the sweep says
 * which index left what), read back and reset, unloaded if it loaded.
 */
async function index(
  m: Machine,
  step: StepOf<SweepAction>,
  inst: SweepInstance,
  nth: number,
  helper: string,
  g: StepEnv,
  wantSymbols: boolean,
) {
  const a = step.action;
  const present = presentCapabilities(g.facts.config);
  const armed = await armInjection(m, { kind: a.inject }, present, g);
  if ('error' in armed) return { error: armed.error };
  const cmd = a.exercise
    ? failnthIOCommand(helper, a.exercise, nth)
    : failnthCommand(helper, `${GUEST_DIR}/${inst.module}.ko`, nth, insmodArgs(a.params));
  const body = namedTask(cmd);
  const what = `phase=${a.exercise ? 'exercise' : 'load'}-nth=${nth} module=${inst.module}`;
  const load = await runPhase(m, g, what, what, body, a.timeoutMs);
  if (load.lost) return { load };
  // An oops killed the loader (or the exercise) where it stood, locks held: the guest answers but is not used again.
  if (oopsed(load.splats)) {
    const row = indexRow(nth, true, `an oops killed the ${a.exercise ? a.exercise.op : 'load'}`, load.dmesg, load.splats, true);
    return { load, row, dmesg: load.dmesg, splats: load.splats };
  }
  const after = await resetInjection(m, present, g);
  const parsed = parseFailnth(load.output ?? '');
  if ('error' in parsed) return { load, error: a.exercise ? `${parsed.error}: ${a.exercise.path}` : parsed.error };
  const made = after ? injectionsBetween(armed.times, after) : {};
  const injected = parsed.failNthLeft === 0 || Object.values(made).some((n) => (n ?? 0) > 0);
  const dmesg = [...load.dmesg];
  const splats = [...load.splats];
  let unloaded: Observation | undefined;
  let symbols: ModuleSymbol[] | undefined;
  if (parsed.rc === 0 && !a.exercise) {
    // Its symbols where a load put it, read once: a failed load frees the module before kmemleak reports, leaving bare addresses.
    if (wantSymbols) {
      const where = await m.exec(placementScript(inst.module), { timeoutMs: g.timeouts.stepMs }).catch(() => undefined);
      symbols = where ? moduleSymbols(where.stdout.split('\n---\n')[2] ?? '', inst.module) : undefined;
    }
    unloaded = await runModulePhase(m, g, { phase: 'unload', module: inst.module, params: {}, timeoutMs: a.timeoutMs });
    if (unloaded.lost) return { load, unloaded };
    dmesg.push(...unloaded.dmesg);
    splats.push(...unloaded.splats);
  }
  const pid = taskOf(load.output);
  const row = indexRow(nth, injected, a.exercise ? ioOutcome(a.exercise, parsed.rc) : loadOutcome(parsed.rc), dmesg, splats, false);
  return { load, row, dmesg, splats, pid, symbols };
}

/**
 * Where a leaked object was allocated, for its row: the module's frame, else
 * the first frame. A failed load freed the module before kmemleak reported,
 * so its frames are bare addresses: they are named from the symbols of a
 * load that succeeded in the same sweep (the module area is first-fit, and
 * every load of the sweep asked it for the same sizes), and say so.
 */
function leakSite(l: Leak, module: string, symbols: readonly ModuleSymbol[]): string | undefined {
  const named = resolveFrames(l, module, symbols, 'named at the address a successful load of the sweep took');
  return (named.frames.find((f) => f.module === module) ?? named.frames.find((f) => f.addr !== undefined) ?? named.frames[0])?.text;
}

/** kmemleak's report after the sweep, each object to the index whose loader task (pid) allocated it. */
async function leaksByIndex(
  m: Machine,
  g: StepEnv,
  module: string,
  pids: ReadonlyMap<number, SweepIndex>,
  symbols: readonly ModuleSymbol[],
): Promise<string | undefined> {
  const found = await kmemleakPhase(m, Date.now(), g);
  if ('error' in found) return found.error;
  const by = new Map<SweepIndex, Leak[]>();
  for (const l of found.leaks) {
    const row = l.pid === undefined ? undefined : pids.get(l.pid);
    if (row) by.set(row, [...(by.get(row) ?? []), l]);
  }
  for (const [row, ls] of by)
    row.leaks.push({ objects: ls.length, bytes: ls.reduce((n, l) => n + l.size, 0), from: leakSite(ls[0]!, module, symbols) });
  return undefined;
}

/** A sweep's machine and what it learnt there: a machine booted after a death starts afresh. */
interface OnMachine {
  m: Machine;
  helper: string;
  /** Each index's loader task, for kmemleak's attribution: pids are the machine's own. */
  pids: Map<number, SweepIndex>;
  /** The module's symbols where a load on this machine put it. */
  symbols: ModuleSymbol[];
}

/**
 * A machine made ready for the sweep: the fail-nth loader and the module
 * uploaded, what the boot left in kmemleak flushed, and, over an exercise,
 * the module loaded plainly. Or why it could not be.
 */
async function prepare(m: Machine, step: StepOf<SweepAction>, inst: SweepInstance, g: StepEnv): Promise<OnMachine | { obs: Observation }> {
  const none = { request: '', facts: {}, splats: [], dmesg: [], crashed: false, lost: false, ms: 0 };
  const helper = await uploadFailnth(m, await g.failnth!(), g);
  await upload(m, inst, g);
  // What the boot left in kmemleak is not the module's.
  if (isEnabled(g.facts.config, 'CONFIG_DEBUG_KMEMLEAK')) {
    const refused = await kmemleakDo(m, ['scan=off', 'scan', 'scan', 'clear'], g);
    if (refused) return { obs: { ...none, error: refused } };
  }
  if (step.action.exercise) {
    // The exercise needs the module in: loaded once, plainly, before the sweep.
    const loaded = await runModulePhase(m, g, {
      phase: 'load',
      module: inst.module,
      params: step.action.params,
      timeoutMs: step.action.timeoutMs,
    });
    if (loaded.lost) return { obs: loaded };
    if (rcOf(loaded.output) !== 0) {
      const why = phaseOutput(loaded.output).split('\n')[0];
      return { obs: { ...none, dmesg: loaded.dmesg, error: `${inst.module} did not load, so its exercise cannot be swept: ${why}` } };
    }
  }
  return { m, helper, pids: new Map(), symbols: [] };
}

export const moduleSweepStep: StepKind<SweepAction, SweepInstance> = {
  unmet: (step, t) => injectUnmet(step.action.inject, t),

  async resolve(step, g) {
    if (!g.userModule) return { status: 'error', reason: 'this run builds no user module' };
    if (!g.failnth) return { status: 'error', reason: 'this run cannot build the fail-nth loader' };
    const built = await g.userModule(step.action.dir);
    if (!built.ok) return { status: built.infra ? 'error' : 'fail', reason: built.error, details: built.details };
    return [{ name: step.name, module: built.name, ko: built.ko }];
  },

  async observe(m, step, inst, g) {
    const t0 = Date.now();
    const io = step.action.exercise;
    const swept = io ? `--${io.op} ${io.path}` : `${inst.module}.ko`;
    const base = { request: `failnth N ${swept} (N = 1, 2, ...)`, facts: {}, splats: [], crashed: false, lost: false };
    const rows: SweepIndex[] = [];
    const boots = new Map<SweepIndex, number>();
    const dmesg: string[] = [];
    const kmemleak = isEnabled(g.facts.config, 'CONFIG_DEBUG_KMEMLEAK');
    const ended = (end: SweepResult['end'], obs: Observation): Observation => {
      RESULTS.set(obs, { rows, end, boots });
      return obs;
    };
    let on = await prepare(m, step, inst, g);
    if ('obs' in on) return { ...on.obs, request: base.request, ms: Date.now() - t0 };
    for (let next = nextIndex(rows, step.action.cap); 'next' in next; next = nextIndex(rows, step.action.cap)) {
      if (g.signal?.aborted) throw new InterruptedError();
      const r = await index(on.m, step, inst, next.next, on.helper, g, on.symbols.length === 0);
      // The machine was lost at this index (not an oops on a guest that still answers).
      let lost: Observation | undefined;
      if (r.row) {
        rows.push(r.row);
        boots.set(r.row, on.m.info.boot);
        if (r.symbols?.length) on.symbols = r.symbols;
        if (r.pid) on.pids.set(r.pid, r.row);
        if (isFindingIndex(r.row)) dmesg.push(`kharness: #${r.row.nth}`, ...r.dmesg);
        if (!r.row.crashed) continue;
      } else {
        lost = r.unloaded?.lost ? r.unloaded : r.load;
        if (!lost?.lost) return { ...base, dmesg, ms: Date.now() - t0, error: `at #${next.next}: ${r.error}` };
        const row: SweepIndex = {
          nth: next.next,
          injected: true,
          outcome: lost.crashed ? 'the kernel died' : (lost.error ?? 'the guest was lost'),
          leaks: [],
          reports: lost.splats.filter(isFinding).map((x) => x.title),
          crashed: true,
        };
        rows.push(row);
        boots.set(row, on.m.info.boot);
        dmesg.push(`kharness: #${row.nth}`, ...lost.dmesg);
      }
      // A death, or an oops that left the guest alive but untrusted: what its earlier indexes left
      // behind is read if it still answers (not lost), else it is gone with it; then a fresh machine
      // takes the next index, or, with none to be had, the sweep ends here.
      const dead = rows.at(-1)!;
      if (kmemleak && on.pids.size) {
        const read = !lost && (await leaksByIndex(on.m, g, inst.module, on.pids, on.symbols)) === undefined;
        if (!read) for (const earlier of on.pids.values()) earlier.unscanned = dead.nth;
      }
      if (lost && !g.fresh) return ended('lost', { ...lost, request: base.request, dmesg, ms: Date.now() - t0 });
      if (!('next' in nextIndex(rows, step.action.cap)) || !g.fresh) break;
      let fresh: Machine;
      try {
        fresh = await g.fresh();
      } catch (e) {
        if (e instanceof InterruptedError || g.signal?.aborted) throw new InterruptedError();
        return {
          ...base,
          dmesg,
          ms: Date.now() - t0,
          error: `after #${dead.nth} killed the kernel, a fresh machine did not boot: ${(e as Error).message}`,
        };
      }
      on = await prepare(fresh, step, inst, g);
      if ('obs' in on) return { ...on.obs, request: base.request, dmesg: [...dmesg, ...on.obs.dmesg], ms: Date.now() - t0 };
    }
    const done = nextIndex(rows, step.action.cap);
    const end = 'done' in done ? done.done : 'complete';
    // The sweep ended on a death (its last index, or too many): that machine is not used again.
    if (rows.at(-1)?.crashed) return ended(end, { ...base, dmesg, ms: Date.now() - t0, lost: true, crashed: true });
    if (kmemleak) {
      const failed = await leaksByIndex(on.m, g, inst.module, on.pids, on.symbols);
      if (failed) return { ...base, dmesg, ms: Date.now() - t0, error: failed };
    }
    if (io) {
      const unloaded = await runModulePhase(on.m, g, {
        phase: 'unload',
        module: inst.module,
        params: {},
        timeoutMs: step.action.timeoutMs,
      });
      if (unloaded.lost) return { ...unloaded, request: base.request, dmesg: [...dmesg, ...unloaded.dmesg], ms: Date.now() - t0 };
    }
    return ended(end, { ...base, dmesg, ms: Date.now() - t0 });
  },

  judge(step, inst, obs) {
    const r = RESULTS.get(obs);
    const own: StepFields = { name: inst.name, request: obs.request, dmesg: obs.dmesg, ms: obs.ms, status: 'error', reason: obs.error };
    if (!r) return [own];
    const parts = r.rows.map(
      (row): StepFields => ({
        name: `${inst.name}: #${row.nth}`,
        boot: r.boots.get(row),
        status: isFindingIndex(row) ? 'fail' : 'pass',
        reason: sweepRow(row),
        facts: { nth: row.nth, injected: row.injected, outcome: row.outcome, leaks: row.leaks.reduce((n, l) => n + l.objects, 0) },
      }),
    );
    const findings = r.rows.filter(isFindingIndex).length;
    const exit = r.end === 'lost' ? 1 : sweepExit(r.rows, r.end);
    const status = exit === 0 ? 'pass' : exit === 1 ? 'fail' : 'error';
    const deaths = r.rows.filter((x) => x.crashed).length;
    const reason =
      r.end === 'capped'
        ? `stopped at the cap of ${step.action.cap}: the ${step.action.exercise ? step.action.exercise.op : 'load'} still had allocations left to fail`
        : r.end === 'deaths'
          ? `stopped after ${deaths} indexes killed the kernel (${SWEEP_DEATHS_MAX} at most, each on a machine of its own)`
          : `${r.rows.length} index(es), ${findings} left a leak, a report or a dead kernel${deaths ? `; ${deaths} killed it` : ''}`;
    return [{ ...own, status, reason, facts: { indexes: r.rows.length, findings } }, ...parts];
  },

  lost: (inst, obs) => `the kernel died during the sweep of ${inst.module}${obs?.error ? ` (${obs.error})` : ''}`,
};
