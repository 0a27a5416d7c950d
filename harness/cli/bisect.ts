import { join, resolve } from 'node:path';
import { median } from '../analysis/stats.ts';
import { archSpec } from '../arch/arches.ts';
import { type BisectState, type Candidate, gitCandidates, loadState, runBisect, shortId, type Tested } from '../bisect/run.ts';
import { UsageError } from '../errors.ts';
import { chooseAccel, probeAccelFacts } from '../guest/accel.ts';
import { loadCatalog } from '../kernel/catalog.ts';
import { seriesGap, seriesOf } from '../kernel/debian.ts';
import { findKernel } from '../kernel/names.ts';
import { KERNEL_TESTS } from '../ktest/catalog.ts';
import { cacheRoot } from '../paths.ts';
import { FACTS } from '../probe/vocabulary.ts';
import { failureLine } from '../results/view.ts';
import { loadScenarioFile } from '../scenario/file.ts';
import { consoleLog } from '../util/log.ts';
import { formatDuration } from '../util/proc.ts';
import { kernelNames, parseMachineFlags, positiveInt } from './args.ts';
import { parseRule } from './compare.ts';
import type { Outcome } from './exit.ts';

const short = (c: Candidate) => shortId(c.id);

/** --metric FACT --step NAME [--better]: the direction comes from the vocabulary when the fact is a known metric. */
function parseMetric(v: Record<string, unknown>): NonNullable<BisectState['metric']> {
  const fact = String(v.metric);
  if (!v.step)
    throw new UsageError('--metric needs --step NAME: the step whose fact is measured', 'e.g. --step "kmalloc vs vmalloc [64 KiB]"');
  if (!(fact in FACTS) && !Object.values(KERNEL_TESTS).some((k) => k.metrics?.[fact]))
    throw new UsageError(
      `unknown fact "${fact}"`,
      'Name a numeric fact the step reports (kharness schema lists them), e.g. alloc_ns_median.',
    );
  const known = FACTS[fact]?.better ?? Object.values(KERNEL_TESTS).find((k) => k.metrics?.[fact])?.metrics?.[fact];
  const better = v.better === undefined ? known : String(v.better);
  if (better === undefined)
    throw new UsageError(
      `--metric ${fact} is not a metric kharness knows the direction of`,
      'Say which way is better: --better lower or --better higher.',
    );
  if (better !== 'lower' && better !== 'higher') throw new UsageError(`--better takes lower or higher, not "${better}"`);
  return { step: String(v.step), fact, better, rule: parseRule(v) };
}

