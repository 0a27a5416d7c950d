/**
 * A small, strict interpreter of a .gitlab-ci.yml, for running the shipped
 * pipeline on this machine: workflow rules and job rules (a job they do not
 * admit is not in the pipeline), jobs in stage and `needs` order,
 * `parallel: N` as N jobs with CI_NODE_INDEX/CI_NODE_TOTAL, variables
 * expanded, caches by key (restored before the script, saved by `when`),
 * artifacts collected by path and unpacked into the jobs that need them
 * (two needed jobs shipping the same file is an error: GitLab would let the
 * last one win silently), reports.junit validated against junit-10.xsd.
 * Jobs run one after another; the image is not started: the host is
 * Debian 12 with Node 20, which node:20-bookworm is.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { baseEnv, cloneRepo, copyTree, filesUnder, globRe, type JobRun, kernelEntries, type Machine, runScript } from './common.ts';

export type GitlabJob = {
  stage: string;
  image?: string;
  needs?: string[];
  /** N jobs, or one job per combination of a matrix's variables (the unit tier per Node). */
  parallel?: number | { matrix: Record<string, string[]>[] };
  /** Only `if: $CI_PIPELINE_SOURCE == "..."` rules, as in the workflow's: a job no rule admits is not in the pipeline. */
  rules?: Rule[];
  timeout?: string;
  when?: 'on_success' | 'always' | 'on_failure';
  variables?: Record<string, string>;
  cache?: { key: string; paths: string[]; when?: 'on_success' | 'always' | 'on_failure' };
  script: string[];
  before_script?: string[];
  after_script?: string[];
  artifacts?: { when?: string; paths?: string[]; reports?: { junit?: string | string[] }; expire_in?: string };
  interruptible?: boolean;
};
export type Rule = { if: string };
export type Pipeline = {
  workflow?: { rules: Rule[] };
  stages: string[];
  variables?: Record<string, string>;
  default?: { image?: string; interruptible?: boolean };
  jobs: Record<string, GitlabJob>;
};

const RESERVED = new Set([
  'workflow',
  'stages',
  'variables',
  'default',
  'include',
  'image',
  'services',
  'cache',
  'before_script',
  'after_script',
]);

export function readPipeline(text: string): Pipeline {
  const doc = parse(text) as Record<string, unknown>;
  const jobs: Record<string, GitlabJob> = {};
  for (const [k, v] of Object.entries(doc)) if (!RESERVED.has(k) && !k.startsWith('.')) jobs[k] = v as GitlabJob;
  return {
    workflow: doc.workflow as Pipeline['workflow'],
    stages: doc.stages as string[],
    variables: doc.variables as Record<string, string>,
    default: doc.default as Pipeline['default'],
    jobs,
  };
}

/** GitLab's duration strings: "15m", "150m", "2h", "1h 30m". */
export function durationMs(s: string): number {
  let ms = 0;
  const re = /(\d+)\s*(h|m|s)/g;
  let rest = s;
  for (const m of s.matchAll(re)) {
    ms += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000 }[m[2] as 'h' | 'm' | 's'];
    rest = rest.replace(m[0], '');
  }
  if (!ms || rest.trim()) throw new Error(`not a GitLab duration: "${s}"`);
  return ms;
}

/** $VAR and ${VAR} from vars; an unknown variable expands to '' as in GitLab. */
export function expandVars(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n: string) => vars[n] ?? '');
}

/**
 * Whether rules admit a pipeline from this source (schedule, web, api): no
 * rules admit every one. Only the form these files use is understood,
 * `if: $CI_PIPELINE_SOURCE == "..."`; anything else throws.
 */
export function rulesAdmit(rules: Rule[] | undefined, source: string): boolean {
  if (!rules?.length) return true;
  const sources = rules.map((r) => {
    const m = /^\$CI_PIPELINE_SOURCE == "([^"]+)"$/.exec(String(r.if).trim());
    if (!m || Object.keys(r).length !== 1) throw new Error(`unsupported rule: ${JSON.stringify(r)}`);
    return m[1];
  });
  return sources.includes(source);
}

