/**
 * A claim's deciding observation, as a scenario states it:
 * `KMALLOC_MAX_SIZE = {KMALLOC_MAX_SIZE:size} ({KMALLOC_MAX_SIZE / 128KiB}× the article's 128 KiB)`.
 * Text with placeholders: a size expression over the guest's constants and
 * the deciding step's facts (`:size` prints bytes as KiB/MiB/GiB), or the
 * name of a text fact (`{zone}`). Parsed when the scenario loads (so a typo
 * points at the file), filled in by the reports from each target's results.
 * Pure.
 */
import { CONSTANTS, FACTS, FLAG_CONSTANTS } from '../probe/vocabulary.ts';
import { type Constants, evalSize, formatSize, parseSize, type SizeExpr, SizeSyntaxError } from './size.ts';

/**
 * Names an expectation, a `when:` guard or an observation may use besides the
 * size constants: the step's size, flag constants (0/1) and the step's own
 * reported facts (booleans as 0/1), so `alloc_ns_median: { lt: vs_alloc_ns_median }`
 * and `when: ok == 1` work.
 */
export const STEP_NAMES: readonly string[] = ['size', ...FLAG_CONSTANTS, ...Object.keys(FACTS)];
/** Names that print as text: text facts and constants, and `report`, the first kernel report's title. */
export const SHOW_TEXTS: readonly string[] = [
  ...Object.keys(FACTS).filter((f) => FACTS[f]!.type === 'text'),
  ...Object.keys(CONSTANTS).filter((c) => CONSTANTS[c]!.type === 'text'),
  'report',
];

export type ShowPart =
  | { kind: 'text'; text: string }
  | { kind: 'expr'; expr: SizeExpr; src: string; asSize: boolean }
  | { kind: 'fact'; name: string };

export class ShowsSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset into the template. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** `vars`: numeric names besides the constants; `textFacts`: names that print as text. */
export function parseShows(src: string, vars: readonly string[] = STEP_NAMES, textFacts: readonly string[] = SHOW_TEXTS): ShowPart[] {
  const parts: ShowPart[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{', i);
    if (open < 0) {
      parts.push({ kind: 'text', text: src.slice(i) });
      break;
    }
    if (open > i) parts.push({ kind: 'text', text: src.slice(i, open) });
    const close = src.indexOf('}', open);
    if (close < 0) throw new ShowsSyntaxError('"{" without a closing "}"', open);
    const inner = src.slice(open + 1, close);
    const asSize = inner.endsWith(':size');
    const body = asSize ? inner.slice(0, -':size'.length) : inner;
    if (textFacts.includes(body.trim()) && !asSize) parts.push({ kind: 'fact', name: body.trim() });
    else {
      try {
        parts.push({ kind: 'expr', expr: parseSize(body, vars), src: body.trim(), asSize });
      } catch (e) {
        if (!(e instanceof SizeSyntaxError)) throw e;
        throw new ShowsSyntaxError(e.message, open + 1 + e.offset);
      }
    }
    i = close + 1;
  }
  return parts;
}

/** The observation in words; a name the target did not report is said, never invented. */
export function renderShows(parts: readonly ShowPart[], numbers: Constants, texts: Readonly<Record<string, string>>): string {
  return parts
    .map((p) => {
      if (p.kind === 'text') return p.text;
      if (p.kind === 'fact') return texts[p.name] ?? `(${p.name} not reported)`;
      try {
        const n = evalSize(p.expr, numbers);
        if (!Number.isFinite(n)) return `(${p.src} not reported)`;
        return p.asSize ? formatSize(n) : String(n);
      } catch (e) {
        const missing = /did not report (\S+)/.exec((e as Error).message)?.[1];
        return missing ? `(${missing} not reported)` : `(${(e as Error).message})`;
      }
    })
    .join('');
}
