import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { exitCode } from '../../harness/cli/exit.ts';
import { consoleReporter } from '../../harness/report/console.ts';
import { githubAnnotations } from '../../harness/report/github.ts';
import { renderJUnit, xmlEscape } from '../../harness/report/junit.ts';
import { renderKtap } from '../../harness/report/ktap.ts';
import { runOutcome } from '../../harness/results/outcome.ts';
import { parseResults, type ResultRecord, type StepRecord } from '../../harness/results/records.ts';
import { failureLine } from '../../harness/results/view.ts';

const exitCodeFor = (r: Parameters<typeof runOutcome>[0]) => exitCode(runOutcome(r));

const recorded = parseResults(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'results-6.1-x86_64.jsonl'), 'utf8'));

/** The recorded run with one step failed, one skipped and one in error. */
function degraded(): ResultRecord[] {
  let i = 0;
  return recorded.map((r) => {
    if (r.type !== 'step') return r;
    i++;
    if (i === 1) return { ...r, status: 'fail', failures: [{ what: 'ok', expected: 'false', observed: 'true' }] } as StepRecord;
    if (i === 2) return { ...r, status: 'skip', reason: 'kernel config lacks CONFIG_KASAN' } as StepRecord;
    if (i === 3) return { ...r, status: 'error', reason: 'probe error EINVAL: unknown gfp flag GFP_X' } as StepRecord;
    return r;
  });
}

