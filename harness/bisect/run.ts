/**
 * The bisect driver: builds, boots and runs one scenario on candidates chosen
 * by search.ts until the first bad one is known. Every verdict is written to
 * <out>/bisect.json as it is reached, so an interrupted bisect resumes where
 * it stopped. Git candidates are built from kharness's own shared clone: the
 * user's repository is only read (rev-list, log), so it stays on the branch
 * and commit it was on.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KharnessError } from '../errors.ts';
import type { MachineSettings } from '../run/machine.ts';
import { type ResultRecord, ResultsWriter, type StepRecord } from '../run/results.ts';
import { runTarget } from '../run/target.ts';
import type { Scenario } from '../scenario/types.ts';
import type { Log } from '../util/log.ts';
import { capture } from '../util/proc.ts';
import { classify, combineRepeats, nextStep, type Outcome, type Verdict } from './search.ts';

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
}

export interface Tested {
  outcome: Outcome;
  reason: string;
  flaky: boolean;
  ms: number;
  runDirs: string[];
  failure?: { step: string; failures: StepRecord['failures']; dmesg: string[] };
}

export interface BisectState {
  mode: 'git' | 'kernels';
  repo?: string;
  arch: string;
  scenarioFile: string;
  step?: string;
  repeat: number;
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
  result?: { kind: 'done' | 'ambiguous'; firstBad?: Candidate; lastGood?: Candidate; skipped?: Candidate[] };
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
  const cand = (l: string): Candidate => {
    const sha = l.slice(0, 40);
    return { id: sha, kernel: `git:${repo}@${sha}`, subject: l.slice(41) };
  };
  const goodSubject = (await capture('git', ['-C', repo, 'log', '-1', '--format=%s', g])).trim();
  return { good: { id: g, kernel: `git:${repo}@${g}`, subject: goodSubject }, list: lines.map(cand) };
}

export interface BisectOptions {
  state: BisectState;
  scenario: Scenario;
  outDir: string;
  log: Log;
  settings: MachineSettings;
  signal?: AbortSignal;
  /** Called after each verdict (the console progress line). */
  onTested?: (c: Candidate, t: Tested) => void;
}

function save(o: BisectOptions): void {
  writeFileSync(join(o.outDir, 'bisect.json'), `${JSON.stringify(o.state, null, 2)}\n`);
}

export function loadState(outDir: string): BisectState {
  const f = join(outDir, 'bisect.json');
  if (!existsSync(f))
    throw new KharnessError(
      'USAGE',
      `no bisect to resume in ${outDir}`,
      'Give --resume the --out directory of the bisect that was interrupted.',
    );
  return JSON.parse(readFileSync(f, 'utf8')) as BisectState;
}

async function test(o: BisectOptions, c: Candidate): Promise<Tested> {
  const done = o.state.tested[c.id];
  if (done && done.outcome !== 'abort') return done;
  const t0 = Date.now();
  const outcomes: Outcome[] = [];
  const runDirs: string[] = [];
  let last: ReturnType<typeof classify> | undefined;
  for (let i = 0; i < o.state.repeat; i++) {
    const dir = join(o.outDir, 'runs', `${shortId(c.id).replace(/[^A-Za-z0-9._-]/g, '_')}-${i + 1}`);
    mkdirSync(dir, { recursive: true });
    const records: ResultRecord[] = [];
    const writer = new ResultsWriter(join(dir, 'results.jsonl'), [(r) => records.push(r)]);
    await runTarget({
      arch: o.state.arch,
      kernel: c.kernel,
      scenarios: [o.scenario],
      outDir: dir,
      writer,
      log: o.log,
      settings: o.settings,
      signal: o.signal,
    });
    if (o.signal?.aborted) throw new KharnessError('INTERRUPTED', 'interrupted');
    last = classify(records, o.state.step);
    outcomes.push(last.outcome);
    runDirs.push(dir);
    if (last.outcome === 'abort') break;
  }
  const combined = combineRepeats(outcomes);
  const flaky = combined.flaky;
  // Searching for a fix, a pass is the "new" behaviour: the search's bad side.
  const flip: Record<Outcome, Outcome> = { good: 'bad', bad: 'good', skip: 'skip', abort: 'abort' };
  const outcome = o.state.find === 'fix' ? flip[combined.outcome] : combined.outcome;
  const tested: Tested = {
    outcome,
    flaky,
    reason: flaky ? `flaky: ${outcomes.join(', ')} over ${outcomes.length} runs` : last!.reason,
    ms: Date.now() - t0,
    runDirs,
    failure:
      last?.step && combined.outcome === 'bad' ? { step: last.step.name, failures: last.step.failures, dmesg: last.step.dmesg } : undefined,
  };
  o.state.tested[c.id] = tested;
  save(o);
  o.onTested?.(c, tested);
  if (outcome === 'abort')
    throw new KharnessError(
      'INFRA',
      `bisect stopped: ${shortId(c.id)} could not be judged (${tested.reason})`,
      'Nothing was concluded. Fix the problem and run again with --resume.',
    );
  return tested;
}

/** Runs the bisect to its end (or throws on abort/interrupt, with the state saved). */
export async function runBisect(o: BisectOptions): Promise<NonNullable<BisectState['result']>> {
  mkdirSync(o.outDir, { recursive: true });
  save(o);
  const s = o.state;
  const bad = s.candidates[s.candidates.length - 1]!;
  // The ends first: a bisect from ends that do not behave as claimed would find nonsense.
  const g = await test(o, s.good);
  const fix = s.find === 'fix';
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
    s.result =
      next.kind === 'done'
        ? { kind: 'done', firstBad: s.candidates[next.firstBad]! }
        : {
            kind: 'ambiguous',
            firstBad: s.candidates[next.firstBad]!,
            lastGood: next.lastGood >= 0 ? s.candidates[next.lastGood] : s.good,
            skipped: next.skipped.map((i) => s.candidates[i]!),
          };
    save(o);
    return s.result;
  }
}
