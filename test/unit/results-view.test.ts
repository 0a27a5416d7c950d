/**
 * The one view of a run (results/view.ts) that every reporter reads: targets
 * in plan order whatever order they finished in, one failure line, one
 * wording of the counts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareRuns } from '../../harness/regress/compare.ts';
import { consoleReporter } from '../../harness/report/console.ts';
import { githubAnnotations } from '../../harness/report/github.ts';
import { renderHtml } from '../../harness/report/html.ts';
import { renderJson } from '../../harness/report/json.ts';
import { renderJUnit } from '../../harness/report/junit.ts';
import { renderKtap } from '../../harness/report/ktap.ts';
import { liveFooter } from '../../harness/report/live.ts';
import { renderMarkdown } from '../../harness/report/markdown.ts';
import { FILE_REPORTERS } from '../../harness/report/reporters.ts';
import { countStatuses } from '../../harness/results/outcome.ts';
import { parseResults, type ResultRecord, type StepRecord, type TargetRef } from '../../harness/results/records.ts';
import { countsLine, failureLine, inPlanOrder, resultsView, targetOrder } from '../../harness/results/view.ts';
import { mergeRuns } from '../../harness/run/merge.ts';

const recorded = parseResults(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'results-6.1-x86_64.jsonl'), 'utf8'));

const failure = {
  what: 'phys_runs',
  expected: '1',
  observed: '3',
  pos: { file: 'scenarios/vmalloc-contiguity.yaml', line: 17, column: 9 },
};
const LINE = 'scenarios/vmalloc-contiguity.yaml:17:9: phys_runs: expected 1, observed 3';

/** The recorded target's records as those of `t`, its first step failed with `failure`. */
function targetRecords(t: { arch: string; kernel: string }): ResultRecord[] {
  let first = true;
  return recorded.flatMap((r): ResultRecord[] => {
    if (!('target' in r)) return [];
    const target: TargetRef = { ...r.target, ...t };
    if (r.type !== 'step') return [{ ...r, target } as ResultRecord];
    const failed = first;
    first = false;
    return [failed ? ({ ...r, target, status: 'fail', failures: [failure] } as StepRecord) : { ...r, target }];
  });
}

const A = { arch: 'x86_64', kernel: '6.1' };
const B = { arch: 'arm64', kernel: '6.1' };

/**
 * A run planned as A then B in which B began and finished first (it is the
 * faster target, or it won the race to start): every record of B is written
 * before any of A's.
 */
function outOfOrder(): ResultRecord[] {
  const begin = recorded[0]!;
  const body = [...targetRecords(B), ...targetRecords(A)];
  return [
    { ...(begin as Extract<ResultRecord, { type: 'run-begin' }>), targets: [A, B] },
    ...body,
    { type: 'run-end', at: '', outcome: 'failed', counts: countStatuses(body), ms: 1000 },
  ];
}

/** Where each target's label first appears in a report's text: A must come before B. */
function inOrder(text: string, a = 'x86_64/6.1', b = 'arm64/6.1'): void {
  expect(text).toContain(a);
  expect(text).toContain(b);
  expect(text.indexOf(a)).toBeLessThan(text.indexOf(b));
}

