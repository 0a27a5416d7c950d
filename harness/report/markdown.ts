/**
 * A Markdown summary for CI job pages (GitHub's $GITHUB_STEP_SUMMARY, GitLab):
 * the verdict counts, the claims table with each target's deciding
 * observation, the claims that differ and why, the failures with expected vs
 * observed and their YAML line, and links to the run's other artifacts.
 */
import { basename, dirname } from 'node:path';
import type { ResultRecord } from '../results/records.ts';
import { countsLine, failureLine, resultsView, targetLabel } from '../results/view.ts';
import { claimsTable } from './claims.ts';
import { claimsSummary, countsText, guestCmdlineNote } from './summary.ts';

/** A table cell: pipes escaped, one line, no HTML. */
const cell = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[<>]/g, (c) => (c === '<' ? '&lt;' : '&gt;'))
    .replace(/\s*\n\s*/g, ' ');

/** Text in a list line: one line, Markdown and HTML punctuation escaped. */
const inline = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/[\\`*_[\]<>#|]/g, (c) => `\\${c}`);

/** A code span that holds any text: the fence is longer than any run of backticks inside. */
function code(s: string): string {
  const text = s.replace(/\s*\n\s*/g, ' ');
  const fence = '`'.repeat(Math.max(1, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  return `${fence} ${text} ${fence}`;
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.map(cell).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

export function renderMarkdown(records: readonly ResultRecord[]): string {
  const view = resultsView(records);
  const outcome = view.outcome;
  const claims = claimsTable(view.records);
  const summary = claimsSummary(view.records, claims);
  const out: string[] = [];
  out.push(`# kharness: ${outcome}`);
  out.push('');
  out.push(
    countsLine(view.counts) +
      ` on ${claims.targets.length} target(s).${outcome === 'incomplete' ? ' The run has no end record: the harness was killed.' : ''}`,
  );
  out.push('');
  out.push("## The article's claims");
  out.push('');
  out.push(
    table(
      ['target', 'claims'],
      summary.targets.map((t) => [t, countsText(summary.counts[t]!) || 'none tested']),
    ),
  );
  out.push('');
  if (summary.differences.length) {
    out.push('Claims that differ between targets:');
    out.push('');
    for (const d of summary.differences) out.push(`- \`${d.id}\` differs by **${d.axis}**: ${d.detail}`);
    out.push('');
  }
  const tested = claims.rows.filter((r) => r.overall !== 'untested');
  out.push(
    table(
      ['claim', ...claims.targets],
      tested.map((r) => [`${r.id}`, ...claims.targets.map((t) => r.cells[t]!.says)]),
    ),
  );
  out.push('');
  const failed = view.steps.filter(
    (s) => s.status === 'fail' || s.status === 'unexpected-pass' || s.status === 'flaky' || s.status === 'error',
  );
  if (failed.length) {
    out.push('## Failures');
    out.push('');
    for (const s of failed) {
      const what = s.failures.length ? s.failures.map((f) => code(failureLine(f))).join('; ') : inline(s.reason ?? s.status);
      out.push(`- **${s.status}** ${targetLabel(s.target)} › ${s.scenario} › ${inline(s.name)}: ${what}`);
    }
    out.push('');
  }
  const ends = view.targets.flatMap((t) => (t.end && t.end.status !== 'ok' ? [t.end] : []));
  for (const e of ends) out.push(`- **${e.status}** ${targetLabel(e.target)}: ${inline(e.error?.message ?? '')}`);
  if (ends.length) out.push('');
  const note = guestCmdlineNote(view.records);
  if (note) out.push(note, '');
  out.push('## Artifacts');
  out.push('');
  // Links relative to the run directory (the merged report, or the uploaded artifact).
  out.push(
    '[results.jsonl](results.jsonl) (every record) · [report.html](report.html) · [junit.xml](junit.xml) (when those reporters ran)',
  );
  const logs = view.records.flatMap((r) => {
    if (r.type !== 'guest') return [];
    const rel = `${basename(dirname(r.consoleLog))}/${basename(r.consoleLog)}`;
    return [`[${rel}](${rel}) · [${rel.replace('console-', 'dmesg-')}](${rel.replace('console-', 'dmesg-')})`];
  });
  if (logs.length) out.push('', `Console and kernel logs: ${logs.join(' · ')}`);
  return `${out.join('\n')}\n`;
}
