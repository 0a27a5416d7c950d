/**
 * The CI pipelines as shipped, executed: GitHub and GitLab cannot be reached
 * from here, so test/ci/ interprets .github/workflows/nightly.yml and
 * .gitlab-ci.yml as written (every `run:`/`script:` line really runs, in a
 * fresh clone of the committed tree, with its own HOME and so its own
 * kharness cache) on Debian's prebuilt kernels (a download and a probe-module
 * build, no kernel build) and two quick scenarios. Checked: plan → one job
 * per target → one merged report covering every planned target, each
 * target's kernel fetched once across all jobs and attempts (a re-run
 * restores it from the cache the first attempt saved under another HOME),
 * every job's console logs in the merged output, JUnit a consumer accepts.
 * What cannot be executed (actions' inputs, permissions, needs, timeouts,
 * the scheduled full-tier job) is checked as data by
 * test/unit/ci-pipelines.test.ts; that the scheduled plan is one job per
 * default target, by test/unit/plan.test.ts.
 *
 * The jobs share what a runner's machine would keep warm and nothing of the
 * pipelines' own: one npm cache, read offline first, and one directory of
 * downloaded .debs (KHARNESS_DEB_CACHE), both kept under the kharness cache
 * between runs, so the 12 `npm ci` and 4 kernel fetches of a run download
 * nothing the machine has already downloaded.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheRoot, PROJECT_ROOT } from '../../harness/paths.ts';
import { parseResults, type ResultRecord } from '../../harness/results/records.ts';
import type { Stores } from '../ci/actions.ts';
import { builtLines, copyTree, filesUnder, type JobRun, machine } from '../ci/common.ts';
import { type Attempt, readWorkflow, runWorkflow } from '../ci/github.ts';
import { type GitlabStores, readPipeline, runPipeline, validJunit } from '../ci/gitlab.ts';
import { qemusUnder } from '../e2e/helpers.ts';

const GITHUB = '.github/workflows/nightly.yml';
const GITLAB = '.gitlab-ci.yml';
// Debian's newest 6.12 cloud kernel, on both arches: two targets, no kernel build.
const SERIES = '6.12';
const KERNEL = `debian:${SERIES}-cloud`;
const ARCHES = 'x86_64,arm64';
const SCENARIOS = 'scenarios/kmalloc-size-limits.yaml scenarios/gfp-atomic-irq.yaml';
const XSD = join(PROJECT_ROOT, 'test', 'schema', 'junit-10.xsd');
/** What the machine keeps between runs, as a runner keeps its warm caches. */
const SHARED = { npmCache: join(cacheRoot(), 'ci', 'npm'), debCache: join(cacheRoot(), 'ci', 'debs') };

const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** KERNEL as a plan may name it: as written (the series' newest, resolved when fetched), or as a version of the series. */
const PLANNED_KERNEL = new RegExp(`^debian:${reEscape(SERIES)}(\\.\\d+)?-cloud$`);
const committed = async (path: string) => (await execa('git', ['-C', PROJECT_ROOT, 'show', `HEAD:${path}`])).stdout;
const targetsOf = (rs: ResultRecord[]) =>
  [...new Set(rs.flatMap((r) => (r.type === 'target-begin' ? [`${r.target.arch}/${r.target.kernel}`] : [])))].sort();
const stepsOf = (rs: ResultRecord[], t: string) => rs.filter((r) => r.type === 'step' && `${r.target.arch}/${r.target.kernel}` === t);
const results = (dir: string) => parseResults(readFileSync(join(dir, 'results.jsonl'), 'utf8'));
/** Kernel fetches per target across job runs, from the harness's own `kernel K/A: built` lines. */
function builds(runs: JobRun[]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const r of runs)
    for (const l of builtLines(r.log)) {
      const t = /^kernel (\S+)\/(\S+): built/.exec(l)!;
      const key = `${t[2]}/${t[1]}`;
      n[key] = (n[key] ?? 0) + 1;
    }
  return n;
}
const failed = (runs: JobRun[]) => runs.filter((r) => !r.ok).map((r) => `${r.id}:\n${r.log.slice(-4000)}`);
/**
 * The targets a plan names, sorted, after checking they are what the filters ask for: one per arch
 * of ARCHES, each a Debian 6.12 cloud kernel. Names, slugs and versions are taken from the plan,
 * never written here: the archive moves on.
 */
function planned(names: string[]): string[] {
  const sorted = [...names].sort();
  expect(sorted.map((n) => n.split('/')[0])).toEqual(ARCHES.split(',').sort());
  for (const n of sorted) expect(n.slice(n.indexOf('/') + 1)).toMatch(PLANNED_KERNEL);
  return sorted;
}