describe('console reporter', () => {
  it('prints a line per step, the claims table and a summary, with no escape codes when colour is off', () => {
    let out = '';
    const rep = consoleReporter({ color: false, write: (s) => (out += s) });
    recorded.forEach(rep);
    expect(out).not.toContain('\u001b[');
    expect(out).toMatch(/^x86_64\/6\.1 {2}6\.1\.192$/m);
    expect(out).toMatch(/✓ vmalloc in hard IRQ kills the kernel \(expected crash\)/);
    // The summary first, then each claim with what each target did (this recording predates `shows:`, so no observation).
    expect(out).toMatch(/^The article's claims, per target\n {2}x86_64\/6\.1 {2}\d+ hold, \d+ fail/m);
    expect(out).toMatch(/^kmalloc-128k-limit\n {2}x86_64\/6\.1 {2}fails$/m);
    expect(out).toMatch(/64 passed, 1 expected crashes in [\d.]+ s/);
  });

  it('lists each failure with expected vs observed at the end', () => {
    let out = '';
    const rep = consoleReporter({ color: false, write: (s) => (out += s) });
    degraded().forEach(rep);
    expect(out).toMatch(/FAIL x86_64\/6\.1 › alloc-cost › kmalloc vs vmalloc \[64 B\]\n.*request: cmd=time/);
    expect(out).toMatch(/ok: expected false, observed true/);
    expect(out).toMatch(/ERROR x86_64\/6\.1 › alloc-cost/);
  });
});

describe('exit codes', () => {
  it('is 0 for a passing run, 1 for a failed test, 2 for an error or a failed target', () => {
    expect(exitCodeFor(recorded)).toBe(0);
    expect(exitCodeFor(degraded().filter((r) => !(r.type === 'step' && r.status === 'error')))).toBe(1);
    expect(exitCodeFor(degraded())).toBe(2);
    const bootFailed = recorded.map((r) => (r.type === 'target-end' ? { ...r, status: 'boot-failure' as const } : r));
    expect(exitCodeFor(bootFailed)).toBe(2);
    // A stream cut short (the harness was SIGKILLed) cannot say it passed.
    expect(runOutcome(recorded.filter((r) => r.type !== 'run-end'))).toBe('incomplete');
    expect(exitCodeFor(recorded.filter((r) => r.type !== 'run-end'))).toBe(2);
  });
});

describe('JUnit', () => {
  it('has a suite per target and a case per step, with failures, skips and errors', () => {
    const xml = renderJUnit(degraded());
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="kharness" tests="65" failures="1" errors="1" time=/);
    expect(xml).toMatch(/<testsuite name="x86_64\/6.1" tests="65" failures="1" errors="1" skipped="1"/);
    expect(xml).toContain('classname="x86_64.6_1.alloc-cost" name="kmalloc vs vmalloc [64 B]"');
    expect(xml).toContain('<failure message="ok: expected false, observed true" type="expectation">');
    expect(xml).toMatch(/<skipped message="kernel config lacks CONFIG_KASAN">at [^<]*alloc-cost\.yaml(:\d+)?<\/skipped>/);
    expect(xml).toMatch(
      /<error message="probe error EINVAL: unknown gfp flag GFP_X" type="error">at [^<]*alloc-cost\.yaml(:\d+)?<\/error>/,
    );
  });

  /** Every status a step can have, and a target that failed to boot: what a consumer's schema must accept. */
  function everyStatus(): ResultRecord[] {
    let i = 0;
    const more = degraded().map((r) => {
      if (r.type !== 'step') return r;
      i++;
      if (i === 4)
        return {
          ...r,
          status: 'flaky',
          runs: 5,
          passes: 3,
          statuses: ['pass', 'fail', 'pass', 'fail', 'pass'],
          reason: 'passed 3 of 5 runs',
        } as StepRecord;
      if (i === 5) return { ...r, status: 'unexpected-pass', reason: 'expected to fail on this kernel' } as StepRecord;
      if (i === 6) return { ...r, status: 'expected-fail', reason: 'known: 6.1 lacks it' } as StepRecord;
      if (i === 7)
        return {
          ...r,
          status: 'error',
          reason: 'console silent for 30 s',
          details: 'console:\n\u001b[0m[  1.0] hung <here> & "there"',
        } as StepRecord;
      return r;
    });
    const t = { arch: 'arm64', kernel: 'debian:6.12.57-cloud' };
    return [
      ...more.slice(0, -1),
      { type: 'target-begin', target: t, at: '2026-12-01T00:00:00Z' },
      {
        type: 'target-end',
        target: t,
        status: 'boot-failure',
        error: { code: 'BOOT', message: 'no console marker', details: 'tail\u0007' },
        at: '2026-12-01T00:00:01Z',
      },
      more[more.length - 1]!,
    ];
  }

  it.each([
    ['junit-10.xsd', 'the Jenkins xunit plugin’s published schema'],
    ['junit.xsd', 'kharness’s own stricter one'],
  ])('validates against %s (%s), with failures, flaky, skips, errors and a failed target', async (schema) => {
    const xsd = join(import.meta.dirname, '..', 'schema', schema);
    const dir = mkdtempSync(join(tmpdir(), 'kharness-junit-'));
    for (const [name, recs] of [
      ['passing', recorded],
      ['degraded', degraded()],
      ['every-status', everyStatus()],
    ] as const) {
      const f = join(dir, `${name}.xml`);
      const xml = renderJUnit(recs);
      writeFileSync(f, xml);
      const r = await execa('xmllint', ['--noout', '--schema', xsd, f], { reject: false });
      expect(r.exitCode, r.stderr).toBe(0);
      if (name === 'every-status') {
        expect(xml).toContain('type="flaky"');
        expect(xml).toContain('type="unexpected-pass"');
        expect(xml).toContain('<testsuite name="arm64/debian:6.12.57-cloud"');
        expect(xml).toContain('boot-failure: no console marker');
      }
    }
    // And the schema does reject what it should: a suite without its counts, a case with an attribute it does not know.
    for (const bad of [
      '<testsuites><testsuite name="x" tests="1"><testcase name="a"/></testsuite></testsuites>',
      '<testsuites><testsuite name="x" tests="1" failures="0" errors="0"><testcase name="a" classname="c" line="3"/></testsuite></testsuites>',
    ]) {
      const f = join(dir, 'bad.xml');
      writeFileSync(f, bad);
      expect((await execa('xmllint', ['--noout', '--schema', xsd, f], { reject: false })).exitCode).not.toBe(0);
    }
  });

  it('puts the kernel log in system-out, stripped of characters XML cannot hold', () => {
    const xml = renderJUnit(recorded);
    expect(xml).toMatch(/<system-out>[^<]*kernel BUG at mm\/vmalloc\.c:\d+!/);
    expect(xmlEscape('a\u0007b<c>&"\'\r\n')).toBe('ab&lt;c&gt;&amp;&quot;&apos;\r\n');
  });
});

