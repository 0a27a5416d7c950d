/** Kernel config fragments: reading them and checking the merged .config honoured them. Pure. */

const CONFIG_LINE = /^(?:(CONFIG_[A-Za-z0-9_]+)=(.*)|# (CONFIG_[A-Za-z0-9_]+) is not set)$/gm;

/** Options a fragment sets: CONFIG_X=value lines and "# CONFIG_X is not set". */
export function parseConfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  // One pass of one expression over the whole text: half the time of two per line (a distribution's 10,000-line config is parsed at every start).
  for (const m of text.matchAll(CONFIG_LINE)) out.set(m[1] ?? m[3]!, m[1] === undefined ? 'n' : m[2]!);
  return out;
}

/**
 * Options the fragments asked for that the final config does not have: a
 * dependency was missing or the option does not exist in this kernel.
 */
export function unmetOptions(wanted: Map<string, string>, final: Map<string, string>): string[] {
  const missing: string[] = [];
  for (const [k, v] of wanted) {
    const got = final.get(k) ?? 'n';
    if (got !== v) missing.push(`${k}=${v} (got ${got})`);
  }
  return missing;
}

/** Whether an option is built in or modular. */
export function isEnabled(config: Map<string, string>, option: string): boolean {
  const v = config.get(option);
  return v === 'y' || v === 'm';
}

/**
 * One option a fragment asks for, with the scope a `# kharness:` line above
 * it gives: `optional` (report, do not stop, when the kernel cannot have it),
 * `arch=arm64[,x86_64]`, `since=6.7`, `until=6.2` (the option exists only in
 * that version range, as Kconfig says: RANDOM_TRUST_CPU went away in 6.2).
 */
export interface FragmentOption {
  name: string;
  value: string;
  /** 1-based line of the option in its fragment. */
  line: number;
  optional?: boolean;
  arches?: string[];
  since?: string;
  until?: string;
}

export interface FragmentProblem {
  line: number;
  reason: string;
}

const DIRECTIVE = /^#\s*kharness:\s*(.*)$/;
const DIRECTIVE_KEYS = ['optional', 'arch', 'since', 'until'] as const;

/** A fragment's options and their scopes; a malformed `# kharness:` line is a problem, never ignored. */
export function parseFragment(text: string, knownArches?: readonly string[]): { options: FragmentOption[]; problems: FragmentProblem[] } {
  const options: FragmentOption[] = [];
  const problems: FragmentProblem[] = [];
  let pending: Omit<FragmentOption, 'name' | 'value' | 'line'> | undefined;
  let pendingLine = 0;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    const d = DIRECTIVE.exec(line);
    if (d) {
      pending ??= {};
      pendingLine = i + 1;
      // Everything after " -- " is the reason, for people.
      for (const word of d[1]!.split(' -- ')[0]!.split(/\s+/).filter(Boolean)) {
        const [key, val] = word.split('=', 2) as [string, string | undefined];
        if (!(DIRECTIVE_KEYS as readonly string[]).includes(key)) {
          problems.push({ line: i + 1, reason: `unknown directive "${key}" (known: ${DIRECTIVE_KEYS.join(', ')})` });
        } else if (key === 'optional') {
          if (val !== undefined) problems.push({ line: i + 1, reason: '"optional" takes no value' });
          pending.optional = true;
        } else if (!val) {
          problems.push({ line: i + 1, reason: `"${key}" needs a value, e.g. ${key === 'arch' ? 'arch=arm64' : `${key}=6.2`}` });
        } else if (key === 'arch') {
          pending.arches = val.split(',');
          const unknown = knownArches ? pending.arches.filter((a) => !knownArches.includes(a)) : [];
          if (unknown.length)
            problems.push({ line: i + 1, reason: `unknown arch "${unknown.join(',')}" (known: ${knownArches!.join(', ')})` });
        } else if (!/^\d+\.\d+(\.\d+)?$/.test(val)) {
          problems.push({ line: i + 1, reason: `"${key}=${val}" is not a kernel version like 6.2` });
        } else {
          pending[key as 'since' | 'until'] = val;
        }
      }
      continue;
    }
    const opt = parseConfig(line);
    if (opt.size === 1) {
      const [[name, value]] = [...opt] as [[string, string]];
      options.push({ name, value, line: i + 1, ...pending });
      pending = undefined;
    } else if (pending && line && !line.startsWith('#')) {
      problems.push({ line: pendingLine, reason: 'a "# kharness:" line must come right before a CONFIG_ option' });
      pending = undefined;
    }
  }
  if (pending) problems.push({ line: pendingLine, reason: 'a "# kharness:" line must come right before a CONFIG_ option' });
  return { options, problems };
}

/** Whether an option applies to a kernel of this arch and version. */
export function inScope(o: FragmentOption, arch: string, version: string, compare: (a: string, b: string) => number): boolean {
  if (o.arches && !o.arches.includes(arch)) return false;
  if (o.since && compare(version, o.since) < 0) return false;
  if (o.until && compare(version, o.until) >= 0) return false;
  return true;
}

/** Fragment text for merge_config.sh holding only these options. */
export function renderFragment(options: readonly FragmentOption[]): string {
  return `${options.map((o) => (o.value === 'n' ? `# ${o.name} is not set` : `${o.name}=${o.value}`)).join('\n')}\n`;
}

