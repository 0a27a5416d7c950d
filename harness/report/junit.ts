/**
 * JUnit XML over a results stream. There is no formal standard; this follows
 * what GitHub Actions, GitLab and Jenkins read: one <testsuite> per target,
 * one <testcase> per step with classname "<arch>.<kernel>.<scenario>" (GitLab
 * shows it as the suite and keeps only the first of duplicate
 * classname+name), time in seconds, <skipped message>, and the kernel log in
 * <system-out> with control characters removed (they are invalid in XML).
 * It validates against the schema the Jenkins xunit plugin publishes
 * (test/schema/junit-10.xsd), which has no `file`/`line` on a testcase and
 * no `skipped` on <testsuites>: a step's place in its scenario file starts
 * the text of its failure, error or skip instead (`at scenarios/x.yaml:17`),
 * beside the `file:line:column:` that starts each failed expectation.
 */

import type { ResultRecord, StepRecord } from '../results/records.ts';
import { displayPath, failureLine, resultsView } from '../results/view.ts';

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
  const message = s.failures.map((f) => failureLine(f)).join('; ');
  const line = s.failures.find((f) => f.pos)?.pos?.line ?? s.line;
  const at = `at ${displayPath(s.scenarioFile)}${line ? `:${line}` : ''}`;
  const text = (...parts: (string | undefined)[]) => xmlEscape([at, ...parts].filter(Boolean).join('\n'));
  if (s.status === 'fail' || s.status === 'unexpected-pass')
    body.push(
      `<failure ${attr({ message: message || s.reason || 'failed', type: s.status === 'fail' ? 'expectation' : 'unexpected-pass' })}>` +
        `${text(s.request && `request: ${s.request}`, message)}</failure>`,
    );
  if (s.status === 'flaky')
    body.push(
      `<failure ${attr({ message: s.reason ?? 'flaky', type: 'flaky' })}>` +
        `${text(s.request && `request: ${s.request}`, `statuses by run: ${(s.statuses ?? []).join(', ')}`, message)}</failure>`,
    );
  if (s.status === 'error') body.push(`<error ${attr({ message: s.reason ?? 'error', type: 'error' })}>${text(s.details)}</error>`);
  if (s.status === 'skip') body.push(`<skipped ${attr({ message: s.reason ?? 'skipped' })}>${text()}</skipped>`);
  const note = s.status === 'expected-crash' ? 'expected crash' : s.status === 'expected-fail' ? (s.reason ?? 'expected failure') : '';
  const out = [s.request && `request: ${s.request}`, note, ...s.dmesg].filter(Boolean).join('\n');
  if (out) body.push(`<system-out>${xmlEscape(out)}</system-out>`);
  const head = `    <testcase ${attr({ classname, name, time: (s.ms / 1000).toFixed(3) })}`;
  return `${head}${body.length ? `>\n      ${body.join('\n      ')}\n    </testcase>` : '/>'}`;
}

export function renderJUnit(records: readonly ResultRecord[]): string {
  const view = resultsView(records);
  const count = (ss: StepRecord[], suite = true) => ({
    tests: ss.length,
    failures: ss.filter((s) => s.status === 'fail' || s.status === 'unexpected-pass' || s.status === 'flaky').length,
    errors: ss.filter((s) => s.status === 'error').length,
    // junit-10.xsd has `skipped` on a testsuite only.
    skipped: suite ? ss.filter((s) => s.status === 'skip').length : undefined,
    time: (ss.reduce((a, s) => a + s.ms, 0) / 1000).toFixed(3),
  });
  const seen = new Set<string>();
  const suites = view.targets.map(({ label: t, steps: ss, end }) => {
    const release = ss.find((s) => s.target.release)?.target.release;
    const props = release
      ? `\n    <properties>\n      <property ${attr({ name: 'kernel.release', value: release })}/>\n    </properties>`
      : '';
    const infra = end?.error
      ? `\n    <system-err>${xmlEscape(`${end.status}: ${end.error.message}\n${end.error.details ?? ''}`)}</system-err>`
      : '';
    return `  <testsuite ${attr({ name: t, ...count(ss) })}>${props}\n${ss.map((s) => testcase(s, seen)).join('\n')}${infra}\n  </testsuite>`;
  });
  const all = attr({ name: 'kharness', ...count(view.steps, false) });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ${all}>\n${suites.join('\n')}\n</testsuites>\n`;
}
