/**
 * GitHub Actions expressions (`${{ ... }}`), the part of the language the
 * nightly workflow uses: literals, context paths, `!`, `==`, `!=`, `&&`,
 * `||`, parentheses, and the functions in FUNCTIONS. Strict on purpose: an
 * unknown context, property, function or operator throws, so a typo in the
 * workflow fails the pipeline test instead of reading as an empty string the
 * way GitHub would render it.
 */

export type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

/** A context: a value, or a function that resolves a property path strictly (throwing on what it does not know). */
export type Context = Record<string, Value | ((path: string[]) => Value)>;

export interface Status {
  /** Whether everything before (steps of this job, or the jobs it needs) succeeded. */
  ok: boolean;
  cancelled?: boolean;
}

type Token = { t: 'str' | 'num' | 'id' | 'op' | 'punct'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in \${{ ${src} }}`);
        if (src[i] === "'" && src[i + 1] === "'") {
          s += "'";
          i += 2;
        } else if (src[i] === "'") {
          i++;
          break;
        } else s += src[i++];
      }
      out.push({ t: 'str', v: s });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      out.push({ t: 'num', v: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if (['==', '!=', '&&', '||'].includes(src.slice(i, i + 2))) {
      out.push({ t: 'op', v: src.slice(i, i + 2) });
      i += 2;
    } else if ('!().,'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else throw new Error(`unsupported character "${c}" in \${{ ${src} }}`);
  }
  return out;
}

export const truthy = (v: Value): boolean => !(v === '' || v === 0 || v === null || v === false);

export function toText(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const looseEq = (a: Value, b: Value) => (typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b);

/** Evaluates one expression (the text between `${{` and `}}`, or an `if:`). */
export function evaluate(src: string, ctx: Context, status: Status = { ok: true }): Value {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const take = (v?: string) => {
    const t = toks[p++];
    if (!t || (v !== undefined && t.v !== v)) throw new Error(`expected ${v ?? 'more'} in \${{ ${src} }}`);
    return t;
  };
  const functions: Record<string, (args: Value[]) => Value> = {
    fromJSON: ([s]) => JSON.parse(String(s)) as Value,
    toJSON: ([v]) => JSON.stringify(v),
    always: () => true,
    success: () => status.ok && !status.cancelled,
    failure: () => !status.ok,
    cancelled: () => status.cancelled ?? false,
  };
  const primary = (): Value => {
    const t = take();
    if (t.t === 'str') return t.v;
    if (t.t === 'num') return Number(t.v);
    if (t.t === 'punct' && t.v === '(') {
      const v = or();
      take(')');
      return v;
    }
    if (t.t === 'punct' && t.v === '!') return !truthy(primary());
    if (t.t !== 'id') throw new Error(`unexpected "${t.v}" in \${{ ${src} }}`);
    if (t.v === 'true' || t.v === 'false') return t.v === 'true';
    if (t.v === 'null') return null;
    if (peek()?.v === '(') {
      const f = functions[t.v];
      if (!f) throw new Error(`unknown function ${t.v}() in \${{ ${src} }}`);
      take('(');
      const args: Value[] = [];
      while (peek()?.v !== ')') {
        args.push(or());
        if (peek()?.v === ',') take(',');
      }
      take(')');
      return f(args);
    }
    const path = [t.v];
    while (peek()?.v === '.') {
      take('.');
      path.push(take().v);
    }
    return lookup(path, ctx, src);
  };
  const cmp = (): Value => {
    let l = primary();
    while (peek()?.v === '==' || peek()?.v === '!=') {
      const op = take().v;
      const r = primary();
      l = op === '==' ? looseEq(l, r) : !looseEq(l, r);
    }
    return l;
  };
  const and = (): Value => {
    let l = cmp();
    while (peek()?.v === '&&') {
      take();
      const r = cmp();
      l = truthy(l) ? r : l;
    }
    return l;
  };
  const or = (): Value => {
    let l = and();
    while (peek()?.v === '||') {
      take();
      const r = and();
      l = truthy(l) ? l : r;
    }
    return l;
  };
  const v = or();
  if (p !== toks.length) throw new Error(`unexpected "${toks[p]!.v}" in \${{ ${src} }}`);
  return v;
}

function lookup(path: string[], ctx: Context, src: string): Value {
  const [root, ...rest] = path;
  const c = ctx[root!];
  if (c === undefined) throw new Error(`unknown context "${root}" in \${{ ${src} }} (known here: ${Object.keys(ctx).join(', ')})`);
  if (typeof c === 'function') return c(rest);
  let v: Value = c;
  for (const k of rest) {
    if (!v || typeof v !== 'object' || Array.isArray(v) || !(k in v)) throw new Error(`${path.join('.')} does not exist in \${{ ${src} }}`);
    v = v[k]!;
  }
  return v;
}

/** A string with every `${{ }}` replaced; a string that is one expression keeps its value's type (a matrix object). */
export function interpolate(s: string, ctx: Context, status?: Status): Value {
  const whole = /^\$\{\{([\s\S]*?)\}\}$/.exec(s.trim());
  if (whole && !whole[1]!.includes('}}')) return evaluate(whole[1]!, ctx, status);
  return s.replace(/\$\{\{([\s\S]*?)\}\}/g, (_, e: string) => toText(evaluate(e, ctx, status)));
}

/** Whether an `if:` holds: GitHub adds `success() &&` unless the condition names a status function. */
export function condition(cond: string | boolean | undefined, ctx: Context, status: Status): boolean {
  if (cond === undefined) return status.ok && !status.cancelled;
  const src = String(cond)
    .trim()
    .replace(/^\$\{\{([\s\S]*)\}\}$/, '$1');
  const v = evaluate(src, ctx, status);
  return /\b(always|success|failure|cancelled)\(/.test(src) ? truthy(v) : status.ok && truthy(v);
}