/** Where Kconfig defines a symbol: its `depends on` expressions, in order. */
export interface KconfigEntry {
  file: string;
  line: number;
  depends: string[];
}

/**
 * The `config SYM` / `menuconfig SYM` entries in one Kconfig file, with their
 * `depends on` lines (an entry ends at the next line that starts at column 0
 * with a keyword).
 */
export function kconfigEntries(file: string, text: string, sym: string): KconfigEntry[] {
  const out: KconfigEntry[] = [];
  const lines = text.split('\n');
  const head = new RegExp(`^\\s*(?:menu)?config\\s+${sym}\\s*$`);
  for (let i = 0; i < lines.length; i++) {
    if (!head.test(lines[i]!)) continue;
    const e: KconfigEntry = { file, line: i + 1, depends: [] };
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j]!;
      if (/^(config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source|comment)\b/.test(l)) break;
      const dep = /^\s*depends\s+on\s+(.+?)\s*$/.exec(l);
      if (dep) e.depends.push(dep[1]!);
    }
    out.push(e);
  }
  return out;
}

/** Symbols named in a Kconfig expression (not the literals y, m, n). */
export function exprSymbols(expr: string): string[] {
  return [...new Set((expr.match(/[A-Za-z0-9_]+/g) ?? []).filter((w) => !['y', 'm', 'n'].includes(w) && !/^\d+$/.test(w)))];
}

/**
 * A Kconfig `depends on` expression's value over a .config: !, &&, ||,
 * parentheses, `A = B` and `A != B`; a symbol is true when y or m.
 */
export function evalExpr(expr: string, config: Map<string, string>): boolean {
  const tokens = expr.match(/&&|\|\||!=|[!()=]|"[^"]*"|[A-Za-z0-9_]+/g) ?? [];
  let pos = 0;
  const value = (t: string): string => (/^[ymn]$/.test(t) ? t : t.startsWith('"') ? t.slice(1, -1) : (config.get(`CONFIG_${t}`) ?? 'n'));
  const primary = (): boolean => {
    const t = tokens[pos++];
    if (t === '!') return !primary();
    if (t === '(') {
      const v = or();
      pos++;
      return v;
    }
    if (t === undefined) return false;
    if (tokens[pos] === '=' || tokens[pos] === '!=') {
      const op = tokens[pos++];
      const eq = value(t) === value(tokens[pos++] ?? '');
      return op === '=' ? eq : !eq;
    }
    const v = value(t);
    return v !== 'n' && v !== '';
  };
  const and = (): boolean => {
    let v = primary();
    while (tokens[pos] === '&&') {
      pos++;
      v = primary() && v;
    }
    return v;
  };
  const or = (): boolean => {
    let v = and();
    while (tokens[pos] === '||') {
      pos++;
      v = and() || v;
    }
    return v;
  };
  return or();
}

/**
 * Why an option did not get the value asked for, in one phrase: the first
 * unmet `depends on` with the values it saw, the option that selects it, or
 * that the kernel has no such option.
 */
export function explainUnmet(
  name: string,
  entries: readonly KconfigEntry[],
  selectors: readonly string[],
  config: Map<string, string>,
): string {
  const sym = name.replace(/^CONFIG_/, '');
  if (!entries.length) return `this kernel has no option ${sym}`;
  for (const e of entries) {
    for (const d of e.depends) {
      if (evalExpr(d, config)) continue;
      const seen = exprSymbols(d).map((s) => `${s}=${config.get(`CONFIG_${s}`) ?? 'n'}`);
      return `blocked by "depends on ${d}" (${seen.join(', ')}) at ${e.file}:${e.line}`;
    }
  }
  const on = selectors.filter((s) => isEnabled(config, `CONFIG_${s}`));
  if (on.length) return `selected by ${on.join(', ')}`;
  return `its own "depends on" lines are met: an enclosing if/menu, a choice or a default decided it (${entries[0]!.file}:${entries[0]!.line})`;
}

/** The entries in one Kconfig file that `select` a symbol (their names, without CONFIG_). */
export function kconfigSelectors(text: string, sym: string): string[] {
  const out: string[] = [];
  let current: string | undefined;
  const sel = new RegExp(`^\\s+select\\s+${sym}\\b`);
  for (const l of text.split('\n')) {
    const head = /^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*$/.exec(l);
    if (head) current = head[1];
    else if (current && sel.test(l)) out.push(current);
  }
  return out;
}

/**
 * A fragment for the options of a list, with the values another config (a
 * distribution's) gives them; options that config does not have are left
 * out. `optional` carries over.
 */
export function takeOptions(from: Map<string, string>, list: readonly { name: string; optional?: string }[]): FragmentOption[] {
  return list.flatMap((o, i) => {
    const name = `CONFIG_${o.name}`;
    const value = from.get(name);
    return value === undefined ? [] : [{ name, value, line: i + 1, ...(o.optional ? { optional: true } : {}) }];
  });
}

/**
 * A kernel's allocator profile: the value of each named option in its
 * .config, "n" when it is off and "-" when this kernel has no such option
 * (absent from the .config altogether).
 */
export function allocatorProfile(config: Map<string, string>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, config.get(`CONFIG_${n}`) ?? '-']));
}
