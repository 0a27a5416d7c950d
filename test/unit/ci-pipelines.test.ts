/**
 * The CI pipelines as shipped, read: what GitHub and GitLab would check or do
 * and cannot be executed here (actions' inputs, permissions, needs, timeouts,
 * artifact and cache names, the scheduled job running the full test tier),
 * checked as data by test/ci/static.ts, and proof that those checks and the
 * interpreters' expressions fail on what is wrong. The pipelines executed as
 * written, on real kernels: test/full/ci-pipelines-executed.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../harness/kernel/catalog.ts';
import { PROJECT_ROOT } from '../../harness/paths.ts';
import { planTargets } from '../../harness/run/plan.ts';
import { condition, evaluate, interpolate } from '../ci/expr.ts';
import { readWorkflow } from '../ci/github.ts';
import { readPipeline, rulesAdmit } from '../ci/gitlab.ts';
import { expressionProblems, githubProblems, gitlabProblems } from '../ci/static.ts';

const GITHUB = '.github/workflows/nightly.yml';
const GITLAB = '.gitlab-ci.yml';
const githubText = () => readFileSync(join(PROJECT_ROOT, GITHUB), 'utf8');
const gitlabText = () => readFileSync(join(PROJECT_ROOT, GITLAB), 'utf8');
/** The job whose steps or script run the full tier: by what it runs, not by its name. */
const runsFull = (lines: (string | undefined)[]) => lines.some((l) => l !== undefined && /^\s*npm run test:full\s*$/m.test(l));

