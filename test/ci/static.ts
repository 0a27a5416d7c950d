/**
 * What cannot be executed here, checked as data: actions' inputs and
 * permissions, the needs graph, expressions naming only known contexts and
 * functions, timeouts, node versions, artifact and cache names, and the
 * scheduled job that runs the full test tier (which the executed pipeline
 * test, itself part of that tier, must never run). Each function returns
 * the problems it found (empty: none).
 */
import { ACTIONS } from './actions.ts';
import { condition } from './expr.ts';
import { type Job, jobOrder, needsOf, type Workflow } from './github.ts';
import { durationMs, type GitlabJob, type Pipeline, rulesAdmit, waitsFor } from './gitlab.ts';

const CONTEXTS = new Set(['github', 'inputs', 'matrix', 'needs', 'steps', 'strategy', 'runner', 'env']);
const FUNCTIONS = new Set(['fromJSON', 'toJSON', 'always', 'success', 'failure', 'cancelled']);
const KEYWORDS = new Set(['true', 'false', 'null']);
const usesNode = (run: string) => /\b(npm|npx|node)\b|setup\.sh/.test(run);
/** The full test tier (package.json's test:full), as a command line of its own in a `run:` or `script:`. */
const RUNS_FULL = /^\s*npm run test:full\s*$/m;
/** The full tier's job timeout, at least: a cold night builds several kernels from source before the exhaustive tests. */
const FULL_MIN_MINUTES = 240;

/** Every `${{ }}` in a text, and what is wrong with each: a context or function this workflow's interpreter does not know. */
export function expressionProblems(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/\$\{\{([\s\S]*?)\}\}/g)) {
    const body = m[1]!.replace(/'(?:[^']|'')*'/g, "''");
    for (const id of body.matchAll(/(?<![.\w-])([A-Za-z_][\w-]*)(\s*\()?/g)) {
      if (KEYWORDS.has(id[1]!)) continue;
      if (id[2] ? !FUNCTIONS.has(id[1]!) : !CONTEXTS.has(id[1]!))
        out.push(`\${{${m[1]}}}: unknown ${id[2] ? 'function' : 'context'} ${id[1]}`);
    }
  }
  return out;
}

export function githubProblems(w: Workflow, text: string): string[] {
  const p: string[] = [...expressionProblems(text)];
  const perms = w.permissions ?? {};
  if (JSON.stringify(perms) !== JSON.stringify({ contents: 'read', checks: 'write' }))
    p.push(`permissions are ${JSON.stringify(perms)}, not { contents: read, checks: write }`);
  try {
    jobOrder(w.jobs);
  } catch (e) {
    p.push((e as Error).message);
  }
  const uploads: string[] = [];
  for (const [id, job] of Object.entries(w.jobs)) {
    const t = job['timeout-minutes'];
    if (typeof t !== 'number' || t <= 0 || t > 360) p.push(`${id}: timeout-minutes is ${t}, not a number of minutes up to 360`);
    if (job['runs-on'] !== 'ubuntu-24.04') p.push(`${id}: runs-on ${job['runs-on']}`);
    const image = typeof job.container === 'string' ? job.container : job.container?.image;
    if (image !== 'debian:12') p.push(`${id}: container ${image}, not debian:12`);
    // A need named in an expression must be declared.
    for (const m of JSON.stringify(job).matchAll(/needs\.([\w-]+)\./g))
      if (!needsOf(job).includes(m[1]!)) p.push(`${id}: uses needs.${m[1]} without needing ${m[1]}`);
    p.push(...nodeProblems(id, job));
    p.push(...stepProblems(id, job, perms));
    for (const s of job.steps) if (s.uses === 'actions/upload-artifact@v4') uploads.push(`${id}: ${s.with?.name}`);
    // A matrix of targets (from the plan) boots guests: KVM when the host has it.
    if (job.strategy && typeof job.strategy.matrix === 'string') {
      const opts = typeof job.container === 'object' ? (job.container.options ?? '') : '';
      if (!/--privileged\b/.test(opts) || /--device/.test(opts))
        p.push(
          `${id}: the container must get /dev/kvm when the host has it without failing where it does not (--privileged), not "${opts}"`,
        );
      if (job.strategy['fail-fast'] !== false) p.push(`${id}: fail-fast must be false (one red target must not cancel the others)`);
    }
  }
  for (const u of uploads) {
    const [job, name] = u.split(': ');
    if (!name?.includes('github.run_attempt')) p.push(`${job}: artifact ${name} is not unique across re-runs (no github.run_attempt)`);
    if (w.jobs[job!]!.strategy && !name?.includes('matrix.')) p.push(`${job}: artifact ${name} is not unique across the matrix`);
  }
  if (new Set(uploads.map((u) => u.split(': ')[1])).size !== uploads.length) p.push(`artifact names repeat: ${uploads.join('; ')}`);
  p.push(...githubFullProblems(w));
  p.push(...githubUnitsProblems(w));
  return p;
}

