import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ScenarioError, UsageError } from '../errors.ts';
import { readModuleDir } from '../module/user.ts';
import { cacheRoot, SCENARIOS_DIR } from '../paths.ts';
import { consoleReporter } from '../report/console.ts';
import { githubReporter } from '../report/github.ts';
import { liveFooter } from '../report/live.ts';
import { parseReporters } from '../report/names.ts';
import type { ResultRecord } from '../results/records.ts';
import { defaultParallelTargets, groupByTarget, parseShard, planTargets, shardUnits, unitsFor } from '../run/plan.ts';
import { runAll } from '../run/run.ts';
import { loadScenarioFile } from '../scenario/file.ts';
import type { Scenario } from '../scenario/types.ts';
import { hostCpus } from '../util/host.ts';
import { consoleLog } from '../util/log.ts';
import { isCI, useColor } from '../util/tty.ts';
import { catalogWith, kernelNames, list, parseMachineFlags, positiveInt } from './args.ts';
import { compareFlags, parseRule } from './compare-flags.ts';
import type { Outcome } from './exit.ts';
import { readRun } from './runs.ts';

/** Files, directories of *.yaml, or (none given) every shipped scenario. */
export async function resolveScenarioFiles(args: string[]): Promise<string[]> {
  const inputs = args.length ? args : [SCENARIOS_DIR];
  const out: string[] = [];
  for (const a of inputs) {
    const st = await stat(a).catch(() => undefined);
    if (!st) throw new UsageError(`no such scenario file or directory: ${a}`);
    if (st.isDirectory()) {
      const yaml = (await readdir(a)).filter((f) => /\.ya?ml$/.test(f)).sort();
      if (!yaml.length) throw new UsageError(`no scenario files (*.yaml) in ${a}`);
      for (const f of yaml) out.push(join(a, f));
    } else if (st.isFile()) out.push(a);
    else throw new UsageError(`${a} is not a scenario file or a directory`);
  }
  return out;
}

/** The output directory, made and proven writable before anything builds: a bad --out costs nothing. */
export async function prepareOutDir(dir: string, flag = '--out'): Promise<string> {
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new UsageError(`${flag} ${dir} exists and is not a directory`);
  try {
    // Made one level at a time: Node's recursive mkdir spins forever under /proc.
    const missing: string[] = [];
    for (let d = dir; !(await stat(d).catch(() => undefined)); d = dirname(d)) {
      if (dirname(d) === d) break;
      missing.unshift(d);
    }
    for (const d of missing) await mkdir(d);
    const probe = join(dir, `.kharness-write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe);
  } catch (e) {
    throw new UsageError(
      `cannot write results to ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      `Give ${flag} a directory you can write.`,
    );
  }
  return dir;
}

/** Every module a scenario names is a module directory, or its file:line:col says why not. */
export async function checkScenarioModules(scenarios: Scenario[]): Promise<void> {
  for (const s of scenarios) {
    if (!s.module) continue;
    try {
      await readModuleDir(s.module.dir);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      throw new ScenarioError(s.module.pos.file, s.module.pos.line, s.module.pos.column, e.message);
    }
  }
}