/** The jobs a job waits for: its needs, or (without needs) every job of the earlier stages. */
export function waitsFor(p: Pipeline, id: string): string[] {
  const j = p.jobs[id]!;
  if (!p.stages.includes(j.stage)) throw new Error(`job ${id}: stage ${j.stage} is not in stages`);
  if (j.needs) {
    for (const n of j.needs) if (!(n in p.jobs)) throw new Error(`job ${id} needs "${n}", which does not exist`);
    return j.needs;
  }
  const mine = p.stages.indexOf(j.stage);
  return Object.keys(p.jobs).filter((k) => p.stages.indexOf(p.jobs[k]!.stage) < mine);
}

export interface GitlabStores {
  caches: Map<string, string>;
  /** Each finished job instance's artifacts directory (relative paths as in the project). */
  artifacts: Map<string, string>;
  root: string;
}

export interface GitlabRun {
  jobs: Record<string, { ok: boolean; runs: JobRun[] }>;
  runs: JobRun[];
  /** What the pipeline's test report got: each job's reports.junit files, by instance. */
  junit: { job: string; file: string }[];
}

export async function runPipeline(
  shipped: Pipeline,
  o: {
    m: Machine;
    stores: GitlabStores;
    source: string;
    variables: Record<string, string>;
    pipelineId: string;
    progress?: (s: string) => void;
  },
): Promise<GitlabRun> {
  if (!rulesAdmit(shipped.workflow?.rules, o.source)) throw new Error(`the workflow rules admit no ${o.source} pipeline`);
  // A job whose rules do not admit this source is not in the pipeline at all (a job that needs it is an error).
  const p = { ...shipped, jobs: Object.fromEntries(Object.entries(shipped.jobs).filter(([, j]) => rulesAdmit(j.rules, o.source))) };
  const done: GitlabRun = { jobs: {}, runs: [], junit: [] };
  const pending = new Set(Object.keys(p.jobs));
  while (pending.size) {
    const ready = [...pending].filter((id) => waitsFor(p, id).every((n) => n in done.jobs));
    if (!ready.length) throw new Error(`needs cycle among ${[...pending].join(', ')}`);
    const id = ready.sort((a, b) => p.stages.indexOf(p.jobs[a]!.stage) - p.stages.indexOf(p.jobs[b]!.stage))[0]!;
    pending.delete(id);
    const job = p.jobs[id]!;
    const needed = waitsFor(p, id);
    const needsOk = needed.every((n) => done.jobs[n]!.ok);
    if (!needsOk && (job.when ?? 'on_success') !== 'always') {
      done.jobs[id] = { ok: false, runs: [] };
      continue;
    }
    if (typeof job.parallel === 'object') throw new Error(`${id}: parallel:matrix is not supported by this interpreter`);
    const total = job.parallel ?? 1;
    const runs: JobRun[] = [];
    for (let i = 1; i <= total; i++) {
      const r = await runGitlabJob(p, id, job, i, total, needed, done, o);
      runs.push(r);
      done.runs.push(r);
      o.progress?.(`[gitlab] ${r.id}: ${r.ok ? 'success' : 'failure'} in ${Math.round(r.ms / 1000)} s`);
    }
    done.jobs[id] = { ok: runs.every((r) => r.ok), runs };
  }
  return done;
}

