/**
 * The bisect driver: builds, boots and runs one scenario on candidates chosen
 * by search.ts until the first bad one is known. Every verdict is written to
 * <out>/bisect.json as it is reached, so an interrupted bisect resumes where
 * it stopped. Git candidates are built from kharness's own shared clone: the
 * user's repository is only read (rev-list, log), so it stays on the branch
 * and commit it was on.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ChangeRule, compareSamples, distribution, ruleFor } from '../analysis/stats.ts';
import { makefileVersion } from '../analysis/version.ts';
import { KharnessError } from '../errors.ts';
import { verdictOf } from '../regress/compare.ts';
import { countStatuses, stepsOutcome } from '../results/outcome.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { isFailed } from '../results/status.ts';
import { ResultsWriter } from '../results/writer.ts';
import { hostAxes } from '../run/axes.ts';
import type { MachineSettings } from '../run/machine.ts';
import type { Prepare } from '../run/phases.ts';
import { runTarget } from '../run/target.ts';
import type { Scenario } from '../scenario/types.ts';
import { parseJsonDocument } from '../util/document.ts';
import type { Log } from '../util/log.ts';
import { capture } from '../util/proc.ts';
import { bisectStateSchema } from './schema.ts';
import {
  classify,
  combineRepeats,
  judgeMetric,
  metricSamples,
  nextStep,
  type Outcome,
  type Signature,
  signatureOf,
  signatureText,
  type Verdict,
} from './search.ts';

/** A candidate's id for people and paths: a commit's first 12 hex digits, a kernel's whole name. */
export function shortId(id: string): string {
  return /^[0-9a-f]{40}$/.test(id) ? id.slice(0, 12) : id;
}

export interface Candidate {
  /** Commit sha, or catalog kernel name. */
  id: string;
  /** What runTarget is given as the kernel. */
  kernel: string;
  subject: string;
  /**
   * The version whose series configures a git candidate: the good end's, for
   * every candidate alike (BuildOptions.configVersion); absent for a list of kernels.
   */
  configVersion?: string;
}

export interface Tested {
  outcome: Outcome;
  reason: string;
  flaky: boolean;
  ms: number;
  runDirs: string[];
  /** Each run's own outcome (before folding). */
  outcomes?: Outcome[];
  failure?: { step: string; failures: StepRecord['failures']; dmesg: string[] };
  /** How it failed, when it did. */
  signature?: Signature;
  /** The metric's samples, one per run (bisect --metric). */
  samples?: number[];
}

export interface Confirmation {
  confirmed: boolean;
  reason: string;
  runs: number;
  runDirs: string[];
}

export interface BisectState {
  mode: 'git' | 'kernels';
  repo?: string;
  arch: string;
  scenarioFile: string;
  step?: string;
  /** Runs per candidate (fresh VMs, one build); with --metric, samples per batch. */
  repeat: number;
  /** Runs of the culprit and of its parent once it is found. */
  confirm?: number;
  /** Bisect by a metric of one step instead of by expectations. */
  metric?: { step: string; fact: string; better: 'lower' | 'higher'; rule?: Partial<ChangeRule> };
  /** The failure being bisected (taken from the failing end): a candidate failing otherwise is a skip. */
  signature?: Signature;
  /**
   * What is searched for: the first candidate where the scenario fails
   * (`regression`, the default), or the first where it passes after failing
   * (`fix`: the old end fails, the new end passes, like git bisect's old/new).
   */
  find?: 'regression' | 'fix';
  /** Oldest first; the last is the known-bad end. The good end is `good`. */
  candidates: Candidate[];
  good: Candidate;
  tested: Record<string, Tested>;
  result?: {
    kind: 'done' | 'ambiguous';
    firstBad?: Candidate;
    lastGood?: Candidate;
    skipped?: Candidate[];
    /** The culprit re-run against its parent (done only). */
    confirmation?: Confirmation;
  };
}