/** The one job that runs `npm run test:full`: scheduled nights only, one job with hours to run, KVM, and its caches kept between nights. */
function githubFullProblems(w: Workflow): string[] {
  const full = Object.entries(w.jobs).filter(([, j]) => j.steps.some((s) => s.run !== undefined && RUNS_FULL.test(s.run)));
  if (full.length !== 1) return [`${full.length} jobs run \`npm run test:full\`, not 1 (the full test tier on scheduled nights)`];
  const [id, job] = full[0]!;
  const p: string[] = [];
  if (!w.on || !('schedule' in w.on)) p.push('the workflow has no schedule, so nothing runs the full tier');
  // Never on workflow_dispatch: test/full/ci-pipelines-executed.test.ts, part of the full tier, runs this workflow that way.
  try {
    const runsOn = (event: string) => condition(job.if, { github: { event_name: event } }, { ok: true });
    if (!runsOn('schedule')) p.push(`${id}: does not run on a scheduled night`);
    if (runsOn('workflow_dispatch')) p.push(`${id}: runs on workflow_dispatch too, not only on a schedule`);
  } catch (e) {
    p.push(`${id}: if: ${(e as Error).message}`);
  }
  if (job.strategy) p.push(`${id}: the full tier is one job, not a matrix`);
  const t = job['timeout-minutes'] ?? 0;
  if (t < FULL_MIN_MINUTES) p.push(`${id}: timeout-minutes ${t} is under ${FULL_MIN_MINUTES} (a cold night builds several kernels)`);
  const opts = typeof job.container === 'object' ? (job.container.options ?? '') : '';
  if (!/--privileged\b/.test(opts)) p.push(`${id}: the container gets no /dev/kvm (--privileged), so every test boots under TCG`);
  const restore = job.steps.find((s) => s.uses === 'actions/cache/restore@v4');
  const kept = String(restore?.with?.path ?? '')
    .split('\n')
    .map((x) => x.trim());
  for (const [dir, what] of [
    ['~/.cache/kharness', 'the kharness cache'],
    ['~/.cache/ccache', 'ccache'],
    ['~/.npm', 'the npm cache'],
  ])
    if (!kept.some((k) => k === dir || k.startsWith(`${dir}/`))) p.push(`${id}: ${what} (${dir}) is not kept between nights`);
  if (!job.steps.some((s) => s.uses === 'actions/cache/save@v4')) p.push(`${id}: restores a cache it never saves`);
  return p;
}

/** The Node.js versions kharness supports (package.json's engines) and the unit tier runs on, every night. */
export const NODE_LTS = ['20', '22', '24'];
/** The unit tier as a command line of its own (package.json's test:unit, after the type check). */
const RUNS_UNITS = /(^|&&\s*|\n\s*)npx vitest run\s*$/m;

function nodeProblems(id: string, job: Job): string[] {
  const first = job.steps.findIndex((s) => s.run !== undefined && usesNode(s.run));
  if (first < 0) return [];
  const setup = job.steps.findIndex((s) => s.uses === 'actions/setup-node@v4');
  if (setup < 0 || setup > first) return [`${id}: runs node before actions/setup-node`];
  const version = String(job.steps[setup]!.with?.['node-version']);
  // A job on each LTS names its matrix's version; every other job runs on 20, as Debian 12 hosts do.
  if (version === `\${{ matrix.node }}`)
    return nodeMatrix(job) ? [] : [`${id}: setup-node names matrix.node, which is not ${NODE_LTS.join(', ')}`];
  return version === '20' ? [] : [`${id}: setup-node is not node-version 20`];
}

/** The job's matrix.node, when it is exactly the supported versions. */
function nodeMatrix(job: Job): boolean {
  const m = job.strategy?.matrix;
  const node = m && typeof m === 'object' ? (m as Record<string, unknown>).node : undefined;
  return Array.isArray(node) && node.map(String).join(',') === NODE_LTS.join(',');
}