export async function bisectCommand(v: Record<string, unknown>, _positionals: string[], signal: AbortSignal): Promise<Outcome> {
  const log = consoleLog(Boolean(v.verbose));
  const settings = parseMachineFlags(v);
  let state: BisectState;
  let outDir: string;
  if (v.resume) {
    outDir = resolve(String(v.resume));
    state = loadState(outDir);
    log.info(`resuming: ${Object.keys(state.tested).length} candidates already judged`);
  } else {
    if (!v.scenario) throw new UsageError('bisect needs --scenario FILE');
    const metric = v.metric ? parseMetric(v) : undefined;
    const repeat = v.repeat === undefined ? (metric ? 5 : 1) : positiveInt(v.repeat, '--repeat');
    const confirm = v.confirm === undefined ? 3 : positiveInt(v.confirm, '--confirm');
    if (v.find !== 'regression' && v.find !== 'fix')
      throw new UsageError(`unknown --find "${String(v.find)}"`, 'Use --find regression (default) or --find fix.');
    archSpec(String(v.arch));
    outDir = resolve(v.out ? String(v.out) : join('kharness-bisect', new Date().toISOString().replace(/[:.]/g, '-')));
    const base = {
      arch: String(v.arch),
      scenarioFile: resolve(String(v.scenario)),
      step: v.step ? String(v.step) : undefined,
      repeat,
      confirm,
      metric,
      find: v.find as 'regression' | 'fix',
      tested: {},
    };
    if (v.repo) {
      if (!v.good || !v.bad) throw new UsageError('git bisect needs --good REF and --bad REF');
      const repo = resolve(String(v.repo));
      const { good, list } = await gitCandidates(repo, String(v.good), String(v.bad));
      if (good.configVersion)
        log.info(
          `every candidate is configured as the catalog's ${seriesOf(good.configVersion)} kernel (the good end is ${good.configVersion})`,
        );
      state = { mode: 'git', repo, ...base, good, candidates: list };
    } else if (v.kernels) {
      // A Debian range here may span series (debian:6.12..debian:7.2-cloud): every version between, in order.
      const names = (await kernelNames(v.kernels, v.arch, log, { acrossSeries: true })) ?? [];
      if (names.length < 2) throw new UsageError('--kernels needs at least two kernels, oldest first');
      const catalog = await loadCatalog();
      const cands = names.map((n) => {
        findKernel(n, catalog);
        return { id: n, kernel: n, subject: `kernel ${n}` };
      });
      state = { mode: 'kernels', ...base, good: cands[0]!, candidates: cands.slice(1) };
    } else {
      throw new UsageError('bisect needs --repo with --good/--bad, or --kernels');
    }
  }
  const scenario = await loadScenarioFile(state.scenarioFile, cacheRoot());
  // Searching for a fix, the sides are the old behaviour and the fixed one (git bisect's old/new).
  const term = (o: string) => (state.find === 'fix' ? ({ good: 'old', bad: 'fixed' }[o] ?? o) : o);
  const t0 = Date.now();
  log.info(
    `bisecting ${state.candidates.length} candidates after ${short(state.good)} with ${scenario.name}` +
      `${state.step ? ` › ${state.step}` : ''} on ${state.arch} (state: ${join(outDir, 'bisect.json')})`,
  );
  const accel = chooseAccel(probeAccelFacts(archSpec(state.arch)), settings.accel).accel;
  const line = (c: Candidate, t: Tested) => {
    const m = state.metric && t.samples?.length ? `  ${state.metric.fact} median ${median(t.samples)} (n=${t.samples.length})` : '';
    const why = t.outcome === 'skip' || t.flaky ? `  — ${t.reason}` : '';
    return `  ${short(c)}  ${term(t.outcome).padEnd(5)} ${formatDuration(t.ms).padStart(10)}  ${c.subject}${m}${why}\n`;
  };
  const result = await runBisect({
    state,
    scenario,
    outDir,
    log,
    settings,
    signal,
    accel,
    onTested: (c: Candidate, t: Tested) => process.stdout.write(line(c, t)),
  });
  process.stdout.write('\nbisect log:\n');
  for (const c of [state.good, ...state.candidates]) {
    const t = state.tested[c.id];
    if (t) process.stdout.write(line(c, t));
  }
  const tested = Object.values(state.tested);
  if (result.kind === 'done') {
    const bad = result.firstBad!;
    const order = [state.good, ...state.candidates];
    // Searching for a fix, the evidence is the failure just before it: the old behaviour.
    const shown =
      state.find === 'fix'
        ? (order
            .slice(0, order.indexOf(bad))
            .reverse()
            .find((c) => state.tested[c.id]?.outcome === 'good') ?? bad)
        : bad;
    const t = state.tested[shown.id]!;
    process.stdout.write(`\nfirst ${state.find === 'fix' ? 'fixed' : 'bad'}: ${bad.id} ${bad.subject}\n`);
    const before = order[order.indexOf(bad) - 1];
    const gap = before && seriesGap(before.kernel, bad.kernel);
    if (gap) process.stdout.write(`  ${gap}\n`);
    if (shown !== bad) process.stdout.write(`  the old behaviour, on ${short(shown)}:\n`);
    for (const f of t.failure?.failures ?? []) process.stdout.write(`  ${t.failure!.step}: ${failureLine(f)}\n`);
    if (t.failure?.dmesg.length)
      process.stdout.write(
        `  kernel log:\n${t.failure.dmesg
          .slice(0, 20)
          .map((l) => `    ${l}`)
          .join('\n')}\n`,
      );
    if (state.metric) {
      const p = state.tested[(order[order.indexOf(bad) - 1] ?? state.good).id];
      process.stdout.write(
        `  ${state.metric.step} › ${state.metric.fact}: median ${median(p?.samples ?? [NaN])} → ${median(t.samples ?? [NaN])}\n`,
      );
    }
    process.stdout.write(`  evidence: ${t.runDirs.join(', ')}\n`);
    const conf = result.confirmation;
    if (conf) {
      process.stdout.write(
        `${conf.confirmed ? 'confirmed' : 'NOT CONFIRMED'} over ${conf.runs} more run${conf.runs === 1 ? '' : 's'} each: ${conf.reason}\n`,
      );
      process.stdout.write(`  confirmation runs: ${conf.runDirs.join(', ')}\n`);
    }
  } else {
    const among = [...result.skipped!, result.firstBad!].map((c) => `${short(c)} ${c.subject}`).join('; ');
    process.stdout.write(`\nthe first ${state.find === 'fix' ? 'fixed' : 'bad'} is one of: ${among} (the others could not be judged)\n`);
  }
  process.stdout.write(`${tested.length} candidates built and run in ${formatDuration(Date.now() - t0)}\n`);
  // A culprit its own re-runs do not confirm is no answer to act on.
  return result.kind === 'done' && result.confirmation && !result.confirmation.confirmed ? 'failed' : 'done';
}