describe('the targets, in plan order', () => {
  const records = outOfOrder();

  it('comes from the plan the run recorded, not from the order the targets began or ended in', () => {
    expect(targetOrder(records)).toEqual(['x86_64/6.1', 'arm64/6.1']);
    const v = resultsView(records);
    expect(v.targets.map((t) => t.label)).toEqual(['x86_64/6.1', 'arm64/6.1']);
    expect(v.steps[0]!.target.arch).toBe('x86_64');
    expect(v.records[0]!.type).toBe('run-begin');
    expect(v.records[v.records.length - 1]!.type).toBe('run-end');
    // A view's records view the same.
    expect(resultsView(v.records).records).toEqual(v.records);
  });

  it('is the order targets began in for a run from before plans were recorded', () => {
    const old = records.map((r) => (r.type === 'run-begin' ? { ...r, targets: undefined } : r));
    expect(targetOrder(old)).toEqual(['arm64/6.1', 'x86_64/6.1']);
  });

  it.each(Object.entries(FILE_REPORTERS))('is the order of the %s report', (_, reporter) => {
    inOrder(reporter.render(records));
  });

  it('is the order of every part of the JSON report', () => {
    const j = JSON.parse(renderJson(records)) as { targets: ResultRecord[]; guests: ResultRecord[]; steps: StepRecord[] };
    for (const list of [j.targets, j.guests, j.steps]) expect(list.map((r) => ('target' in r ? r.target.arch : ''))[0]).toBe('x86_64');
    expect(j.steps.findIndex((s) => s.target.arch === 'arm64')).toBe(j.steps.filter((s) => s.target.arch === 'x86_64').length);
  });

  it('is the order of JUnit suites, KTAP tests, HTML target rows and Markdown failures', () => {
    inOrder(renderJUnit(records), '<testsuite name="x86_64/6.1"', '<testsuite name="arm64/6.1"');
    inOrder(renderKtap(records), 'ok 1 x86_64/6.1', 'ok 2 arm64/6.1');
    inOrder(renderHtml(records).split('<h2>Verdicts</h2>')[0]!.split('</section>')[1]!);
    inOrder(renderMarkdown(records).split('## Failures')[1]!);
  });

  it('is the order of the terminal summary after a live run, and of a replay', () => {
    let live = '';
    records.forEach(consoleReporter({ color: false, write: (s) => (live += s) }));
    // Live, step lines come as they happen (B's first); the summary at the end follows the plan.
    inOrder(live, 'arm64/6.1', 'x86_64/6.1');
    inOrder(live.slice(live.indexOf('passed, ')), 'FAIL x86_64/6.1', 'FAIL arm64/6.1');
    let replay = '';
    inPlanOrder(records).forEach(consoleReporter({ color: false, write: (s) => (replay += s) }));
    inOrder(replay);
  });

  it('is the order of the live footer', () => {
    const writes: string[] = [];
    const footer = liveFooter(
      (s) => writes.push(s),
      () => 0,
    );
    footer.onRecord(records[0]!);
    footer.onRecord({ type: 'status', target: B, phase: 'running', at: '' });
    footer.onRecord({ type: 'status', target: A, phase: 'building', at: '' });
    footer.stop();
    inOrder(writes.filter((s) => s.includes('6.1')).pop()!);
  });

  it('is the order of a merge of shards: the CI plan when given, else each run’s plan in the order the runs were given', () => {
    const shard = (t: typeof A): ResultRecord[] => [
      { type: 'run-begin', runId: t.arch, at: '', argv: [], outDir: '', targets: [t] },
      ...targetRecords(t),
      { type: 'run-end', at: '', outcome: 'failed', counts: {}, ms: 1 },
    ];
    const runs = [
      { name: 'b', records: shard(B) },
      { name: 'a', records: shard(A) },
    ];
    expect(targetOrder(mergeRuns(runs, '/out', [A, B]).records)).toEqual(['x86_64/6.1', 'arm64/6.1']);
    expect(targetOrder(mergeRuns(runs, '/out').records)).toEqual(['arm64/6.1', 'x86_64/6.1']);
  });
});

describe('the failure line', () => {
  const records = outOfOrder();

  it('is the same in every reporter, each escaping it for its medium only', () => {
    let term = '';
    records.forEach(consoleReporter({ color: false, write: (s) => (term += s) }));
    const texts = {
      terminal: term,
      junit: renderJUnit(records),
      ktap: renderKtap(records),
      html: renderHtml(records),
      markdown: renderMarkdown(records),
    };
    for (const [name, text] of Object.entries(texts)) expect(text, name).toContain(LINE);
    // The terminal's line under its step is the same line in colour: place dimmed, observation red.
    let colour = '';
    records.forEach(consoleReporter({ color: true, write: (s) => (colour += s) }));
    expect(colour).toContain(failureLine(failure, { style: { at: (s) => `\x1b[2m${s}\x1b[0m`, observed: (s) => `\x1b[31m${s}\x1b[0m` } }));
  });

  it('without its place where the medium says it otherwise: a GitHub annotation, compare, bisect', () => {
    const step = resultsView(records).steps.find((s) => s.failures.length)!;
    expect(githubAnnotations(step)).toContain(`::${failureLine(failure, { at: false })}\n`);
    expect(failureLine(failure, { at: false })).toBe('phys_runs: expected 1, observed 3');
    const base = records.map((r) => (r.type === 'step' ? { ...r, status: 'pass' as const, failures: [] } : r));
    const c = compareRuns(base, records);
    expect(JSON.stringify(c)).toContain('phys_runs: expected 1, observed 3');
  });
});

describe('the counts in words', () => {
  it('are worded once: every status for the files, the non-zero ones for the terminal', () => {
    const c = { pass: 64, 'expected-crash': 1, fail: 2 };
    expect(countsLine(c)).toBe(
      '64 passed, 1 expected crashes, 0 expected failures, 2 failed, 0 passed unexpectedly, 0 flaky, 0 errors, 0 skipped',
    );
    expect(countsLine(c, { zeros: false })).toBe('64 passed, 1 expected crashes, 2 failed');
    expect(countsLine({}, { zeros: false })).toBe('');
    const records = outOfOrder();
    let term = '';
    records.forEach(consoleReporter({ color: false, write: (s) => (term += s) }));
    const counts = resultsView(records).counts;
    expect(term).toContain(`\n${countsLine(counts, { zeros: false })} in 1.0 s\n`);
    expect(renderMarkdown(records)).toContain(`${countsLine(counts)} on 2 target(s).`);
    expect(renderHtml(records)).toContain(`<p id="summary">${countsLine(counts)} — 2 target(s): x86_64/6.1, arm64/6.1</p>`);
  });
});
