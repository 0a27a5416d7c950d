/**
 * The claims table across kernel versions, on a captured 6.1 run and the same
 * run relabelled as a 7.2 kernel whose vmalloc-in-irq evidence says the claim
 * fails there (as vmalloc-atomic-from-72 does for GFP_ATOMIC): the table reads
 * claim × series per arch, and names the first series where a verdict changes
 * with the deciding observation on each side.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimsBySeries, renderSeriesHtml, renderSeriesMarkdown, renderSeriesText } from '../../harness/report/claims-series.ts';
import type { ResultRecord } from '../../harness/results/records.ts';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'results-6.1-x86_64.jsonl');
// The capture predates claims' deciding observations in the records: give vmalloc-may-sleep the one its scenario states.
const SHOWS = '"shows":"vmalloc in hard IRQ: {report}","step":"vmalloc in hard IRQ kills the kernel"';
const base = readFileSync(FIXTURE, 'utf8')
  .replace(/"id":"vmalloc-may-sleep","ifPasses":"holds"/g, `"id":"vmalloc-may-sleep","ifPasses":"holds",${SHOWS}`)
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as ResultRecord);

function as72(r: ResultRecord): ResultRecord {
  const text = JSON.stringify(r)
    .replace(/"kernel":"6\.1"/g, '"kernel":"debian:7.2-cloud"')
    .replace(/"release":"6\.1\.192"/g, '"release":"7.2.13+deb14-cloud-amd64"')
    .replace(/"id":"vmalloc-may-sleep","ifPasses":"holds"/g, '"id":"vmalloc-may-sleep","ifPasses":"fails"');
  return JSON.parse(text) as ResultRecord;
}

const body = (rs: ResultRecord[]) => rs.filter((r) => r.type !== 'run-begin' && r.type !== 'run-end');
const records = [...base.filter((r) => r.type !== 'run-end'), ...body(base).map(as72), ...base.filter((r) => r.type === 'run-end')];

describe('claims across kernel versions', () => {
  it('reads claim × series per arch, oldest series first', () => {
    const [x86] = claimsBySeries(records);
    expect(x86!.arch).toBe('x86_64');
    expect(x86!.series).toEqual(['6.1', '7.2']);
    const row = x86!.rows.find((r) => r.id === 'vmalloc-may-sleep')!;
    expect([row.cells['6.1']!.verdict, row.cells['7.2']!.verdict]).toEqual(['holds', 'fails']);
  });

  it('names the first series where a verdict changes, with the deciding observation on each side', () => {
    const rows = claimsBySeries(records)[0]!.rows;
    const row = rows.find((r) => r.id === 'vmalloc-may-sleep')!;
    expect(row.change).toMatchObject({ before: '6.1', after: '7.2' });
    expect(row.change!.text).toMatch(
      /^vmalloc-may-sleep: holds through 6\.1 \(vmalloc in hard IRQ: kernel BUG at mm\/vmalloc\.c.*\), fails from 7\.2 \(vmalloc in hard IRQ: .*\)$/,
    );
    // Everything else is the same evidence on both sides: no change.
    expect(rows.filter((r) => r.change).map((r) => r.id)).toEqual(['vmalloc-may-sleep']);
  });

  it('renders as Markdown, HTML and terminal text', () => {
    const md = renderSeriesMarkdown(records);
    expect(md).toContain('| claim | 6.1 | 7.2 |');
    expect(md).toContain('| vmalloc-may-sleep | holds | fails |');
    expect(md).toMatch(/^- vmalloc-may-sleep: holds through 6\.1/m);
    expect(renderSeriesHtml(records)).toContain('<th>7.2</th>');
    expect(renderSeriesText(records)).toMatch(/vmalloc-may-sleep\s+holds\s+fails/);
  });
});