/** The unit tier on each supported Node.js: one matrix job, on scheduled nights only (the executed pipeline has one Node). */
function githubUnitsProblems(w: Workflow): string[] {
  const units = Object.entries(w.jobs).filter(([, j]) => j.steps.some((s) => s.run !== undefined && RUNS_UNITS.test(s.run)));
  if (units.length !== 1) return [`${units.length} jobs run the unit tier, not 1 (on Node ${NODE_LTS.join(', ')})`];
  const [id, job] = units[0]!;
  const p: string[] = [];
  if (!nodeMatrix(job)) p.push(`${id}: does not run on Node ${NODE_LTS.join(', ')} (strategy.matrix.node)`);
  if (job.strategy?.['fail-fast'] !== false) p.push(`${id}: fail-fast must be false (one Node failing must not hide the others)`);
  const runsOn = (event: string) => condition(job.if, { github: { event_name: event } }, { ok: true });
  if (!runsOn('schedule')) p.push(`${id}: does not run on a scheduled night`);
  if (runsOn('workflow_dispatch')) p.push(`${id}: runs on workflow_dispatch too, not only on a schedule`);
  return p;
}

function stepProblems(id: string, job: Job, perms: Record<string, string>): string[] {
  const p: string[] = [];
  const restores = new Map<string, string>();
  for (const s of job.steps) {
    if (!s.uses) continue;
    const a = ACTIONS[s.uses];
    if (!a) {
      p.push(`${id}: no known action ${s.uses}`);
      continue;
    }
    for (const k of Object.keys(s.with ?? {})) if (!a.inputs.includes(k)) p.push(`${id}: ${s.uses} has no input ${k}`);
    for (const k of a.required) if (!(k in (s.with ?? {}))) p.push(`${id}: ${s.uses} needs ${k}`);
    for (const [scope, level] of Object.entries(a.permissions))
      if (!(perms[scope] === level || (level === 'read' && perms[scope] === 'write'))) p.push(`${id}: ${s.uses} needs ${scope}: ${level}`);
    if (s.uses === 'actions/cache/restore@v4') {
      if (!s.id) p.push(`${id}: a cache restore without an id cannot hand its key to the save`);
      else restores.set(s.id, String(s.with?.path));
      // A matrix job's cache is its target's; any cache is saved once per run (a key is never overwritten).
      if ((job.strategy && !/matrix\.slug/.test(String(s.with?.key))) || !/github\.run_id/.test(String(s.with?.key)))
        p.push(`${id}: cache key ${s.with?.key} is not per ${job.strategy ? 'target and per ' : ''}run`);
    }
    if (s.uses === 'actions/cache/save@v4') {
      const m = /steps\.([\w-]+)\.outputs\.cache-primary-key/.exec(String(s.with?.key));
      if (!m || restores.get(m[1]!) !== String(s.with?.path)) p.push(`${id}: the cache save's key or paths are not its restore's`);
      if (!/always\(\)/.test(s.if ?? '')) p.push(`${id}: the cache is not saved on a red night (no always())`);
    }
    if ((s.uses === 'actions/upload-artifact@v4' || s.uses.startsWith('mikepenz/')) && !/always\(\)/.test(s.if ?? ''))
      p.push(`${id}: ${s.uses} does not run when the tests failed`);
  }
  return p;
}