describe('the CI pipelines, executed', () => {
  let root: string;
  const took: Record<string, number> = {};
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'kharness-ci-'));
  });
  afterAll(async () => {
    expect(await qemusUnder(root)).toEqual([]);
    writeFileSync(join(root, 'took.json'), JSON.stringify(took));
    process.stdout.write(
      `ci-pipelines: ${Object.entries(took)
        .map(([k, v]) => `${k} ${Math.round(v / 1000)} s`)
        .join(', ')} (in ${root})\n`,
    );
  });

  it('GitHub: plan → a job per target → merged report; a re-run job restores its kernel, and the merge keeps its latest attempt', async () => {
    const t0 = Date.now();
    const m = machine(join(root, 'github'), PROJECT_ROOT, SHARED);
    const w = readWorkflow(await committed(GITHUB));
    const stores: Stores = { caches: [], artifacts: new Map(), root: join(root, 'github', 'stores') };
    const common = {
      m,
      stores,
      event: 'workflow_dispatch' as const,
      runId: '4242',
      progress: (s: string) => process.stdout.write(`${s}\n`),
    };
    const inputs = { kernels: KERNEL, arches: ARCHES, scenarios: SCENARIOS };
    const first: Attempt = await runWorkflow(w, { ...common, inputs, attempt: 1 });
    expect(failed(first.runs)).toEqual([]);
    // The plan, the test jobs and the report, nothing else: the full-tier job runs on scheduled nights only.
    expect([...new Set(first.runs.map((r) => r.id.split(' ')[0]))]).toEqual(['plan', 'test', 'report']);
    const matrix = JSON.parse(first.results.plan!.outputs.matrix!) as {
      include: { name: string; slug: string; arch: string; kernel: string }[];
    };
    const targets = planned(matrix.include.map((e) => e.name));
    const x86 = matrix.include.find((e) => e.arch === 'x86_64')!;
    expect(first.results.test!.runs.length).toBe(2);
    // One artifact per target and attempt, and the report's.
    expect([...stores.artifacts.keys()].sort()).toEqual(
      ['kharness-report-attempt-1', ...matrix.include.map((e) => `results-${e.slug}-attempt-1`)].sort(),
    );
    // Each target's cache saved once, by its own job.
    expect(stores.caches.map((c) => c.key).sort()).toEqual(matrix.include.map((e) => `kharness-${e.slug}:4242-1`).sort());
    const merged1 = stores.artifacts.get('kharness-report-attempt-1')!;
    const r1 = results(merged1);
    expect(targetsOf(r1)).toEqual(targets);
    for (const t of targets) expect(stepsOf(r1, t).length).toBeGreaterThan(0);
    expect(await validJunit(join(merged1, 'junit.xml'), XSD)).toBeUndefined();
    // Every job's console and kernel logs are in the merged report, as the job wrote them.
    for (const e of matrix.include) {
      const shard = stores.artifacts.get(`results-${e.slug}-attempt-1`)!;
      const logs = filesUnder(join(shard, e.slug)).filter((f) => /^(console|dmesg)-\d+\.log$/.test(f));
      expect(logs.length).toBeGreaterThanOrEqual(2);
      for (const f of logs) expect(readFileSync(join(merged1, e.slug, f), 'utf8')).toBe(readFileSync(join(shard, e.slug, f), 'utf8'));
    }
    took['github attempt 1'] = Date.now() - t0;

    // "Re-run job" on x86_64: a new attempt of that job and of the report that needs it.
    const t1 = Date.now();
    const second = await runWorkflow(w, {
      ...common,
      inputs,
      attempt: 2,
      rerun: { previous: first, seeds: ['test'], instance: (_job, mx) => mx.arch === 'x86_64' },
    });
    expect(failed(second.runs)).toEqual([]);
    expect(second.runs.map((r) => r.id.replace(/ \(.*\)/, ''))).toEqual(['test attempt 2', 'report attempt 2']);
    const rerun = second.runs[0]!;
    expect(rerun.log).toMatch(new RegExp(`^kernel ${reEscape(x86.kernel)}/x86_64: cached `, 'm'));
    // Nothing new in the cache, so nothing saved again.
    expect(stores.caches.length).toBe(2);
    const report2 = second.runs[1]!;
    expect(report2.log).toMatch(
      new RegExp(
        `report merge: ${reEscape(x86.name)} is in 2 runs: ` +
          `kept shards/results-${reEscape(x86.slug)}-attempt-2 .*left out shards/results-${reEscape(x86.slug)}-attempt-1`,
      ),
    );
    const merged2 = stores.artifacts.get('kharness-report-attempt-2')!;
    const r2 = results(merged2);
    expect(targetsOf(r2)).toEqual(targets);
    const shard2 = stores.artifacts.get(`results-${x86.slug}-attempt-2`)!;
    expect(readFileSync(join(merged2, x86.slug, 'console-1.log'), 'utf8')).toBe(
      readFileSync(join(shard2, x86.slug, 'console-1.log'), 'utf8'),
    );
    expect(stepsOf(r2, x86.name).length).toBe(stepsOf(r1, x86.name).length);
    took['github re-run'] = Date.now() - t1;
    // The saved cache on a machine that has nothing else (no modules, another path): the kernel is found, the probe builds against it.
    const saved = stores.caches.find((c) => c.key.startsWith(`kharness-${x86.slug}:`))!;
    const reloc = join(root, 'relocated', 'kharness');
    copyTree(join(saved.dir, '0'), join(reloc, 'kernels'));
    const b = await execa('node', [join(PROJECT_ROOT, 'bin', 'kharness.js'), 'build', '--arch', 'x86_64', '--kernel', KERNEL], {
      reject: false,
      all: true,
      env: { CI: 'true', NO_COLOR: '1', KHARNESS_CACHE: reloc },
      timeout: 10 * 60_000,
    });
    expect(b.exitCode, b.all).toBe(0);
    expect(b.all).toMatch(new RegExp(`^kernel ${reEscape(x86.kernel)}/x86_64: cached `, 'm'));
    expect(b.all).toMatch(new RegExp(`^module kalloc_probe: built for ${reEscape(SERIES)}\\.`, 'm'));
    // Across both attempts and every job: each target's kernel fetched exactly once.
    expect(builds([...first.runs, ...second.runs])).toEqual(Object.fromEntries(targets.map((t) => [t, 1])));
    expect([...first.runs, ...second.runs].flatMap((r) => r.builtKernels).length).toBe(2);
  });

  it('GitLab: plan → parallel shards of whole targets → merged report with the pipeline’s JUnit', async () => {
    const t0 = Date.now();
    const m = machine(join(root, 'gitlab'), PROJECT_ROOT, SHARED);
    const p = readPipeline(await committed(GITLAB));
    const stores: GitlabStores = { caches: new Map(), artifacts: new Map(), root: join(root, 'gitlab', 'stores') };
    const run = await runPipeline(p, {
      m,
      stores,
      source: 'web',
      pipelineId: '777',
      variables: { KHARNESS_KERNELS: KERNEL, KHARNESS_ARCHES: ARCHES, KHARNESS_SCENARIOS: SCENARIOS },
      progress: (s) => process.stdout.write(`${s}\n`),
    });
    expect(failed(run.runs)).toEqual([]);
    // No `full`: its rules admit scheduled pipelines only.
    expect(run.runs.map((r) => r.id)).toEqual([
      'plan attempt 1',
      'test 1/4 attempt 1',
      'test 2/4 attempt 1',
      'test 3/4 attempt 1',
      'test 4/4 attempt 1',
      'report attempt 1',
    ]);
    const plan = planned(
      readFileSync(join(stores.artifacts.get('plan attempt 1')!, 'plan.txt'), 'utf8')
        .trim()
        .split('\n'),
    );
    // Two targets on four shards: two shards run one target each, two have none.
    expect(run.runs.filter((r) => /shard \d\/4: no targets/.test(r.log)).length).toBe(2);
    expect(builds(run.runs)).toEqual(Object.fromEntries(plan.map((t) => [t, 1])));
    expect(stores.caches.size).toBe(4);
    const merged = join(stores.artifacts.get('report attempt 1')!, 'merged');
    expect(targetsOf(results(merged))).toEqual(plan);
    // The pipeline's test report is the merged JUnit only, and a consumer's schema accepts it.
    expect(run.junit.map((j) => j.job)).toEqual(['report']);
    expect(await validJunit(run.junit[0]!.file, XSD)).toBeUndefined();
    for (let i = 1; i <= 4; i++) {
      const dir = stores.artifacts.get(`test ${i}/4 attempt 1`)!;
      const shard = join(dir, 'results', `shard-${i}`);
      for (const f of filesUnder(shard).filter((x) => /(console|dmesg)-\d+\.log$/.test(x)))
        expect(readFileSync(join(merged, f), 'utf8')).toBe(readFileSync(join(shard, f), 'utf8'));
      expect(existsSync(join(shard, 'results.jsonl'))).toBe(true);
    }
    expect(filesUnder(merged).filter((f) => /console-\d+\.log$/.test(f)).length).toBeGreaterThanOrEqual(2);
    took.gitlab = Date.now() - t0;
  });
});