export async function runCommand(v: Record<string, unknown>, positionals: string[], signal: AbortSignal): Promise<Outcome> {
  const settings = parseMachineFlags(v);
  const reporters = parseReporters((v.reporter as string[] | undefined) ?? []);
  const repeat = v.repeat === undefined ? 1 : positiveInt(v.repeat, '--repeat');
  const rule = parseRule(v);
  // A baseline that cannot be read is found before anything builds.
  const baseline = v.baseline ? { dir: String(v.baseline), records: await readRun(String(v.baseline)) } : undefined;
  const history = v.history ? await prepareOutDir(resolve(String(v.history)), '--history') : undefined;
  const files = await resolveScenarioFiles(positionals);
  // Every file is validated before anything builds: a typo costs seconds, not a kernel build.
  const scenarios = await Promise.all(files.map((f) => loadScenarioFile(f, cacheRoot())));
  // A module that is not one is found before anything builds: the flag's, and each scenario's own.
  const module = v.module === undefined ? undefined : (await readModuleDir(resolve(String(v.module)))).dir;
  if (module === undefined) await checkScenarioModules(scenarios);
  const byName = new Map(scenarios.map((s) => [s.name, s]));
  if (byName.size !== scenarios.length)
    throw new UsageError('two scenario files use the same name', 'Scenario names identify results: make them unique.');
  const quiet = consoleLog(Boolean(v.verbose));
  const kernels = await kernelNames(v.kernel, v.arch, quiet);
  const targets = planTargets(await catalogWith(kernels), { arches: list(v.arch), kernels });
  let units = unitsFor(
    targets,
    scenarios.map((s) => s.name),
  );
  if (v.shard) {
    const { index, count } = parseShard(String(v.shard));
    units = shardUnits(units, index, count);
    // A CI with a fixed job count (GitLab's `parallel: N`) may have more shards than targets.
    if (!units.length) quiet.info(`shard ${index}/${count}: no targets (the matrix has ${targets.length}): nothing to run`);
  }
  const plan = groupByTarget(units).map((g) => ({ target: g.target, scenarios: g.scenarios.map((n) => byName.get(n)!) }));
  const outDir = await prepareOutDir(
    resolve(v.out ? String(v.out) : join('kharness-results', new Date().toISOString().replace(/[:.]/g, '-'))),
  );
  const color = useColor({ flag: v.color ? true : v['no-color'] ? false : undefined });
  // Live footer only on a real terminal; in CI or a pipe, plain lines.
  const live =
    process.stdout.isTTY && !isCI() && !process.env.NO_COLOR && reporters.includes('default')
      ? liveFooter((s) => process.stdout.write(s))
      : undefined;
  const out = (s: string) => (live ? live.print(s) : process.stdout.write(s));
  const log = consoleLog(Boolean(v.verbose), live ? (s) => live.print(s) : undefined);
  const summary = await runAll({
    plan,
    outDir,
    log,
    reporters: [
      ...(live ? [(r: ResultRecord) => live.onRecord(r)] : []),
      ...(reporters.includes('default') ? [consoleReporter({ color, write: out })] : []),
      // On GitHub Actions each failed expectation is also an annotation on its YAML line.
      ...(process.env.GITHUB_ACTIONS === 'true' ? [githubReporter((s) => process.stdout.write(s))] : []),
    ],
    settings,
    parallelTargets: v.jobs
      ? positiveInt(v.jobs, '--jobs')
      : defaultParallelTargets(hostCpus().count, freemem() / 2 ** 20, settings.memoryMb),
    parallelBuilds: v['build-jobs'] ? positiveInt(v['build-jobs'], '--build-jobs') : 1,
    makeJobs: v['make-jobs'] ? positiveInt(v['make-jobs'], '--make-jobs') : undefined,
    argv: process.argv.slice(2),
    signal,
    repeat,
    module,
  });
  live?.stop();
  // The renderers, the comparison and the history are loaded once the guests are done with.
  const { writeReports } = await import('../report/reporters.ts');
  const written = writeReports(reporters, summary.records, outDir);
  process.stdout.write(`results: ${summary.resultsFile}\n${written.map((p) => `report: ${p}\n`).join('')}`);
  if (history) process.stdout.write(`kept in history: ${await (await import('./history.ts')).keepInHistory(history, summary.records)}\n`);
  if (!baseline || summary.outcome === 'error' || summary.outcome === 'interrupted' || summary.outcome === 'incomplete')
    return summary.outcome;
  process.stdout.write('\n');
  const { compareAndReport } = await import('./compare.ts');
  const c = await compareAndReport(baseline.records, summary.records, { base: baseline.dir, next: outDir }, outDir, {
    rule,
    ...compareFlags(v),
  });
  return c.regressed ? 'failed' : 'passed';
}
