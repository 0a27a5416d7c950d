/**
 * KTAP (Documentation/dev-tools/ktap.rst): one top-level test per target,
 * a subtest per scenario, a subtest per step, each nesting level indented two
 * spaces with its own version and plan lines. Skips carry "# SKIP reason";
 * errors "# ERROR"; an expected crash is "ok" with a diagnostic line saying so.
 */

import type { ResultRecord, StepRecord } from '../results/records.ts';
import { isOk } from '../results/status.ts';
import { failureLine, resultsView } from '../results/view.ts';
import { printable } from './printable.ts';

const clean = (s: string) => printable(s.replace(/[\r\n#]+/g, ' ')).trim();

function stepLine(s: StepRecord, n: number): string[] {
  const lines: string[] = [];
  for (const f of s.failures) lines.push(`# ${clean(failureLine(f))}`);
  if (s.status === 'expected-crash') lines.push(`# expected crash: ${clean(s.splats[0]?.title ?? 'the guest died')}`);
  // A kernel test case that failed, or passed against expectation: its own lines say why.
  if (s.kernelTest?.case && s.status !== 'pass' && s.status !== 'skip') for (const l of s.dmesg.slice(0, 20)) lines.push(`# ${clean(l)}`);
  if (s.status === 'flaky') lines.push(`# ${clean(s.reason ?? 'flaky')}`);
  if (s.status === 'unexpected-pass') lines.push(`# ${clean(s.reason ?? 'passed, but it is expected to fail')}`);
  const ok = isOk(s.status);
  const directive =
    s.status === 'skip'
      ? ` # SKIP ${clean(s.reason ?? '')}`
      : s.status === 'error'
        ? ` # ERROR ${clean(s.reason ?? '')}`
        : s.status === 'expected-fail'
          ? ` # XFAIL ${clean(s.reason ?? '')}`
          : '';
  lines.push(`${ok ? 'ok' : 'not ok'} ${n} ${clean(s.name)}${directive}`);
  return lines;
}

function block(items: { name: string; ok: boolean; skip?: string; lines: string[] }[], indent: string): string[] {
  const out = [`${indent}KTAP version 1`, `${indent}1..${items.length}`];
  items.forEach((it, i) => {
    out.push(...it.lines);
    out.push(`${indent}${it.ok ? 'ok' : 'not ok'} ${i + 1} ${clean(it.name)}${it.skip ? ` # SKIP ${clean(it.skip)}` : ''}`);
  });
  return out;
}

export function renderKtap(records: readonly ResultRecord[]): string {
  const passed = (ss: StepRecord[]) => ss.every((s) => isOk(s.status));
  const allSkipped = (ss: StepRecord[]) => ss.length > 0 && ss.every((s) => s.status === 'skip');
  const items = resultsView(records).targets.map(({ label: t, steps: ts, end }) => {
    const scenarios = [...new Set(ts.map((s) => s.scenario))].map((name) => {
      const ss = ts.filter((s) => s.scenario === name);
      const inner = ['    KTAP version 1', `    1..${ss.length}`, ...ss.flatMap((s, i) => stepLine(s, i + 1).map((l) => `    ${l}`))];
      return { name, ok: passed(ss), skip: allSkipped(ss) ? ss[0]!.reason : undefined, lines: inner };
    });
    const infraOk = !(end && end.status !== 'ok');
    return { name: t, ok: passed(ts) && infraOk, lines: block(scenarios, '  ') };
  });
  return [...block(items, ''), ''].join('\n');
}
