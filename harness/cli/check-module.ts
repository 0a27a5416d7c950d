/**
 * `kharness check-module DIR`: one command that builds a user's out-of-tree
 * module for every selected target, loads, exercises and unloads it --cycles
 * times, and says whether anything went wrong: 0 clean, 1 a finding (a leak,
 * a kernel report, a memory error, a failed load or unload, a module that
 * does not compile for a target), 2 could not check. It is `run` over one
 * scenario made here: a module_cycles step with no expectations, so every
 * phase must succeed and make the kernel report nothing (and, on a kernel
 * with kmemleak, leak nothing).
 */
import { freemem } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { INJECT_KINDS, INJECT_NTH_MAX, type InjectKind } from '../inject/kinds.ts';
import { type SweepIO, sweepIO } from '../inject/plan.ts';
import { SWEEP_CAP_DEFAULT } from '../inject/sweep.ts';
import { readModuleDir } from '../module/user.ts';
import { consoleReporter } from '../report/console.ts';
import { parseReporters } from '../report/names.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { defaultParallelTargets, groupByTarget, planTargets, unitsFor } from '../run/plan.ts';
import { runAll } from '../run/run.ts';
import type { ModuleParams, Scenario } from '../scenario/types.ts';
import { hostCpus } from '../util/host.ts';
import { consoleLog } from '../util/log.ts';
import { useColor } from '../util/tty.ts';
import { catalogWith, kernelNames, list, parseMachineFlags, positiveInt } from './args.ts';
import type { Outcome } from './exit.ts';
import { prepareOutDir } from './run.ts';

/** `name=value` module parameters, with the scenario loader's rules: names are identifiers, text carries no shell character. */
export function parseModuleParams(raw: readonly string[]): ModuleParams {
  const out: ModuleParams = {};
  for (const p of raw) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z0-9_.,:/+-]*)$/.exec(p);
    if (!m) throw new UsageError(`--param ${p}: give name=value (letters, digits and _ . , : / + - in the value)`);
    out[m[1]!] = /^-?\d+$/.test(m[2]!) ? Number(m[2]) : m[2]!;
  }
  return out;
}

/** How a check runs the module: load/exercise/unload cycles, or a sweep over its load's allocations. */
export type CheckMode = { cycles: number; exec: string[] } | { sweep: { cap: number; kind: InjectKind; exercise?: SweepIO } };

/** The one scenario a check runs. */
export function checkScenario(dir: string, file: string, o: CheckMode & { params: ModuleParams }): Scenario {
  const pos = { file: dir, line: 1, column: 1 };
  return {
    file: dir,
    name: `check-${file.toLowerCase().replace(/_/g, '-')}`,
    description: `kharness check-module ${dir}`,
    claims: [],
    module: { dir, pos },
    steps: [
      {
        index: 0,
        name: file,
        action:
          'sweep' in o
            ? { kind: 'module-sweep', dir, cap: o.sweep.cap, inject: o.sweep.kind, params: o.params, exercise: o.sweep.exercise }
            : { kind: 'module-cycles', dir, count: o.cycles, params: o.params, exec: o.exec },
        expect: [],
        pos,
      },
    ],
    expectsCrash: false,
  };
}