export async function gitCandidates(repo: string, good: string, bad: string): Promise<{ good: Candidate; list: Candidate[] }> {
  const rev = async (ref: string) => {
    try {
      return (await capture('git', ['-C', repo, 'rev-parse', '--verify', `${ref}^{commit}`])).trim();
    } catch {
      throw new KharnessError(
        'USAGE',
        `cannot resolve "${ref}" in ${repo}`,
        'Give --repo a kernel git repository and --good/--bad refs that exist in it.',
      );
    }
  };
  const [g, b] = [await rev(good), await rev(bad)];
  const lines = (await capture('git', ['-C', repo, 'log', '--reverse', '--first-parent', '--format=%H %s', `${g}..${b}`]))
    .split('\n')
    .filter(Boolean);
  if (!lines.length)
    throw new KharnessError('USAGE', `${bad} is not a descendant of ${good}`, 'Bisect needs --good to be an ancestor of --bad.');
  // One configuration for the whole range: the good end's series, even where a commit's Makefile names the next.
  const version = makefileVersion(await capture('git', ['-C', repo, 'show', `${g}:Makefile`]).catch(() => ''));
  const pin = version ? { configVersion: version } : {};
  const cand = (l: string): Candidate => {
    const sha = l.slice(0, 40);
    return { id: sha, kernel: `git:${repo}@${sha}`, subject: l.slice(41), ...pin };
  };
  const goodSubject = (await capture('git', ['-C', repo, 'log', '-1', '--format=%s', g])).trim();
  return { good: { id: g, kernel: `git:${repo}@${g}`, subject: goodSubject, ...pin }, list: lines.map(cand) };
}

export interface BisectOptions {
  state: BisectState;
  scenario: Scenario;
  outDir: string;
  log: Log;
  settings: MachineSettings;
  signal?: AbortSignal;
  /** The accelerator the guests will use (picks the metric rule's default threshold). */
  accel?: string;
  /** Called after each verdict (the console progress line). */
  onTested?: (c: Candidate, t: Tested) => void;
  /**
   * How each candidate's kernel and machines come to be (runTarget's seam):
   * the real build and QEMU unless a test gives a fake machine.
   */
  prepare?: Prepare;
}

function save(o: BisectOptions): void {
  writeFileSync(join(o.outDir, 'bisect.json'), `${JSON.stringify(o.state, null, 2)}\n`);
}

/** The state of an interrupted bisect, checked against its schema before any field is trusted. */
export function loadState(outDir: string): BisectState {
  const f = join(outDir, 'bisect.json');
  if (!existsSync(f))
    throw new KharnessError(
      'USAGE',
      `no bisect to resume in ${outDir}`,
      'Give --resume the --out directory of the bisect that was interrupted.',
    );
  return parseJsonDocument<BisectState>(readFileSync(f, 'utf8'), f, bisectStateSchema);
}

const safe = (c: Candidate) => shortId(c.id).replace(/[^A-Za-z0-9._-]/g, '_');

/** Runs the scenario `n` times on a candidate (one build, a fresh VM per run); the records, and the run directory. */
async function sample(o: BisectOptions, c: Candidate, label: string, n: number): Promise<{ records: ResultRecord[]; dir: string }> {
  const dir = join(o.outDir, 'runs', `${safe(c)}-${label}`);
  mkdirSync(dir, { recursive: true });
  const records: ResultRecord[] = [];
  const writer = new ResultsWriter(join(dir, 'results.jsonl'), [(r) => records.push(r)]);
  // A whole run, as `kharness run` writes one: `report` and `compare` read it like any other.
  const t0 = Date.now();
  writer.write({
    type: 'run-begin',
    runId: randomUUID(),
    at: new Date().toISOString(),
    argv: ['bisect', c.kernel, label],
    outDir: dir,
    host: await hostAxes(o.settings, [o.state.arch]),
    ...(n > 1 ? { repeat: n } : {}),
    targets: [{ arch: o.state.arch, kernel: c.kernel }],
  });
  await runTarget({
    arch: o.state.arch,
    kernel: c.kernel,
    configVersion: c.configVersion,
    scenarios: [o.scenario],
    outDir: dir,
    writer,
    log: o.log,
    settings: o.settings,
    signal: o.signal,
    repeat: n,
    prepare: o.prepare,
  });
  if (o.signal?.aborted) throw new KharnessError('INTERRUPTED', 'interrupted');
  writer.write({
    type: 'run-end',
    at: new Date().toISOString(),
    outcome: stepsOutcome(records),
    counts: countStatuses(records),
    ms: Date.now() - t0,
  });
  return { records, dir };
}

