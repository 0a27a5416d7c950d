/**
 * JUnit XML over a results stream. There is no formal standard; this follows
 * what GitHub Actions, GitLab and Jenkins read: one <testsuite> per target,
 * one <testcase> per step with classname "<arch>.<kernel>.<scenario>" (GitLab
 * shows it as the suite and keeps only the first of duplicate
 * classname+name), time in seconds, <skipped message>, and the kernel log in
 * <system-out> with control characters removed (they are invalid in XML).
 */
import type { ResultRecord, StepRecord } from '../run/results.ts';
import { targetLabel } from './claims.ts';
import { displayPath, formatFailure } from './failure.ts';

export function xmlEscape(s: string): string {
  return (
    s
      // XML 1.0 allows tab, LF, CR and printable characters only: console logs carry the rest.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;')
      .replace(/'/g, '&apos;')
  );
}

const attr = (o: Record<string, string | number | undefined>) =>
  Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}="${xmlEscape(String(v))}"`)
    .join(' ');

function testcase(s: StepRecord, seen: Set<string>): string {
  const classname = `${s.target.arch}.${s.target.kernel.replace(/\./g, '_')}.${s.scenario}`;
  // Sweeps and repeated names must stay distinct for GitLab.
  let name = s.name;
  for (let i = 2; seen.has(`${classname}\u0000${name}`); i++) name = `${s.name} (${i})`;
  seen.add(`${classname}\u0000${name}`);
  const body: string[] = [];
  const message = s.failures.map(formatFailure).join('; ');
  if (s.status === 'fail' || s.status === 'unexpected-pass')
    body.push(
      `<failure ${attr({ message: message || s.reason || 'failed', type: s.status === 'fail' ? 'expectation' : 'unexpected-pass' })}>` +
        `${xmlEscape([s.request && `request: ${s.request}`, message].filter(Boolean).join('\n'))}</failure>`,
    );
  if (s.status === 'flaky')
    body.push(
      `<failure ${attr({ message: s.reason ?? 'flaky', type: 'flaky' })}>` +
        `${xmlEscape([s.request && `request: ${s.request}`, `statuses by run: ${(s.statuses ?? []).join(', ')}`, message].filter(Boolean).join('\n'))}` +
        '</failure>',
    );
  if (s.status === 'error') body.push(`<error ${attr({ message: s.reason ?? 'error', type: 'error' })}/>`);
  if (s.status === 'skip') body.push(`<skipped ${attr({ message: s.reason ?? 'skipped' })}/>`);
  const note = s.status === 'expected-crash' ? 'expected crash' : s.status === 'expected-fail' ? (s.reason ?? 'expected failure') : '';
  const out = [s.request && `request: ${s.request}`, note, ...s.dmesg].filter(Boolean).join('\n');
  if (out) body.push(`<system-out>${xmlEscape(out)}</system-out>`);
  const line = s.failures.find((f) => f.pos)?.pos?.line ?? s.line;
  const head = `    <testcase ${attr({ classname, name, time: (s.ms / 1000).toFixed(3), file: displayPath(s.scenarioFile), line })}`;
  return `${head}${body.length ? `>\n      ${body.join('\n      ')}\n    </testcase>` : '/>'}`;
}

export function renderJUnit(records: readonly ResultRecord[]): string {
  const steps = records.filter((r): r is StepRecord => r.type === 'step');
  const targets = [...new Set(records.filter((r) => r.type === 'target-begin').map((r) => targetLabel(r.target)))];
  const count = (ss: StepRecord[]) => ({
    tests: ss.length,
    failures: ss.filter((s) => s.status === 'fail' || s.status === 'unexpected-pass' || s.status === 'flaky').length,
    errors: ss.filter((s) => s.status === 'error').length,
    skipped: ss.filter((s) => s.status === 'skip').length,
    time: (ss.reduce((a, s) => a + s.ms, 0) / 1000).toFixed(3),
  });
  const seen = new Set<string>();
  const suites = targets.map((t) => {
    const ss = steps.filter((s) => targetLabel(s.target) === t);
    const release = ss.find((s) => s.target.release)?.target.release;
    const props = release
      ? `\n    <properties>\n      <property ${attr({ name: 'kernel.release', value: release })}/>\n    </properties>`
      : '';
    const end = records.find((r) => r.type === 'target-end' && targetLabel(r.target) === t);
    const infra =
      end?.type === 'target-end' && end.error
        ? `\n    <system-err>${xmlEscape(`${end.status}: ${end.error.message}\n${end.error.details ?? ''}`)}</system-err>`
        : '';
    return `  <testsuite ${attr({ name: t, ...count(ss) })}>${props}\n${ss.map((s) => testcase(s, seen)).join('\n')}${infra}\n  </testsuite>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ${attr({ name: 'kharness', ...count(steps) })}>\n${suites.join('\n')}\n</testsuites>\n`;
}