describe('KTAP', () => {
  it('nests targets, scenarios and steps with version and plan lines', () => {
    const k = renderKtap(degraded()).split('\n');
    expect(k.slice(0, 6)).toEqual(['KTAP version 1', '1..1', '  KTAP version 1', '  1..8', '    KTAP version 1', '    1..4']);
    expect(k).toContain('    # ok: expected false, observed true');
    expect(k).toContain('    not ok 1 kmalloc vs vmalloc [64 B]');
    expect(k).toContain('    ok 2 kmalloc vs vmalloc [4 KiB] # SKIP kernel config lacks CONFIG_KASAN');
    expect(k).toContain('    not ok 3 kmalloc vs vmalloc [64 KiB] # ERROR probe error EINVAL: unknown gfp flag GFP_X');
    expect(k).toContain('  not ok 1 alloc-cost');
    expect(k[k.length - 2]).toBe('not ok 1 x86_64/6.1');
  });

  it('marks an expected crash ok, with a diagnostic line', () => {
    const k = renderKtap(recorded);
    expect(k).toMatch(/# expected crash: kernel BUG at mm\/vmalloc\.c:\d+!\n {4}ok 2 vmalloc in hard IRQ kills the kernel/);
    expect(k.trimEnd().split('\n').pop()).toBe('ok 1 x86_64/6.1');
  });
});

/** A failed step's record on x86_64/6.1, with the fields a test cares about given. */
function failedStep(fields: Partial<StepRecord> & Pick<StepRecord, 'scenario' | 'scenarioFile' | 'name' | 'failures'>): StepRecord {
  return {
    type: 'step',
    target: { arch: 'x86_64', kernel: '6.1' },
    claims: [],
    step: 0,
    status: 'fail',
    facts: {},
    splats: [],
    dmesg: [],
    ms: 1,
    at: '',
    ...fields,
  };
}

describe('failures point at the YAML', () => {
  const failed = failedStep({
    scenario: 'vmalloc-contiguity',
    scenarioFile: 'scenarios/vmalloc-contiguity.yaml',
    step: 2,
    name: 'vmalloc 16 MiB',
    line: 15,
    facts: { phys_runs: 3 },
    failures: [
      { what: 'phys_runs', expected: '1', observed: '3', pos: { file: 'scenarios/vmalloc-contiguity.yaml', line: 17, column: 9 } },
    ],
  });

  it('in the terminal, as file:line:column: fact: expected, observed', () => {
    expect(failureLine(failed.failures[0]!)).toBe('scenarios/vmalloc-contiguity.yaml:17:9: phys_runs: expected 1, observed 3');
  });

  it('in JUnit, as the failure message and the first line of its text (junit-10.xsd has no file or line attributes)', () => {
    const xml = renderJUnit([{ type: 'target-begin', target: failed.target, at: '' }, failed]);
    expect(xml).toContain(
      '<failure message="scenarios/vmalloc-contiguity.yaml:17:9: phys_runs: expected 1, observed 3" type="expectation">' +
        'at scenarios/vmalloc-contiguity.yaml:17\n',
    );
    expect(xml).not.toMatch(/<testcase [^>]*(file|line)=/);
  });

  it('on GitHub Actions, as an error annotation on that line (with workflow-command escaping)', () => {
    expect(githubAnnotations(failed)).toBe(
      '::error file=scenarios/vmalloc-contiguity.yaml,line=17,col=9,title=x86_64/6.1 › vmalloc-contiguity › vmalloc 16 ' +
        'MiB::phys_runs: expected 1, observed 3\n',
    );
    const error = { ...failed, status: 'error' as const, failures: [], reason: 'step timed out after 5 s\nconsole: 100%' };
    expect(githubAnnotations(error)).toBe(
      '::error file=scenarios/vmalloc-contiguity.yaml,line=15,title=x86_64/6.1 › vmalloc-contiguity › vmalloc 16 MiB::step ' +
        'timed out after 5 s%0Aconsole: 100%25\n',
    );
    expect(githubAnnotations({ ...failed, status: 'pass', failures: [] })).toBe('');
  });
});

describe('text from outside reaches terminals and KTAP inert', () => {
  it('shows escape sequences in names, reasons and kernel lines as \\x1b, even in colour', () => {
    const evil = failedStep({
      scenario: 's',
      scenarioFile: 's.yaml',
      name: 'name \u001b[2J',
      reason: 'why \u001b]0;title\u0007',
      failures: [{ what: 'ok', expected: 'true', observed: 'x\u001b[31m' }],
      splats: [{ kind: 'warning', title: 'WARNING', line: 0, lines: ['WARNING: \u001b[5m blink'] }],
    });
    let out = '';
    const rep = consoleReporter({ color: true, write: (s) => (out += s) });
    [
      evil,
      {
        type: 'run-end',
        at: '',
        outcome: 'failed',
        counts: { pass: 0, fail: 1, skip: 0, error: 0, 'expected-crash': 0, 'expected-fail': 0, 'unexpected-pass': 0 },
        ms: 1,
      } as const,
    ].forEach(rep);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the reporter's own colour codes are the only escapes allowed
    const withoutOwnColours = out.replace(/\u001b\[(?:\d+)m/g, '');
    expect([...withoutOwnColours].filter((c) => c < ' ' && c !== '\n' && c !== '\t')).toEqual([]);
    expect(out).toContain('name \\x1b[2J');
    expect(renderKtap([{ type: 'target-begin', target: evil.target, at: '' }, evil])).not.toContain('\u001b');
  });
});