/** Each run's records: its own step records, and everything that belongs to all runs (the target's end, skips before any run). */
export function perRun(records: readonly ResultRecord[], n: number): ResultRecord[][] {
  return Array.from({ length: n }, (_, i) => records.filter((r) => r.type !== 'step' || r.repeat === undefined || r.repeat === i + 1));
}

// Searching for a fix, a pass is the "new" behaviour: the search's bad side.
const FLIP: Record<Outcome, Outcome> = { good: 'bad', bad: 'good', skip: 'skip', abort: 'abort' };

/** Runs a candidate and judges it: by its expectations (and the failure's signature), or by a metric against the ends. */
async function judgeCandidate(o: BisectOptions, c: Candidate, label: string, n: number): Promise<Tested> {
  const t0 = Date.now();
  const { records, dir } = await sample(o, c, label, n);
  const runs = perRun(records, n);
  const classified = runs.map((rs) => classify(rs, o.state.metric ? undefined : o.state.step, o.state.signature));
  const outcomes = classified.map((x) => x.outcome);
  const combined = combineRepeats(outcomes);
  const flaky = combined.flaky;
  const outcome = o.state.find === 'fix' ? FLIP[combined.outcome] : combined.outcome;
  const deciding = classified.find((x) => x.outcome === combined.outcome) ?? classified[0]!;
  const failure = deciding.step && isFailed(deciding.step.status) ? deciding.step : undefined;
  return {
    outcome,
    flaky,
    outcomes,
    reason: flaky ? `flaky: ${outcomes.join(', ')} over ${outcomes.length} runs` : deciding.reason,
    ms: Date.now() - t0,
    runDirs: [dir],
    failure: failure && { step: failure.name, failures: failure.failures, dmesg: failure.dmesg },
    signature: failure && signatureOf(failure),
    samples: o.state.metric ? metricSamples(records, o.state.metric.step, o.state.metric.fact) : undefined,
  };
}

/** A metric candidate: sampled, judged against both ends; undecided after two batches is a skip, not a guess. */
async function judgeByMetric(o: BisectOptions, c: Candidate): Promise<Tested> {
  const m = o.state.metric!;
  const ends = [o.state.tested[o.state.good.id]!, o.state.tested[o.state.candidates.at(-1)!.id]!];
  const [good, bad] = ends.map((t) => distribution(t.samples!));
  let t = await judgeCandidate(o, c, 'runs', o.state.repeat);
  for (let batch = 2; ; batch++) {
    if (!t.samples?.length)
      return { ...t, outcome: t.outcome === 'abort' ? 'abort' : 'skip', reason: `no ${m.fact} measured: ${t.reason}` };
    const j = judgeMetric(distribution(t.samples), good!, bad!, m.better, ruleOf(o));
    if (j.outcome !== 'undecided') return { ...t, outcome: j.outcome, reason: `${m.fact} ${j.reason}` };
    if (batch > 2) return { ...t, outcome: 'skip', reason: `cannot be decided: ${m.fact} ${j.reason} over ${t.samples.length} samples` };
    const more = await judgeCandidate(o, c, `runs-${batch}`, o.state.repeat);
    t = { ...more, samples: [...t.samples, ...(more.samples ?? [])], runDirs: [...t.runDirs, ...more.runDirs], ms: t.ms + more.ms };
  }
}

