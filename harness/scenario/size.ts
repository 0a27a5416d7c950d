/**
 * Size expressions: `128KiB`, `KMALLOC_MAX_SIZE + 1`, `2 * PAGE_SIZE`,
 * `(KMALLOC_MAX_SIZE / 2) - 8`. Parsed when the scenario loads (so syntax
 * errors point at the file), evaluated against the guest's own constants when
 * the step runs (so one scenario holds on every arch, kernel and page size).
 */
import { SIZE_CONSTANTS } from '../probe/vocabulary.ts';

export type SizeExpr =
  | { kind: 'num'; value: number }
  | { kind: 'const'; name: string; offset: number }
  | { kind: 'bin'; op: '+' | '-' | '*' | '/'; left: SizeExpr; right: SizeExpr };

export class SizeSyntaxError extends Error {
  constructor(
    message: string,
    /** 0-based offset into the expression text. */
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Binary units only: kernel people read 128KB as 131072. */
const UNITS: Record<string, number> = {
  B: 1,
  K: 1024,
  KB: 1024,
  KiB: 1024,
  M: 1024 ** 2,
  MB: 1024 ** 2,
  MiB: 1024 ** 2,
  G: 1024 ** 3,
  GB: 1024 ** 3,
  GiB: 1024 ** 3,
};

interface Token {
  text: string;
  offset: number;
  type: 'num' | 'ident' | 'op' | 'end';
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\d+(?:\.\d+)?)\s*([A-Za-z]+)?|([A-Za-z_][A-Za-z0-9_]*)|([-+*/()]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new SizeSyntaxError(`unexpected "${src[pos + (src.slice(pos).length - src.slice(pos).trimStart().length)]}"`, pos);
    const start = m.index + m[0].length - m[0].trimStart().length;
    if (m[1] !== undefined) tokens.push({ type: 'num', text: m[1] + (m[2] ?? ''), offset: start });
    else if (m[3] !== undefined) tokens.push({ type: 'ident', text: m[3], offset: start });
    else tokens.push({ type: 'op', text: m[4]!, offset: start });
    pos = re.lastIndex;
  }
  tokens.push({ type: 'end', text: '', offset: src.length });
  return tokens;
}

/**
 * Parses a size expression. `vars` are extra names allowed besides the guest
 * constants: `size` in expectations and `when:` guards is the step's own size.
 */
export function parseSize(src: string | number, vars: readonly string[] = []): SizeExpr {
  if (typeof src === 'number') {
    if (!Number.isSafeInteger(src) || src < 0) throw new SizeSyntaxError(`size must be a non-negative integer, got ${src}`, 0);
    return { kind: 'num', value: src };
  }
  const tokens = tokenize(src);
  let i = 0;
  const peek = () => tokens[i]!;
  const next = () => tokens[i++]!;

  function primary(): SizeExpr {
    const t = next();
    if (t.type === 'num') {
      const m = /^(\d+(?:\.\d+)?)([A-Za-z]+)?$/.exec(t.text)!;
      const unit = m[2] ?? 'B';
      const mult = UNITS[unit];
      if (mult === undefined) throw new SizeSyntaxError(`unknown unit "${unit}" (use B, KiB, MiB, GiB)`, t.offset);
      const value = Number(m[1]) * mult;
      if (!Number.isSafeInteger(value)) throw new SizeSyntaxError(`"${t.text}" is not a whole number of bytes`, t.offset);
      return { kind: 'num', value };
    }
    if (t.type === 'ident') {
      if (!SIZE_CONSTANTS.includes(t.text) && !vars.includes(t.text)) {
        throw new SizeSyntaxError(`unknown name "${t.text}" (known: ${[...SIZE_CONSTANTS, ...vars].join(', ')})`, t.offset);
      }
      return { kind: 'const', name: t.text, offset: t.offset };
    }
    if (t.text === '(') {
      const e = sum();
      const close = next();
      if (close.text !== ')') throw new SizeSyntaxError('expected ")"', close.offset);
      return e;
    }
    throw new SizeSyntaxError(t.type === 'end' ? 'expression ends too early' : `unexpected "${t.text}"`, t.offset);
  }
  function product(): SizeExpr {
    let left = primary();
    while (peek().text === '*' || peek().text === '/') {
      const op = next().text as '*' | '/';
      left = { kind: 'bin', op, left, right: primary() };
    }
    return left;
  }
  function sum(): SizeExpr {
    let left = product();
    while (peek().text === '+' || peek().text === '-') {
      const op = next().text as '+' | '-';
      left = { kind: 'bin', op, left, right: product() };
    }
    return left;
  }
  const e = sum();
  const rest = peek();
  if (rest.type !== 'end') throw new SizeSyntaxError(`unexpected "${rest.text}"`, rest.offset);
  return e;
}

export type Constants = Readonly<Record<string, number>>;

/** Evaluates against the guest's constants; integer division rounds down. */
export function evalSize(e: SizeExpr, constants: Constants): number {
  switch (e.kind) {
    case 'num':
      return e.value;
    case 'const': {
      const v = constants[e.name];
      if (v === undefined) throw new Error(`the guest did not report ${e.name}`);
      return v;
    }
    case 'bin': {
      const l = evalSize(e.left, constants);
      const r = evalSize(e.right, constants);
      switch (e.op) {
        case '+':
          return l + r;
        case '-':
          return l - r;
        case '*':
          return l * r;
        case '/':
          if (r === 0) throw new Error('division by zero in size expression');
          return Math.floor(l / r);
      }
    }
  }
}

/** For reports: `4194304 (4 MiB)`. */
export function formatSize(n: number): string {
  for (const [unit, mult] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= mult && n % mult === 0) return `${n / mult} ${unit}`;
  }
  return `${n} B`;
}

export type CompareOpSym = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** `size <= KMALLOC_MAX_SIZE`: a comparison of two size expressions. */
export interface Predicate {
  left: SizeExpr;
  op: CompareOpSym;
  right: SizeExpr;
  text: string;
}

export function parsePredicate(src: string, vars: readonly string[] = []): Predicate {
  const m = /^(.*?)(<=|>=|==|!=|<|>)(.*)$/.exec(src);
  if (!m) throw new SizeSyntaxError('expected a comparison such as "size <= KMALLOC_MAX_SIZE"', 0);
  const shift = (e: unknown, by: number) => (e instanceof SizeSyntaxError ? new SizeSyntaxError(e.message, e.offset + by) : e);
  let left: SizeExpr;
  let right: SizeExpr;
  try {
    left = parseSize(m[1]!, vars);
  } catch (e) {
    throw shift(e, 0);
  }
  try {
    right = parseSize(m[3]!, vars);
  } catch (e) {
    throw shift(e, m[1]!.length + m[2]!.length);
  }
  return { left, op: m[2] as CompareOpSym, right, text: src.trim() };
}

export function evalPredicate(p: Predicate, constants: Constants): boolean {
  const l = evalSize(p.left, constants);
  const r = evalSize(p.right, constants);
  switch (p.op) {
    case '<':
      return l < r;
    case '<=':
      return l <= r;
    case '>':
      return l > r;
    case '>=':
      return l >= r;
    case '==':
      return l === r;
    case '!=':
      return l !== r;
  }
}
