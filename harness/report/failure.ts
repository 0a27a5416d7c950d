/**
 * One way to say what failed, for every reporter: the expectation's place in
 * its YAML file, what was expected and what was observed —
 * `scenarios/x.yaml:17:9: phys_runs: expected 1, observed 3`.
 */
import { isAbsolute, relative } from 'node:path';
import type { Failure } from '../scenario/expect.ts';

/** A scenario path as a reader wants it: relative to the working directory when it lies below it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  if (!isAbsolute(file)) return file;
  const r = relative(cwd, file);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : file;
}

/**
 * Text from outside (kernel log lines, names, reasons) as a terminal or a
 * line format may show it: escape sequences and other control characters
 * become visible `\x1b` escapes instead of acting on the terminal.
 */
export function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function where(f: Failure): string {
  return f.pos ? `${displayPath(f.pos.file)}:${f.pos.line}:${f.pos.column}` : '';
}

export function formatFailure(f: Failure): string {
  const at = where(f);
  return `${at ? `${at}: ` : ''}${f.what}: expected ${f.expected}, observed ${f.observed}`;
}