async function runGitlabJob(
  p: Pipeline,
  id: string,
  job: GitlabJob,
  index: number,
  total: number,
  needed: string[],
  done: GitlabRun,
  o: Parameters<typeof runPipeline>[1],
): Promise<JobRun> {
  const started = Date.now();
  const name = job.parallel ? `${id} ${index}/${total}` : id;
  const dirs = o.m.jobDir(`gitlab-${name}`);
  const image = job.image ?? p.default?.image;
  if (image !== 'node:20-bookworm') throw new Error(`${name}: image ${image}: this interpreter stands in for node:20-bookworm only`);
  const vars: Record<string, string> = {
    CI: 'true',
    GITLAB_CI: 'true',
    CI_PROJECT_DIR: dirs.work,
    CI_JOB_NAME: name,
    CI_JOB_NAME_SLUG: name.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase(),
    CI_PIPELINE_ID: o.pipelineId,
    CI_PIPELINE_SOURCE: o.source,
    ...(job.parallel ? { CI_NODE_INDEX: String(index), CI_NODE_TOTAL: String(total) } : {}),
  };
  for (const [k, v] of Object.entries({ ...p.variables, ...o.variables, ...job.variables })) vars[k] = expandVars(String(v), vars);
  const env = { ...baseEnv(o.m, dirs.home), ...vars };
  let log = '';
  const append = (s: string) => {
    log += s;
  };
  await cloneRepo(o.m.repo, dirs.work);
  // Artifacts of the jobs this one needs, unpacked into the project; a file shipped by two of them is an error.
  const from = new Map<string, string>();
  for (const n of needed)
    for (const r of done.jobs[n]!.runs) {
      const dir = o.stores.artifacts.get(r.id);
      if (!dir) continue;
      for (const f of filesUnder(dir)) {
        if (from.has(f)) throw new Error(`${name}: ${f} is in the artifacts of both ${from.get(f)} and ${r.id}`);
        from.set(f, r.id);
      }
      copyTree(dir, dirs.work);
    }
  const cacheKey = job.cache ? expandVars(job.cache.key, vars) : undefined;
  if (cacheKey && o.stores.caches.has(cacheKey)) copyTree(o.stores.caches.get(cacheKey)!, dirs.work);
  const cacheRoot = vars.KHARNESS_CACHE ?? join(dirs.home, '.cache', 'kharness');
  const before = new Set(kernelEntries(cacheRoot));
  const timeoutMs = durationMs(job.timeout ?? '1h');
  const script = ['set -eo pipefail', ...(job.before_script ?? []), ...job.script].join('\n');
  const scriptFile = join(dirs.temp, 'script.sh');
  writeFileSync(scriptFile, script);
  const ok = await runScript(['bash', '--noprofile', '--norc', scriptFile], { cwd: dirs.work, env, timeoutMs, log: append });
  const when = (w: string | undefined) => (w ?? 'on_success') === 'always' || (w === 'on_failure' ? !ok : ok);
  if (cacheKey && job.cache && when(job.cache.when)) {
    const dir = join(o.stores.root, 'gitlab-caches', cacheKey.replace(/[^A-Za-z0-9._-]+/g, '_'));
    for (const path of job.cache.paths) {
      const src = join(dirs.work, expandVars(path, vars));
      if (existsSync(src)) copyTree(src, join(dir, expandVars(path, vars)));
    }
    o.stores.caches.set(cacheKey, dir);
  }
  const art = job.artifacts;
  if (art && when(art.when)) {
    const dir = join(o.stores.root, 'gitlab-artifacts', name.replace(/[^A-Za-z0-9._-]+/g, '_'));
    const wanted = [...(art.paths ?? []), ...[art.reports?.junit ?? []].flat()];
    for (const pattern of wanted) {
      const matches = glob(dirs.work, expandVars(pattern, vars));
      for (const rel of matches) {
        const src = join(dirs.work, rel);
        if (statSync(src).isDirectory()) copyTree(src, join(dir, rel));
        else {
          mkdirSync(join(dir, dirname(rel)), { recursive: true });
          copyFileSync(src, join(dir, rel));
        }
      }
    }
    if (existsSync(dir)) o.stores.artifacts.set(`${name} attempt 1`, dir);
    for (const pattern of [art.reports?.junit ?? []].flat())
      for (const rel of glob(dirs.work, expandVars(pattern, vars))) done.junit.push({ job: name, file: join(dir, rel) });
  }
  writeFileSync(join(dirs.temp, '..', 'job.log'), log);
  const builtKernels = kernelEntries(cacheRoot).filter((k) => !before.has(k));
  return { id: `${name} attempt 1`, ok, log, builtKernels, ms: Date.now() - started };
}

/** Paths under root matching a GitLab artifact pattern (`results/`, `merged/junit.xml`, `results/shard-*`). */
function glob(root: string, pattern: string): string[] {
  const p = pattern.replace(/\/+$/, '');
  if (!/[*?]/.test(p)) return existsSync(join(root, p)) ? [p] : [];
  const parts = p.split('/');
  let found = [''];
  for (const part of parts) {
    const re = globRe(part);
    found = found.flatMap((base) => {
      const d = join(root, base);
      if (!existsSync(d) || !statSync(d).isDirectory()) return [];
      return readdirSync(d)
        .filter((e) => re.test(e))
        .map((e) => (base ? `${base}/${e}` : e));
    });
  }
  return found;
}

export async function validJunit(file: string, xsd: string): Promise<string | undefined> {
  const r = await execa('xmllint', ['--noout', '--schema', xsd, file], { reject: false });
  return r.exitCode === 0 ? undefined : r.stderr.slice(0, 2000);
}