export function gitlabProblems(pl: Pipeline, targets: number): string[] {
  const p: string[] = [];
  if (pl.default?.image !== 'node:20-bookworm') p.push(`default image ${pl.default?.image}, not node:20-bookworm (Debian 12 with Node 20)`);
  for (const [id, job] of Object.entries(pl.jobs)) {
    try {
      if (!job.timeout || durationMs(job.timeout) > 6 * 3_600_000) p.push(`${id}: timeout ${job.timeout}`);
      waitsFor(pl, id);
    } catch (e) {
      p.push(`${id}: ${(e as Error).message}`);
    }
    if (!Array.isArray(job.script) || !job.script.length) p.push(`${id}: no script`);
  }
  const tests = Object.entries(pl.jobs).flatMap(([id, j]) =>
    typeof j.parallel === 'number' ? [[id, { ...j, parallel: j.parallel }] as const] : [],
  );
  if (tests.length !== 1) p.push(`${tests.length} parallel test jobs, not 1`);
  for (const [id, j] of tests) {
    if (j.parallel < targets) p.push(`${id}: parallel ${j.parallel} is fewer jobs than the ${targets} default targets`);
    const script = j.script.join('\n');
    if (!script.includes('--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"')) p.push(`${id}: does not run its shard`);
    if (!/--out "?results\/shard-\$CI_NODE_INDEX/.test(script)) p.push(`${id}: shards do not write apart`);
    if (j.cache?.when !== 'always') p.push(`${id}: the cache is not saved on a red night`);
    if (!j.cache?.key.includes('$CI_NODE_INDEX')) p.push(`${id}: the cache is not per shard`);
    if (j.artifacts?.when !== 'always') p.push(`${id}: artifacts are lost on a red night`);
  }
  const reports = Object.entries(pl.jobs).filter(([, j]) => j.artifacts?.reports?.junit);
  if (reports.length !== 1) p.push(`${reports.length} jobs report JUnit, not 1 (the merged report)`);
  for (const [id, j] of reports) {
    if (j.when !== 'always') p.push(`${id}: does not run when a test job failed`);
    if (j.artifacts?.when !== 'always') p.push(`${id}: its report is lost when the tests failed`);
    if (!tests.every(([t]) => j.needs?.includes(t))) p.push(`${id}: does not need the test jobs`);
  }
  p.push(...gitlabFullProblems(pl));
  p.push(...gitlabUnitsProblems(pl));
  return p;
}

/** The unit tier on each supported Node.js, on Debian 12: one parallel-matrix job, scheduled pipelines only. */
function gitlabUnitsProblems(pl: Pipeline): string[] {
  const units = Object.entries(pl.jobs).filter(([, j]) => Array.isArray(j.script) && j.script.some((l) => RUNS_UNITS.test(l)));
  if (units.length !== 1) return [`${units.length} jobs run the unit tier, not 1 (on Node ${NODE_LTS.join(', ')})`];
  const [id, job] = units[0]!;
  const p: string[] = [];
  const matrix = typeof job.parallel === 'object' ? job.parallel.matrix : [];
  const versions = matrix.flatMap((m) => m.NODE ?? []).map(String);
  if (versions.join(',') !== NODE_LTS.join(',')) p.push(`${id}: runs on Node ${versions.join(', ') || 'none'}, not ${NODE_LTS.join(', ')}`);
  if (job.image !== `node:\${NODE}-bookworm`) p.push(`${id}: image ${job.image}, not node:\${NODE}-bookworm (Debian 12 with each Node)`);
  try {
    if (!rulesAdmit(job.rules, 'schedule')) p.push(`${id}: does not run in a scheduled pipeline`);
    for (const other of ['web', 'api', 'push']) if (rulesAdmit(job.rules, other)) p.push(`${id}: runs in ${other} pipelines too`);
  } catch (e) {
    p.push(`${id}: ${(e as Error).message}`);
  }
  return p;
}

/** The one job that runs `npm run test:full`: scheduled pipelines only, hours to run, its caches (inside the project, as GitLab wants) kept. */
function gitlabFullProblems(pl: Pipeline): string[] {
  const full = Object.entries(pl.jobs).filter(([, j]) => Array.isArray(j.script) && j.script.some((l) => RUNS_FULL.test(l)));
  if (full.length !== 1) return [`${full.length} jobs run \`npm run test:full\`, not 1 (the full test tier on scheduled pipelines)`];
  const [id, job] = full[0]!;
  const p: string[] = [];
  // Never on web or api pipelines: test/full/ci-pipelines-executed.test.ts, part of the full tier, runs this file as a web pipeline.
  try {
    if (!rulesAdmit(pl.workflow?.rules, 'schedule'))
      p.push('the workflow rules admit no scheduled pipeline, so nothing runs the full tier');
    if (!rulesAdmit(job.rules, 'schedule')) p.push(`${id}: does not run in a scheduled pipeline`);
    for (const other of ['web', 'api', 'push'])
      if (rulesAdmit(job.rules, other)) p.push(`${id}: runs in ${other} pipelines too, not only on a schedule`);
  } catch (e) {
    p.push(`${id}: ${(e as Error).message}`);
  }
  if (job.parallel) p.push(`${id}: the full tier is one job, not parallel ${job.parallel}`);
  try {
    if (durationMs(job.timeout ?? '0m') < FULL_MIN_MINUTES * 60_000)
      p.push(`${id}: timeout ${job.timeout} is under ${FULL_MIN_MINUTES} minutes (a cold night builds several kernels)`);
  } catch {
    // A timeout that is not a duration is reported by gitlabProblems.
  }
  if (job.cache?.when !== 'always') p.push(`${id}: the cache is not saved on a red night`);
  for (const [variable, what] of [
    ['KHARNESS_CACHE', 'the kharness cache'],
    ['CCACHE_DIR', 'ccache'],
    ['npm_config_cache', 'the npm cache'],
  ] as const)
    if (!keptInProject(job, variable))
      p.push(`${id}: ${what} is not kept between nights (${variable} under $CI_PROJECT_DIR, in the cache paths)`);
  return p;
}

/** Whether a job's variable names a directory under the project that its cache keeps (GitLab caches only paths inside the project). */
function keptInProject(job: GitlabJob, variable: string): boolean {
  const dir = /^\$\{?CI_PROJECT_DIR\}?\/(.+?)\/?$/.exec(job.variables?.[variable] ?? '')?.[1];
  return !!dir && !!job.cache?.paths.some((k) => k === dir || k.startsWith(`${dir}/`));
}
