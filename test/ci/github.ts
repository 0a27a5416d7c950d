/**
 * A small, strict interpreter of a GitHub Actions workflow, for running
 * .github/workflows/nightly.yml on this machine: jobs in `needs` order,
 * matrices expanded, `${{ }}` evaluated strictly (expr.ts), `run:` steps
 * executed with bash in a fresh clone with the job's own HOME (so its own
 * ~/.cache/kharness), GITHUB_OUTPUT/ENV/STEP_SUMMARY, RUNNER_TEMP and CI=true,
 * `if:` honoured, and `uses:` steps emulated by a table (ACTIONS) that
 * refuses inputs an action does not have. Jobs run one after another: this
 * machine must not boot two guests at once. Containers are not started: the
 * host is Debian 12, as the workflow's `debian:12` container is.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { ACTIONS, type ActionCall, type Stores } from './actions.ts';
import { baseEnv, type JobRun, kernelEntries, type Machine, runScript } from './common.ts';
import { type Context, condition, interpolate, type Status, toText, type Value } from './expr.ts';

export type Job = {
  needs?: string | string[];
  if?: string;
  name?: string;
  'runs-on': string;
  container?: string | { image: string; options?: string };
  'timeout-minutes'?: number;
  strategy?: { 'fail-fast'?: boolean; matrix: string | Record<string, unknown> };
  env?: Record<string, string>;
  outputs?: Record<string, string>;
  steps: Step[];
};
export type Step = {
  id?: string;
  name?: string;
  if?: string;
  uses?: string;
  with?: Record<string, string | number | boolean>;
  run?: string;
  shell?: string;
  env?: Record<string, string>;
  'continue-on-error'?: boolean;
};
export type Workflow = {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  defaults?: { run?: { shell?: string } };
  env?: Record<string, string>;
  jobs: Record<string, Job>;
};

export const needsOf = (j: Job): string[] => (j.needs === undefined ? [] : Array.isArray(j.needs) ? j.needs : [j.needs]);

export function readWorkflow(text: string): Workflow {
  return parse(text) as Workflow;
}

/** Jobs in an order where each comes after what it needs; a cycle or an unknown need throws. */
export function jobOrder(jobs: Record<string, { needs?: string | string[] }>): string[] {
  const out: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, chain: string[]) => {
    if (!(id in jobs)) throw new Error(`job ${chain.at(-1)} needs "${id}", which does not exist`);
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`needs cycle: ${[...chain, id].join(' -> ')}`);
    state.set(id, 'visiting');
    for (const n of needsOf(jobs[id] as Job)) visit(n, [...chain, id]);
    state.set(id, 'done');
    out.push(id);
  };
  for (const id of Object.keys(jobs)) visit(id, []);
  return out;
}

/** A matrix's combinations: `include` entries, or the product of its axes (what nightly.yml uses, nothing more). */
export function expandMatrix(m: Value): Record<string, Value>[] {
  if (!m || typeof m !== 'object' || Array.isArray(m)) throw new Error(`a matrix must be an object, not ${JSON.stringify(m)}`);
  const { include, exclude, ...axes } = m as Record<string, Value>;
  if (exclude !== undefined) throw new Error('matrix exclude is not supported by this interpreter');
  const axisNames = Object.keys(axes);
  if (axisNames.length && include !== undefined) throw new Error('matrix axes with include are not supported by this interpreter');
  if (include !== undefined) {
    if (!Array.isArray(include) || !include.length) throw new Error('matrix include must be a non-empty list');
    return include as Record<string, Value>[];
  }
  let combos: Record<string, Value>[] = [{}];
  for (const a of axisNames) combos = combos.flatMap((c) => (axes[a] as Value[]).map((v) => ({ ...c, [a]: v })));
  return combos;
}

export interface JobResult {
  result: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
  runs: JobRun[];
}

export interface Attempt {
  results: Record<string, JobResult>;
  /** Every job instance that ran in this attempt. */
  runs: JobRun[];
}

export interface RunOptions {
  m: Machine;
  stores: Stores;
  event: 'workflow_dispatch' | 'schedule';
  inputs: Record<string, string>;
  runId: string;
  attempt: number;
  /**
   * A re-run, as GitHub's "Re-run job" does it: the chosen instances of the
   * seed jobs, then every job that needs them, whole; the other jobs and
   * instances keep the previous attempt's results and artifacts.
   */
  rerun?: { previous: Attempt; seeds: string[]; instance: (job: string, matrix: Record<string, Value>) => boolean };
  /** Told each line of progress. */
  progress?: (s: string) => void;
}

