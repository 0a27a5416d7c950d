import { join, resolve } from 'node:path';
import { archSpec } from '../arch/arches.ts';
import { type BisectState, type Candidate, gitCandidates, loadState, runBisect, shortId, type Tested } from '../bisect/run.ts';
import { UsageError } from '../errors.ts';
import { findKernel } from '../kernel/catalog.ts';
import { formatFailure } from '../report/failure.ts';
import { loadScenarioFile } from '../scenario/load.ts';
import { consoleLog } from '../util/log.ts';
import { formatDuration } from '../util/proc.ts';
import { kernelNames, MACHINE_OPTIONS, MACHINE_USAGE, parseMachineFlags, positiveInt } from './args.ts';
import type { Command } from './command.ts';

const short = (c: Candidate) => shortId(c.id);

export const bisectCommand: Command = {
  summary: 'find the commit (or catalog kernel) where a scenario starts failing',
  usage: [
    `kharness bisect --repo PATH --good REF --bad REF --scenario FILE [--step NAME] [--arch A] [--repeat N] [--out DIR] ${MACHINE_USAGE}`,
    '       kharness bisect --kernels 6.1,6.12[,...] --scenario FILE [--step NAME] [--arch A]   (oldest first: first is good, last is bad)',
    '       kharness bisect --kernels debian:6.1.0-47..6.1.0-56-cloud --scenario FILE   (a series of Debian prebuilt kernels: downloads, no builds)',
    '       [--find fix]: search for the first candidate that passes (the old end fails, the new end passes)',
    '       kharness bisect --resume DIR',
  ].join('\n'),
  options: {
    repo: { type: 'string' },
    good: { type: 'string' },
    bad: { type: 'string' },
    kernels: { type: 'string' },
    scenario: { type: 'string' },
    step: { type: 'string' },
    arch: { type: 'string', default: 'x86_64' },
    repeat: { type: 'string', default: '1' },
    out: { type: 'string' },
    resume: { type: 'string' },
    find: { type: 'string', default: 'regression' },
    ...MACHINE_OPTIONS,
    verbose: { type: 'boolean', short: 'v' },
  },
  async run(v, _positionals, signal) {
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
      const repeat = positiveInt(v.repeat, '--repeat');
      if (v.find !== 'regression' && v.find !== 'fix')
        throw new UsageError(`unknown --find "${String(v.find)}"`, 'Use --find regression (default) or --find fix.');
      archSpec(String(v.arch));
      outDir = resolve(v.out ? String(v.out) : join('kharness-bisect', new Date().toISOString().replace(/[:.]/g, '-')));
      const base = {
        arch: String(v.arch),
        scenarioFile: resolve(String(v.scenario)),
        step: v.step ? String(v.step) : undefined,
        repeat,
        find: v.find as 'regression' | 'fix',
        tested: {},
      };
      if (v.repo) {
        if (!v.good || !v.bad) throw new UsageError('git bisect needs --good REF and --bad REF');
        const repo = resolve(String(v.repo));
        const { good, list } = await gitCandidates(repo, String(v.good), String(v.bad));
        state = { mode: 'git', repo, ...base, good, candidates: list };
      } else if (v.kernels) {
        const names = (await kernelNames(v.kernels, v.arch, log)) ?? [];
        if (names.length < 2) throw new UsageError('--kernels needs at least two kernels, oldest first');
        const cands = names.map((n) => {
          findKernel(n);
          return { id: n, kernel: n, subject: `kernel ${n}` };
        });
        state = { mode: 'kernels', ...base, good: cands[0]!, candidates: cands.slice(1) };
      } else {
        throw new UsageError('bisect needs --repo with --good/--bad, or --kernels');
      }
    }
    const scenario = await loadScenarioFile(state.scenarioFile);
    // Searching for a fix, the sides are the old behaviour and the fixed one (git bisect's old/new).
    const term = (o: string) => (state.find === 'fix' ? ({ good: 'old', bad: 'fixed' }[o] ?? o) : o);
    const t0 = Date.now();
    log.info(
      `bisecting ${state.candidates.length} candidates after ${short(state.good)} with ${scenario.name}` +
        `${state.step ? ` › ${state.step}` : ''} on ${state.arch} (state: ${join(outDir, 'bisect.json')})`,
    );
    const result = await runBisect({
      state,
      scenario,
      outDir,
      log,
      settings,
      signal,
      onTested: (c: Candidate, t: Tested) =>
        process.stdout.write(
          `  ${short(c)}  ${term(t.outcome).padEnd(5)} ${formatDuration(t.ms).padStart(10)}  ${c.subject}${t.flaky ? '  (flaky)' : ''}\n`,
        ),
    });
    process.stdout.write('\nbisect log:\n');
    for (const c of [state.good, ...state.candidates]) {
      const t = state.tested[c.id];
      if (t) process.stdout.write(`  ${short(c)}  ${term(t.outcome).padEnd(5)} ${formatDuration(t.ms).padStart(10)}  ${c.subject}\n`);
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
      if (shown !== bad) process.stdout.write(`  the old behaviour, on ${short(shown)}:\n`);
      for (const f of t.failure?.failures ?? []) process.stdout.write(`  ${t.failure!.step}: ${formatFailure(f)}\n`);
      if (t.failure?.dmesg.length)
        process.stdout.write(
          `  kernel log:\n${t.failure.dmesg
            .slice(0, 20)
            .map((l) => `    ${l}`)
            .join('\n')}\n`,
        );
      process.stdout.write(`  evidence: ${t.runDirs.join(', ')}\n`);
    } else {
      const among = [...result.skipped!, result.firstBad!].map((c) => `${short(c)} ${c.subject}`).join('; ');
      process.stdout.write(`\nthe first ${state.find === 'fix' ? 'fixed' : 'bad'} is one of: ${among} (the others could not be judged)\n`);
    }
    process.stdout.write(`${tested.length} candidates built and run in ${formatDuration(Date.now() - t0)}\n`);
    return 'done';
  },
};