/** The rule metrics are judged by: the user's threshold, else the accelerator's default (stats.ts). */
function ruleOf(o: BisectOptions): ChangeRule {
  return ruleFor([o.accel ?? 'tcg'], o.state.metric?.rule);
}

async function test(o: BisectOptions, c: Candidate): Promise<Tested> {
  const done = o.state.tested[c.id];
  if (done && done.outcome !== 'abort') return done;
  const isEnd = c.id === o.state.good.id || c.id === o.state.candidates.at(-1)!.id;
  const tested = o.state.metric && !isEnd ? await judgeByMetric(o, c) : await judgeCandidate(o, c, 'runs', o.state.repeat);
  o.state.tested[c.id] = tested;
  save(o);
  // A metric's ends are told once they are judged against each other (checkMetricEnds).
  if (!(o.state.metric && isEnd)) o.onTested?.(c, tested);
  if (tested.outcome === 'abort')
    throw new KharnessError(
      'INFRA',
      `bisect stopped: ${shortId(c.id)} could not be judged (${tested.reason})`,
      'Nothing was concluded. Fix the problem and run again with --resume.',
    );
  return tested;
}

/**
 * The culprit confirmed: it and the candidate before it run `confirm` times
 * more each, on fresh VMs. By expectations, the culprit must be bad (with the
 * bisected failure) every time and its parent good every time; by a metric,
 * the culprit's samples must be worse than its parent's by the rule.
 */
async function confirmCulprit(o: BisectOptions, culprit: Candidate, parent: Candidate): Promise<Confirmation> {
  const k = o.state.confirm ?? 3;
  const [c, p] = [await judgeCandidate(o, culprit, 'confirm', k), await judgeCandidate(o, parent, 'confirm', k)];
  const m = o.state.metric;
  let confirmed: boolean;
  let reason: string;
  if (m) {
    const cmp = compareSamples(
      distribution(p.samples?.length ? p.samples : [NaN]),
      distribution(c.samples?.length ? c.samples : [NaN]),
      ruleOf(o),
    );
    const verdict = c.samples?.length && p.samples?.length ? verdictOf(cmp, m.better) : 'undecided';
    confirmed = verdict === 'regressed';
    reason = `${m.fact}: ${shortId(parent.id)} → ${shortId(culprit.id)} ${cmp.reason} (${verdict})`;
  } else {
    confirmed =
      c.outcomes!.every((x) => x === (o.state.find === 'fix' ? 'good' : 'bad')) &&
      p.outcomes!.every((x) => x === (o.state.find === 'fix' ? 'bad' : 'good'));
    reason = `${shortId(culprit.id)}: ${c.outcomes!.join(', ')}; ${shortId(parent.id)}: ${p.outcomes!.join(', ')}`;
  }
  return { confirmed, reason, runs: k, runDirs: [...c.runDirs, ...p.runDirs] };
}

/** Runs the bisect to its end (or throws on abort/interrupt, with the state saved). */
export async function runBisect(o: BisectOptions): Promise<NonNullable<BisectState['result']>> {
  mkdirSync(o.outDir, { recursive: true });
  save(o);
  const s = o.state;
  const bad = s.candidates[s.candidates.length - 1]!;
  // The ends first: a bisect from ends that do not behave as claimed would find nonsense.
  if (s.metric) await checkMetricEnds(o, bad);
  else await checkEnds(o, bad);
  for (;;) {
    const verdicts = new Map<number, Verdict>();
    s.candidates.forEach((c, i) => {
      const t = s.tested[c.id];
      if (t && t.outcome !== 'abort') verdicts.set(i, t.outcome);
    });
    const next = nextStep(s.candidates.length, verdicts);
    if (next.kind === 'test') {
      await test(o, s.candidates[next.index]!);
      continue;
    }
    if (next.kind === 'done') {
      const culprit = s.candidates[next.firstBad]!;
      const parent = next.firstBad > 0 ? s.candidates[next.firstBad - 1]! : s.good;
      // A resumed bisect whose culprit was already confirmed keeps that confirmation.
      const earlier = s.result?.firstBad?.id === culprit.id ? s.result.confirmation : undefined;
      s.result = { kind: 'done', firstBad: culprit };
      save(o);
      s.result.confirmation = earlier ?? (await confirmCulprit(o, culprit, parent));
    } else {
      s.result = {
        kind: 'ambiguous',
        firstBad: s.candidates[next.firstBad]!,
        lastGood: next.lastGood >= 0 ? s.candidates[next.lastGood] : s.good,
        skipped: next.skipped.map((i) => s.candidates[i]!),
      };
    }
    save(o);
    return s.result;
  }
}

