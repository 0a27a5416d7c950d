/**
 * What both CI interpreters share: a machine for jobs (workspaces, homes, stores), running a script, copying trees.
 * test/ci serves both tiers: test/unit/ci-pipelines.test.ts reads the pipelines (static.ts), and
 * test/full/ci-pipelines-executed.test.ts executes them (github.ts, gitlab.ts).
 */
import { cpSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { execa } from 'execa';

/** One job's run: what it printed, and how it ended. */
export interface JobRun {
  id: string;
  ok: boolean;
  log: string;
  /** Kernel cache entries the job's own harness runs wrote (present after, not restored before). */
  builtKernels: string[];
  ms: number;
}

export interface Machine {
  root: string;
  /** The repository the checkout clones (its committed HEAD, as a CI sees a pushed commit). */
  repo: string;
  /**
   * A package cache every job shares, as a runner's warm npm cache would (npm_config_cache, read
   * offline first): kept between test runs, so a job's `npm ci` does not download the registry again.
   */
  npmCache: string;
  /**
   * Debian packages every job's kharness downloads through (KHARNESS_DEB_CACHE), as a caching apt
   * proxy would serve them: kept between test runs. Each job still fetches into its own kharness
   * cache (unpacks, builds the probe), as the pipeline as written does; only the download is shared.
   */
  debCache: string;
  /** Where a job's directories go. */
  jobDir(id: string): { work: string; home: string; temp: string };
}

/** A machine under root whose jobs share the persistent caches in shared (made if missing). */
export function machine(root: string, repo: string, shared: { npmCache: string; debCache: string }): Machine {
  for (const d of [root, shared.npmCache, shared.debCache]) mkdirSync(d, { recursive: true });
  return {
    root,
    repo,
    ...shared,
    jobDir(id) {
      const base = join(root, 'jobs', id.replace(/[^A-Za-z0-9._-]+/g, '_'));
      if (existsSync(base)) throw new Error(`job ${id} ran twice in one pipeline`);
      const d = { work: join(base, 'work'), home: join(base, 'home'), temp: join(base, 'temp') };
      for (const p of Object.values(d)) mkdirSync(p, { recursive: true });
      return d;
    },
  };
}

/** The environment a job starts from: this machine's PATH and nothing of the test's own (no KHARNESS_CACHE, no XDG_*). */
export function baseEnv(m: Machine, home: string): Record<string, string> {
  return {
    // Not the test's own node_modules/.bin: a job finds its tools in its own clone, as on a runner.
    PATH: (process.env.PATH ?? '/usr/bin:/bin')
      .split(':')
      .filter((d) => !d.includes('node_modules'))
      .join(':'),
    LANG: 'C.UTF-8',
    HOME: home,
    USER: process.env.USER ?? 'root',
    CI: 'true',
    npm_config_cache: m.npmCache,
    npm_config_prefer_offline: 'true',
    npm_config_update_notifier: 'false',
    KHARNESS_DEB_CACHE: m.debCache,
  };
}

/** Runs a shell script file; output appended to the job log. */
export async function runScript(
  argv: string[],
  o: { cwd: string; env: Record<string, string>; timeoutMs: number; log: (s: string) => void },
): Promise<boolean> {
  const r = await execa(argv[0]!, argv.slice(1), {
    cwd: o.cwd,
    env: o.env,
    extendEnv: false,
    reject: false,
    all: true,
    timeout: o.timeoutMs,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 10_000,
  });
  o.log(`${r.all ?? ''}\n`);
  if (r.timedOut) o.log(`[ci] step timed out after ${Math.round(o.timeoutMs / 1000)} s\n`);
  return r.exitCode === 0;
}

export async function cloneRepo(repo: string, into: string): Promise<void> {
  // A clone of what is committed, into the (empty) workspace, like actions/checkout or GitLab's fetch.
  await execa('git', ['clone', '--quiet', '--no-hardlinks', repo, into]);
}

/** Every file under dir, relative to it. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (statSync(dir).isDirectory()) walk(dir);
  return out;
}

/** Copies a tree keeping symlinks as links (kernel build directories hold some). */
export function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  cpSync(from, to, { recursive: true, verbatimSymlinks: true, force: true });
}

/** Kernel entries (kernels/<key> with a meta.json) in a cache root. */
export function kernelEntries(cache: string): string[] {
  const dir = join(cache, 'kernels');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((k) => existsSync(join(dir, k, 'meta.json')));
}

/** The lines where the harness says it built or fetched a kernel: `kernel debian:6.1.0-41-cloud/x86_64: built 6.1.0-41-cloud-amd64 in 40 s`. */
export function builtLines(log: string): string[] {
  return log.split('\n').filter((l) => /^kernel \S+\/\S+: built /.test(l));
}

export function writeLog(path: string, text: string): void {
  writeFileSync(path, text);
}

/** A glob of `*` and `?` as a whole-string regex. */
export function globRe(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '.')}$`,
  );
}