describe('the CI pipelines, read', () => {
  it('nightly.yml passes every check that cannot be executed here', () => {
    const text = githubText();
    expect(githubProblems(readWorkflow(text), text)).toEqual([]);
  });

  it('.gitlab-ci.yml passes every check that cannot be executed here, with a job per default target', async () => {
    const defaults = planTargets(await loadCatalog()).length;
    expect(defaults).toBe(4);
    expect(gitlabProblems(readPipeline(gitlabText()), defaults)).toEqual([]);
  });

  it('both run `npm run test:full` in one job, on scheduled nights only, keeping its caches', () => {
    const w = readWorkflow(githubText());
    const gh = Object.entries(w.jobs).filter(([, j]) => runsFull(j.steps.map((s) => s.run)));
    expect(gh.map(([id]) => id)).toEqual(['full']);
    const ghFull = gh[0]![1];
    expect(condition(ghFull.if, { github: { event_name: 'schedule' } }, { ok: true })).toBe(true);
    expect(condition(ghFull.if, { github: { event_name: 'workflow_dispatch' } }, { ok: true })).toBe(false);
    expect(ghFull['timeout-minutes']).toBe(360);
    const gl = readPipeline(gitlabText());
    const lab = Object.entries(gl.jobs).filter(([, j]) => runsFull(j.script));
    expect(lab.map(([id]) => id)).toEqual(['full']);
    const glFull = lab[0]![1];
    expect(rulesAdmit(glFull.rules, 'schedule')).toBe(true);
    expect(rulesAdmit(glFull.rules, 'web')).toBe(false);
    expect(glFull.cache).toMatchObject({ when: 'always' });
    // The matrix still runs on a scheduled night too, beside the full tier.
    for (const id of ['plan', 'test']) expect(condition(w.jobs[id]!.if, { github: { event_name: 'schedule' } }, { ok: true })).toBe(true);
    for (const id of ['plan', 'test', 'report']) expect(rulesAdmit(gl.jobs[id]!.rules, 'schedule')).toBe(true);
  });

  it('the checks and the interpreter fail on what is wrong, not pass it silently', () => {
    const text = githubText();
    const broken = readWorkflow(text);
    delete broken.jobs.report!['timeout-minutes'];
    broken.permissions = { contents: 'read' };
    broken.jobs.test!.steps.find((s) => s.uses === 'actions/cache/save@v4')!.if = "steps.changed.outputs.changed == 'true'";
    broken.jobs.test!.steps.find((s) => s.uses === 'actions/upload-artifact@v4')!.with!.name = `results-\${{ matrix.slug }}`;
    broken.jobs.report!.steps.find((s) => s.uses === 'actions/download-artifact@v4')!.with!.patern = 'results-*';
    broken.jobs.test!.needs = ['plan', 'report'];
    const problems = githubProblems(broken, text).join('\n');
    for (const want of [
      /report: timeout-minutes is undefined/,
      /mikepenz\/action-junit-report@v4 needs checks: write/,
      /not saved on a red night/,
      /not unique across re-runs/,
      /download-artifact@v4 has no input patern/,
      /needs cycle/,
    ])
      expect(problems).toMatch(want);
    expect(expressionProblems(`\${{ matrix.a }} \${{ secrets.X }} \${{ hashFiles('x') }}`)).toEqual([
      `\${{ secrets.X }}: unknown context secrets`,
      `\${{ hashFiles('x') }}: unknown function hashFiles`,
    ]);
    const ctx = { matrix: { arch: 'arm64' }, inputs: { kernels: '' } };
    expect(interpolate(`\${{ inputs.kernels || 'scenarios' }}/\${{ matrix.arch }}`, ctx)).toBe('scenarios/arm64');
    expect(() => interpolate(`\${{ matrix.archh }}`, ctx)).toThrow(/matrix\.archh does not exist/);
    expect(() => interpolate(`\${{ vars.X }}`, ctx)).toThrow(/unknown context "vars"/);
    expect(() => evaluate("startsWith(matrix.arch, 'a')", ctx)).toThrow(/unknown function startsWith/);
    expect(condition("matrix.arch == 'arm64'", ctx, { ok: false })).toBe(false);
    expect(condition("always() && matrix.arch == 'ARM64'", ctx, { ok: false })).toBe(true);
    const gl = readPipeline(gitlabText());
    gl.jobs.test!.cache!.when = 'on_success';
    gl.jobs.test!.parallel = 2;
    delete gl.jobs.report!.when;
    const glProblems = gitlabProblems(gl, 4).join('\n');
    for (const want of [
      /not saved on a red night/,
      /parallel 2 is fewer jobs than the 4 default targets/,
      /does not run when a test job failed/,
    ])
      expect(glProblems).toMatch(want);
    expect(() => rulesAdmit([{ if: '$CI_COMMIT_BRANCH == "main"' }], 'schedule')).toThrow(/unsupported rule/);
  });

  it('the full-tier checks fail on a pipeline without the job, or with one that is not scheduled-only, short or uncached', () => {
    const text = githubText();
    const without = readWorkflow(text);
    delete without.jobs.full;
    expect(githubProblems(without, text)).toEqual(['0 jobs run `npm run test:full`, not 1 (the full test tier on scheduled nights)']);
    // `npm test` is not the full tier.
    const fast = readWorkflow(text);
    fast.jobs.full!.steps.find((s) => s.run?.trim() === 'npm run test:full')!.run = 'npm test';
    expect(githubProblems(fast, text)).toEqual(['0 jobs run `npm run test:full`, not 1 (the full test tier on scheduled nights)']);
    const weak = readWorkflow(text);
    const full = weak.jobs.full!;
    delete full.if;
    full['timeout-minutes'] = 150;
    full.container = 'debian:12';
    const restore = full.steps.find((s) => s.uses === 'actions/cache/restore@v4')!;
    restore.with!.path = String(restore.with!.path).replace('~/.cache/ccache\n', '');
    full.steps = full.steps.filter((s) => s.uses !== 'actions/cache/save@v4');
    delete weak.on.schedule;
    expect(githubProblems(weak, text)).toEqual([
      'the workflow has no schedule, so nothing runs the full tier',
      'full: runs on workflow_dispatch too, not only on a schedule',
      'full: timeout-minutes 150 is under 240 (a cold night builds several kernels)',
      'full: the container gets no /dev/kvm (--privileged), so every test boots under TCG',
      'full: ccache (~/.cache/ccache) is not kept between nights',
      'full: restores a cache it never saves',
    ]);

    const gl = readPipeline(gitlabText());
    delete gl.jobs.full;
    expect(gitlabProblems(gl, 4)).toEqual(['0 jobs run `npm run test:full`, not 1 (the full test tier on scheduled pipelines)']);
    const glWeak = readPipeline(gitlabText());
    const job = glWeak.jobs.full!;
    job.rules = [{ if: '$CI_PIPELINE_SOURCE == "schedule"' }, { if: '$CI_PIPELINE_SOURCE == "web"' }];
    job.timeout = '150m';
    job.cache = { ...job.cache!, when: 'on_success', paths: job.cache!.paths.filter((k) => k !== '.cache/npm') };
    delete job.variables!.CCACHE_DIR;
    expect(gitlabProblems(glWeak, 4)).toEqual([
      'full: runs in web pipelines too, not only on a schedule',
      'full: timeout 150m is under 240 minutes (a cold night builds several kernels)',
      'full: the cache is not saved on a red night',
      'full: ccache is not kept between nights (CCACHE_DIR under $CI_PROJECT_DIR, in the cache paths)',
      'full: the npm cache is not kept between nights (npm_config_cache under $CI_PROJECT_DIR, in the cache paths)',
    ]);
    const unscheduled = readPipeline(gitlabText());
    delete unscheduled.jobs.full!.rules;
    expect(gitlabProblems(unscheduled, 4)).toEqual([
      'full: runs in web pipelines too, not only on a schedule',
      'full: runs in api pipelines too, not only on a schedule',
      'full: runs in push pipelines too, not only on a schedule',
    ]);
  });
  it('the unit tier runs on Node 20, 22 and 24 on scheduled nights; its checks fail on a pipeline that drops one', () => {
    const text = githubText();
    const without = readWorkflow(text);
    delete without.jobs.units;
    expect(githubProblems(without, text)).toEqual(['0 jobs run the unit tier, not 1 (on Node 20, 22, 24)']);
    const weak = readWorkflow(text);
    const units = weak.jobs.units!;
    units.strategy = { 'fail-fast': true, matrix: { node: [20, 22] } };
    units.if = "github.event_name == 'schedule' || github.event_name == 'workflow_dispatch'";
    expect(githubProblems(weak, text)).toEqual([
      'units: setup-node names matrix.node, which is not 20, 22, 24',
      'units: does not run on Node 20, 22, 24 (strategy.matrix.node)',
      'units: fail-fast must be false (one Node failing must not hide the others)',
      'units: runs on workflow_dispatch too, not only on a schedule',
    ]);

    const gl = readPipeline(gitlabText());
    delete gl.jobs.units;
    expect(gitlabProblems(gl, 4)).toEqual(['0 jobs run the unit tier, not 1 (on Node 20, 22, 24)']);
    const glWeak = readPipeline(gitlabText());
    const job = glWeak.jobs.units!;
    job.parallel = { matrix: [{ NODE: ['20', '24'] }] };
    job.image = 'node:20-bookworm';
    delete job.rules;
    expect(gitlabProblems(glWeak, 4)).toEqual([
      'units: runs on Node 20, 24, not 20, 22, 24',
      `units: image node:20-bookworm, not node:\${NODE}-bookworm (Debian 12 with each Node)`,
      'units: runs in web pipelines too',
      'units: runs in api pipelines too',
      'units: runs in push pipelines too',
    ]);
  });
});