/** By expectations: the good end passes, the bad end fails (each every run); the failing end's failure is the signature. */
async function checkEnds(o: BisectOptions, bad: Candidate): Promise<void> {
  const s = o.state;
  const fix = s.find === 'fix';
  const g = await test(o, s.good);
  // Searching for a fix, the old end's failure is the one that must go away.
  if (fix && g.signature && !s.signature) s.signature = g.signature;
  if (g.outcome !== 'good')
    throw new KharnessError(
      'USAGE',
      `the ${fix ? 'old' : 'good'} end ${shortId(s.good.id)} does not ${fix ? 'fail' : 'pass'}: ${g.reason}`,
      fix ? 'Searching for a fix, the oldest candidate must fail the scenario.' : 'Choose a --good where the scenario passes.',
    );
  const b = await test(o, bad);
  if (b.outcome !== 'bad')
    throw new KharnessError(
      'USAGE',
      `the ${fix ? 'new' : 'bad'} end ${shortId(bad.id)} does not ${fix ? 'pass' : 'fail'}: ${b.reason}`,
      fix ? 'Searching for a fix, the newest candidate must pass the scenario.' : 'Choose a --bad where the scenario fails.',
    );
  if (!fix && b.signature && !s.signature) s.signature = b.signature;
  save(o);
  if (s.signature) o.log.info(`bisecting the failure ${signatureText(s.signature)}: a candidate failing otherwise is skipped`);
}

/** By a metric: both ends measured, and the bad end worse than the good end by the rule. */
async function checkMetricEnds(o: BisectOptions, bad: Candidate): Promise<void> {
  const s = o.state;
  const m = s.metric!;
  const [g, b] = [await test(o, s.good), await test(o, bad)];
  const rule = ruleOf(o);
  for (const [t, c, end] of [
    [g, s.good, 'good'],
    [b, bad, 'bad'],
  ] as const)
    if ((t.samples?.length ?? 0) < rule.minSamples)
      throw new KharnessError(
        'USAGE',
        `the ${end} end ${shortId(c.id)} gave ${t.samples?.length ?? 0} sample(s) of ${m.fact} at step "${m.step}" (${t.reason})`,
        `The rule needs ${rule.minSamples}: check --step and --metric name a step that runs and a fact it reports, or raise --repeat.`,
      );
  const cmp = compareSamples(distribution(g.samples!), distribution(b.samples!), rule);
  const verdict = verdictOf(cmp, m.better);
  if (verdict !== 'regressed')
    throw new KharnessError(
      'USAGE',
      `the bad end ${shortId(bad.id)} is not worse than the good end ${shortId(s.good.id)} in ${m.fact} (${m.better} is better): ${cmp.reason}`,
      'Choose ends that differ by more than the threshold, or lower --threshold.',
    );
  s.tested[s.good.id] = { ...g, outcome: 'good', reason: `${m.fact} baseline` };
  s.tested[bad.id] = { ...b, outcome: 'bad', reason: `${m.fact} ${cmp.reason}` };
  save(o);
  o.onTested?.(s.good, s.tested[s.good.id]!);
  o.onTested?.(bad, s.tested[bad.id]!);
}
