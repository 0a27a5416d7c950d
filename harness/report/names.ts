/**
 * The reporters' names and the files they write, apart from the renderers
 * (report/reporters.ts): a run checks --reporter before anything builds, and
 * loads the renderers only when it writes the files, after the run.
 */
import { UsageError } from '../errors.ts';

/** Each file-writing reporter's file name, by reporter. */
export const REPORT_FILES = {
  html: 'report.html',
  json: 'report.json',
  junit: 'junit.xml',
  ktap: 'report.ktap',
  markdown: 'summary.md',
  // The claims table across kernel versions (claim × series, per arch), for a run over several series.
  versions: 'claims-by-series.md',
  'versions-html': 'claims-by-series.html',
  'versions-text': 'claims-by-series.txt',
} as const;
export type FileReporterName = keyof typeof REPORT_FILES;

export const REPORTER_NAMES = ['default', ...Object.keys(REPORT_FILES)];

export function parseReporters(values: string[]): string[] {
  const names = values
    .flatMap((v) => v.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!REPORTER_NAMES.includes(n)) throw new UsageError(`unknown reporter "${n}"`, `Reporters: ${REPORTER_NAMES.join(', ')}`);
  return names.length ? [...new Set(names)] : ['default'];
}
