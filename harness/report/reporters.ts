/**
 * The reporter registry: each file-writing reporter renders the whole results
 * stream once the run ends (or when `kharness report` replays it); `default`
 * is the live console reporter.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResultRecord } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';
import { renderSeriesHtml, renderSeriesMarkdown, renderSeriesText } from './claims-series.ts';
import { renderHtml } from './html.ts';
import { renderJson } from './json.ts';
import { renderJUnit } from './junit.ts';
import { renderKtap } from './ktap.ts';
import { renderMarkdown } from './markdown.ts';
import { type FileReporterName, REPORT_FILES } from './names.ts';

export interface FileReporter {
  file: string;
  render(records: readonly ResultRecord[]): string;
}

const RENDER: Record<FileReporterName, FileReporter['render']> = {
  html: renderHtml,
  json: renderJson,
  junit: renderJUnit,
  ktap: renderKtap,
  markdown: renderMarkdown,
  versions: renderSeriesMarkdown,
  'versions-html': renderSeriesHtml,
  'versions-text': renderSeriesText,
};

export const FILE_REPORTERS: Record<string, FileReporter> = Object.fromEntries(
  (Object.keys(REPORT_FILES) as FileReporterName[]).map((n) => [n, { file: REPORT_FILES[n], render: RENDER[n] }]),
);

export { parseReporters, REPORTER_NAMES } from './names.ts';

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