/** Runs the workflow once (one attempt). */
export async function runWorkflow(w: Workflow, o: RunOptions): Promise<Attempt> {
  const results: Record<string, JobResult> = {};
  const runs: JobRun[] = [];
  const inputs = Object.fromEntries(
    Object.entries((w.on.workflow_dispatch as { inputs?: Record<string, { default?: string }> })?.inputs ?? {}).map(([k, d]) => [
      k,
      o.event === 'workflow_dispatch' ? (o.inputs[k] ?? d.default ?? '') : '',
    ]),
  );
  for (const k of Object.keys(o.inputs)) if (!(k in inputs)) throw new Error(`the workflow has no input "${k}"`);
  const order = jobOrder(w.jobs);
  const rerunJobs = new Set(o.rerun?.seeds ?? []);
  for (const id of order) if (needsOf(w.jobs[id]!).some((n) => rerunJobs.has(n))) rerunJobs.add(id);
  for (const id of order) {
    const job = w.jobs[id]!;
    const prev = o.rerun?.previous.results[id];
    if (o.rerun && !rerunJobs.has(id)) {
      results[id] = prev!;
      continue;
    }
    const needs = needsOf(job);
    const needsCtx = Object.fromEntries(needs.map((n) => [n, { result: results[n]!.result, outputs: results[n]!.outputs }])) as Value;
    const ctxBase = { github: githubCtx(o), inputs, needs: needsCtx };
    const needsOk: Status = { ok: needs.every((n) => results[n]!.result === 'success') };
    if (!condition(job.if, ctxBase, needsOk)) {
      results[id] = { result: 'skipped', outputs: {}, runs: [] };
      continue;
    }
    const matrix = job.strategy ? expandMatrix(interpolate(String(toYamlValue(job.strategy.matrix)), ctxBase)) : [{}];
    const seed = o.rerun?.seeds.includes(id);
    const byIndex: JobRun[] = [];
    let outputs: Record<string, string> = {};
    for (const [index, combo] of matrix.entries()) {
      if (seed && !o.rerun!.instance(id, combo)) {
        if (!prev?.runs[index]) throw new Error(`${id}: instance ${index} has no previous run to keep`);
        byIndex[index] = prev.runs[index]!;
        continue;
      }
      const r = await runJob(w, id, job, { ...o, inputs }, ctxBase, combo, index, matrix.length);
      byIndex[index] = r.run;
      runs.push(r.run);
      outputs = { ...outputs, ...r.outputs };
      o.progress?.(`[github] ${r.run.id}: ${r.run.ok ? 'success' : 'failure'} in ${Math.round(r.run.ms / 1000)} s`);
    }
    results[id] = { result: byIndex.every((r) => r.ok) ? 'success' : 'failure', outputs, runs: byIndex };
  }
  return { results, runs };
}

function githubCtx(o: RunOptions): Value {
  return { run_id: o.runId, run_attempt: String(o.attempt), event_name: o.event, repository: 'kharness/kharness', ref: 'refs/heads/main' };
}

/** A strategy.matrix given as YAML (an object) or as an expression string. */
function toYamlValue(m: string | Record<string, unknown>): string {
  return typeof m === 'string' ? m : `\${{ fromJSON('${JSON.stringify(m).replace(/'/g, "''")}') }}`;
}