/** The check's mode from its flags; a flag of the other mode, or a value out of range, is a usage error. */
export function checkMode(v: Record<string, unknown>): CheckMode {
  if (v['inject-sweep']) {
    if (v.cycles !== undefined)
      throw new UsageError('--cycles does not go with --inject-sweep: a sweep loads and unloads the module once per index');
    const exec = (v.exec as string[] | undefined) ?? [];
    if (exec.length > 1) throw new UsageError('--inject-sweep sweeps one exercise: give one --exec');
    const io = exec.length ? sweepIO(exec[0]!) : undefined;
    if (io && 'error' in io) throw new UsageError(`--exec: ${io.error}`);
    const cap = v['inject-cap'] === undefined ? SWEEP_CAP_DEFAULT : positiveInt(v['inject-cap'], '--inject-cap');
    if (cap > INJECT_NTH_MAX) throw new UsageError(`--inject-cap is at most ${INJECT_NTH_MAX}`);
    const kind = String(v['inject-kind'] ?? 'any');
    if (!(INJECT_KINDS as readonly string[]).includes(kind))
      throw new UsageError(`--inject-kind ${kind}: give one of ${INJECT_KINDS.join(', ')}`);
    return { sweep: { cap, kind: kind as InjectKind, ...(io ? { exercise: io } : {}) } };
  }
  for (const f of ['inject-cap', 'inject-kind'] as const) if (v[f] !== undefined) throw new UsageError(`--${f} needs --inject-sweep`);
  const cycles = v.cycles === undefined ? 2 : positiveInt(v.cycles, '--cycles');
  if (cycles > 100) throw new UsageError('--cycles is at most 100');
  return { cycles, exec: (v.exec as string[] | undefined) ?? [] };
}

export async function checkModuleCommand(v: Record<string, unknown>, positionals: string[], signal: AbortSignal): Promise<Outcome> {
  if (positionals.length !== 1) throw new UsageError('give one module directory', 'Usage: kharness check-module DIR [options]');
  // Not a module: one line, exit 2, before anything builds or boots.
  const mod = await readModuleDir(resolve(positionals[0]!));
  const settings = parseMachineFlags(v);
  const reporters = parseReporters((v.reporter as string[] | undefined) ?? []);
  const scenario = checkScenario(mod.dir, mod.file, {
    ...checkMode(v),
    params: parseModuleParams((v.param as string[] | undefined) ?? []),
  });
  const quiet = consoleLog(Boolean(v.verbose));
  const kernels = await kernelNames(v.kernel, v.arch, quiet);
  const targets = planTargets(await catalogWith(kernels), { arches: list(v.arch), kernels });
  const plan = groupByTarget(unitsFor(targets, [scenario.name])).map((g) => ({ target: g.target, scenarios: [scenario] }));
  const outDir = await prepareOutDir(
    resolve(v.out ? String(v.out) : join('kharness-results', `check-${mod.file}-${new Date().toISOString().replace(/[:.]/g, '-')}`)),
  );
  const color = useColor({ flag: v['no-color'] ? false : undefined });
  const summary = await runAll({
    plan,
    outDir,
    log: quiet,
    reporters: reporters.includes('default') ? [consoleReporter({ color, write: (s) => process.stdout.write(s) })] : [],
    settings,
    parallelTargets: v.jobs
      ? positiveInt(v.jobs, '--jobs')
      : defaultParallelTargets(hostCpus().count, freemem() / 2 ** 20, settings.memoryMb),
    parallelBuilds: 1,
    makeJobs: v['make-jobs'] ? positiveInt(v['make-jobs'], '--make-jobs') : undefined,
    argv: process.argv.slice(2),
    signal,
    module: mod.dir,
  });
  const { writeReports } = await import('../report/reporters.ts');
  const written = writeReports(reporters, summary.records, outDir);
  process.stdout.write(`results: ${summary.resultsFile}\n${written.map((p) => `report: ${p}\n`).join('')}`);
  const unchecked = uncheckedTargets(summary.records);
  for (const u of unchecked) process.stdout.write(`not checked on ${u.target}: ${u.reason}\n`);
  // A target where every step was skipped checked nothing: that is not a clean module.
  return unchecked.length && summary.outcome === 'passed' ? 'error' : summary.outcome;
}

/** Targets on which every step was skipped (the kernel lacks what the check needs), with the first reason. Pure. */
export function uncheckedTargets(records: readonly ResultRecord[]): { target: string; reason: string }[] {
  const by = new Map<string, StepRecord[]>();
  for (const r of records)
    if (r.type === 'step') by.set(`${r.target.arch}/${r.target.kernel}`, [...(by.get(`${r.target.arch}/${r.target.kernel}`) ?? []), r]);
  return [...by]
    .filter(([, steps]) => steps.every((x) => x.status === 'skip'))
    .map(([target, steps]) => ({ target, reason: steps[0]!.reason ?? 'skipped' }));
}
