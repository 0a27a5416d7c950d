/**
 * The reporter registry: each file-writing reporter renders the whole results
 * stream once the run ends (or when `kharness report` replays it); `default`
 * is the live console reporter.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import type { ResultRecord } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';
import { renderSeriesHtml, renderSeriesMarkdown, renderSeriesText } from './claims-series.ts';
import { renderHtml } from './html.ts';
import { renderJson } from './json.ts';
import { renderJUnit } from './junit.ts';
import { renderKtap } from './ktap.ts';
import { renderMarkdown } from './markdown.ts';

export interface FileReporter {
  file: string;
  render(records: readonly ResultRecord[]): string;
}

export const FILE_REPORTERS: Record<string, FileReporter> = {
  html: { file: 'report.html', render: renderHtml },
  json: { file: 'report.json', render: renderJson },
  junit: { file: 'junit.xml', render: renderJUnit },
  ktap: { file: 'report.ktap', render: renderKtap },
  markdown: { file: 'summary.md', render: renderMarkdown },
  // The claims table across kernel versions (claim × series, per arch), for a run over several series.
  versions: { file: 'claims-by-series.md', render: renderSeriesMarkdown },
  'versions-html': { file: 'claims-by-series.html', render: renderSeriesHtml },
  'versions-text': { file: 'claims-by-series.txt', render: renderSeriesText },
};

export const REPORTER_NAMES = ['default', ...Object.keys(FILE_REPORTERS)];

export function parseReporters(values: string[]): string[] {
  const names = values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!REPORTER_NAMES.includes(n)) throw new UsageError(`unknown reporter "${n}"`, `Reporters: ${REPORTER_NAMES.join(', ')}`);
  return names.length ? [...new Set(names)] : ['default'];
}

/** Writes each named file reporter's output into dir; returns the paths. */
export function writeReports(names: string[], records: readonly ResultRecord[], dir: string): string[] {
  const folded = foldRepeats(records);
  return names
    .filter((n) => n in FILE_REPORTERS)
    .map((n) => {
      const r = FILE_REPORTERS[n]!;
      const path = join(dir, r.file);
      writeFileSync(path, r.render(folded));
      return path;
    });
}