async function runJob(
  w: Workflow,
  id: string,
  job: Job,
  o: RunOptions,
  ctxBase: Context,
  combo: Record<string, Value>,
  index: number,
  total: number,
): Promise<{ run: JobRun; outputs: Record<string, string> }> {
  const started = Date.now();
  const ctx0: Context = { ...ctxBase, matrix: combo, strategy: { 'job-index': index, 'job-total': total, 'fail-fast': false } };
  const display = job.name ? toText(interpolate(job.name, ctx0)) : id;
  const instance = `${id} (${display}) attempt ${o.attempt}`;
  const dirs = o.m.jobDir(`${id}-${index}-${display}-attempt-${o.attempt}`);
  const timeoutMs = (job['timeout-minutes'] ?? 360) * 60_000;
  let log = '';
  const append = (s: string) => {
    log += s;
  };
  const env: Record<string, string> = {
    ...baseEnv(o.m, dirs.home),
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: dirs.work,
    GITHUB_RUN_ID: o.runId,
    GITHUB_RUN_ATTEMPT: String(o.attempt),
    GITHUB_JOB: id,
    RUNNER_TEMP: dirs.temp,
    RUNNER_OS: 'Linux',
  };
  const runnerCtx = { temp: dirs.temp, os: 'Linux' };
  for (const [k, v] of Object.entries(w.env ?? {})) env[k] = toText(interpolate(String(v), { ...ctx0, runner: runnerCtx }));
  for (const [k, v] of Object.entries(job.env ?? {})) env[k] = toText(interpolate(String(v), { ...ctx0, runner: runnerCtx, env }));
  const stepIds = new Set(job.steps.map((s) => s.id).filter(Boolean) as string[]);
  const steps: Record<string, { outputs: Record<string, string>; outcome: string }> = {};
  const stepsCtx = (path: string[]): Value => {
    const [sid, what, key] = path;
    if (!sid || !stepIds.has(sid)) throw new Error(`${id}: steps.${sid} is not a step id of this job`);
    if (what !== 'outputs' && what !== 'outcome' && what !== 'conclusion') throw new Error(`${id}: steps.${sid}.${what} is not supported`);
    const s = steps[sid];
    if (what !== 'outputs') return s?.outcome ?? '';
    return key === undefined ? (s?.outputs ?? {}) : (s?.outputs[key] ?? '');
  };
  const ctx = (): Context => ({ ...ctx0, runner: runnerCtx, env: { ...env }, steps: stepsCtx });
  const before = new Set(kernelEntries(join(dirs.home, '.cache', 'kharness')));
  let ok = true;
  for (const [n, step] of job.steps.entries()) {
    if (step['continue-on-error'] !== undefined) throw new Error(`${id}: continue-on-error is not supported by this interpreter`);
    const label = step.name ?? step.id ?? step.uses ?? step.run!.split('\n')[0]!;
    if (!condition(step.if, ctx(), { ok })) {
      append(`[ci] skipped: ${label}\n`);
      if (step.id) steps[step.id] = { outputs: {}, outcome: 'skipped' };
      continue;
    }
    append(`[ci] step ${n + 1}: ${label}\n`);
    const files = { output: join(dirs.temp, `output-${n}`), env: join(dirs.temp, `env-${n}`), summary: join(dirs.temp, `summary-${n}`) };
    for (const f of Object.values(files)) writeFileSync(f, '');
    const stepEnv: Record<string, string> = {
      ...env,
      GITHUB_OUTPUT: files.output,
      GITHUB_ENV: files.env,
      GITHUB_STEP_SUMMARY: files.summary,
    };
    for (const [k, v] of Object.entries(step.env ?? {})) stepEnv[k] = toText(interpolate(String(v), ctx()));
    const remaining = Math.max(1000, timeoutMs - (Date.now() - started));
    let stepOk: boolean;
    let outputs: Record<string, string> = {};
    if (step.run !== undefined) {
      const script = toText(interpolate(step.run, ctx()));
      const file = join(dirs.temp, `step-${n}.sh`);
      writeFileSync(file, script);
      const shell = step.shell ?? w.defaults?.run?.shell ?? 'bash';
      if (shell !== 'bash') throw new Error(`${id}: shell ${shell} is not supported by this interpreter`);
      stepOk = await runScript(['bash', '--noprofile', '--norc', '-eo', 'pipefail', file], {
        cwd: dirs.work,
        env: stepEnv,
        timeoutMs: remaining,
        log: append,
      });
      outputs = readKeyValues(files.output);
    } else {
      const action = ACTIONS[step.uses ?? ''];
      if (!action) throw new Error(`${id}: no emulation for uses: ${step.uses}`);
      const unknown = Object.keys(step.with ?? {}).filter((k) => !action.inputs.includes(k));
      if (unknown.length) throw new Error(`${id}: ${step.uses} has no input ${unknown.join(', ')}`);
      const missing = action.required.filter((k) => !(k in (step.with ?? {})));
      if (missing.length) throw new Error(`${id}: ${step.uses} needs ${missing.join(', ')}`);
      const withs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, toText(interpolate(String(v), ctx()))]));
      const call: ActionCall = {
        with: withs,
        work: dirs.work,
        home: dirs.home,
        env: stepEnv,
        m: o.m,
        stores: o.stores,
        permissions: w.permissions ?? {},
      };
      try {
        outputs = await action.run(call);
        stepOk = true;
      } catch (e) {
        append(`[ci] ${step.uses} failed: ${(e as Error).message}\n`);
        stepOk = false;
      }
    }
    if (!stepOk) ok = false;
    // What a cache restore brought was built by an earlier job, not this one.
    if (step.uses?.startsWith('actions/cache/restore')) for (const k of kernelEntries(join(dirs.home, '.cache', 'kharness'))) before.add(k);
    if (step.id) steps[step.id] = { outputs, outcome: stepOk ? 'success' : 'failure' };
    Object.assign(env, readKeyValues(files.env));
    if (Date.now() - started > timeoutMs) {
      append(`[ci] job timed out after ${job['timeout-minutes']} minutes\n`);
      ok = false;
      break;
    }
  }
  const outputs = Object.fromEntries(Object.entries(job.outputs ?? {}).map(([k, v]) => [k, toText(interpolate(v, ctx()))]));
  const builtKernels = kernelEntries(join(dirs.home, '.cache', 'kharness')).filter((k) => !before.has(k));
  writeFileSync(join(dirs.temp, '..', 'job.log'), log);
  return { run: { id: instance, ok, log, builtKernels, ms: Date.now() - started }, outputs };
}

/** GITHUB_OUTPUT / GITHUB_ENV: `key=value` lines and `key<<DELIM` ... `DELIM` blocks. */
export function readKeyValues(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  const lines = readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (!l) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(l);
    if (heredoc) {
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== heredoc[2]; i++) body.push(lines[i]!);
      if (i >= lines.length) throw new Error(`unterminated ${heredoc[1]}<<${heredoc[2]} in ${file}`);
      out[heredoc[1]!] = body.join('\n');
      continue;
    }
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`not key=value: "${l}" in ${file}`);
    out[l.slice(0, eq)] = l.slice(eq + 1);
  }
  return out;
}

/** A path as an action reads it: `~` is the job's HOME, a relative path is under the workspace. */
export function actionPath(p: string, work: string, home: string): string {
  const t = p.trim();
  if (t === '~' || t.startsWith('~/')) return join(home, t.slice(1));
  return isAbsolute(t) ? t : join(work, t);
}
