/**
 * Finds kernel reports ("splats") in console or dmesg text: WARNINGs, BUGs,
 * oopses, panics, might_sleep reports, allocation failures and the like.
 * Takes lines, returns records; knows nothing about processes or files, so
 * its tests feed it real captured logs.
 *
 * Line numbers and function names differ between kernel versions
 * (mm/page_alloc.c:5634 __alloc_pages on 6.1, :4832 __alloc_pages_noprof on
 * 6.12): match on kind and file, never on the line.
 */

/** Kinds of kernel report the analysis recognises. */
export const SPLAT_KINDS = [
  'warning',
  'bug',
  'oops',
  'panic',
  'sleep-in-atomic',
  'scheduling-while-atomic',
  'alloc-failure',
  'vmalloc-failure',
  'oom',
  'kasan',
  'kfence',
  'kmemleak',
  'slub-debug',
  'unload-leak',
  'soft-lockup',
  'rcu-stall',
  'hung-task',
] as const;
/**
 * Reports the kernel prints on purpose, which are never a crash and never a
 * finding by themselves: an injected allocation failure (its stack names the
 * allocation, analysis/injection.ts). A scenario may still ask for one.
 */
export const INFO_KINDS = ['fault-injection'] as const;
export type SplatKind = (typeof SPLAT_KINDS)[number] | (typeof INFO_KINDS)[number];
/** Every kind a scenario may name. */
export const REPORT_KINDS: readonly SplatKind[] = [...SPLAT_KINDS, ...INFO_KINDS];

/** Whether a report is a finding (anything but an informational kind). */
export function isFinding(s: { kind: SplatKind }): boolean {
  return !(INFO_KINDS as readonly string[]).includes(s.kind);
}

/** What a scenario expects (or forbids) in the kernel log. */
export interface SplatPattern {
  kind: SplatKind;
  /** Substring of the reported source location, e.g. mm/page_alloc.c. */
  at?: string;
  /** Substring of the splat's text. */
  text?: string;
}

export interface Splat {
  kind: SplatKind;
  /** What identifies the same report across runs (a leak's allocating frames), when the kind has one. */
  fingerprint?: string;
  /** The line that opened the report, without timestamp. */
  title: string;
  /** Source location as printed, e.g. mm/page_alloc.c:5634. */
  at?: string;
  func?: string;
  /** Index of the title line in the input. */
  line: number;
  /** The report's lines (title first), without timestamps. */
  lines: string[];
}

interface Rule {
  kind: SplatKind;
  re: RegExp;
  /** Capture groups holding location and function. */
  at?: (m: RegExpExecArray) => { at?: string; func?: string };
  /** A report line right after the title that belongs to this report, not a new one (a WARN()'s message, then its WARNING line). */
  continues?: RegExp;
}

/** First match wins: specific BUG forms come before the generic one. */
const RULES: Rule[] = [
  { kind: 'warning', re: /^WARNING: CPU: \d+ PID: \d+ at (\S+?:\d+) (\S+)/, at: (m) => ({ at: m[1], func: m[2] }) },
  { kind: 'warning', re: /^WARNING: at (\S+?:\d+) (\S+)/, at: (m) => ({ at: m[1], func: m[2] }) },
  // 7.x: "WARNING: mm/page_alloc.c:5336 at __alloc_frozen_pages_noprof+0x3d/0x147, CPU#0: sh/43".
  { kind: 'warning', re: /^WARNING: (?:(\S+?:\d+) )?at (\S+?),? CPU#\d+: /, at: (m) => ({ at: m[1], func: m[2] }) },
  { kind: 'bug', re: /^kernel BUG at (\S+?:\d+)!/, at: (m) => ({ at: m[1] }) },
  { kind: 'sleep-in-atomic', re: /^BUG: sleeping function called from invalid context at (\S+?:\d+)/, at: (m) => ({ at: m[1] }) },
  { kind: 'scheduling-while-atomic', re: /^BUG: scheduling while atomic/ },
  { kind: 'kasan', re: /^BUG: KASAN: (\S+) in (\S+)/, at: (m) => ({ func: m[2] }) },
  { kind: 'kfence', re: /^BUG: KFENCE: .* in (\S+)/, at: (m) => ({ func: m[1] }) },
  { kind: 'soft-lockup', re: /^(?:BUG|watchdog): soft lockup/ },
  { kind: 'oops', re: /^BUG: (?:unable to handle|kernel NULL pointer dereference)/ },
  { kind: 'bug', re: /^BUG: / },
  // x86 6.1 prints "invalid opcode: 0000 [#1]", 6.12 "Oops: invalid opcode: 0000 [#1]"; arm64 "Internal error: Oops - BUG: ...".
  { kind: 'oops', re: /^(?:Oops: |invalid opcode: |general protection fault|Internal error: )/ },
  { kind: 'panic', re: /^Kernel panic - not syncing: / },
  { kind: 'alloc-failure', re: /^(\S.*?): page allocation failure: order:\d+, mode:/ },
  // warn_alloc() puts the task's name first: "sh: vmalloc error: size ..." (6.x), "sh: vmalloc: allocation failure: N bytes" (5.10).
  { kind: 'vmalloc-failure', re: /^(?:\S+: )?(?:vmalloc error: |vmalloc: allocation failure)/ },
  { kind: 'oom', re: /^(?:Out of memory: |\S+ invoked oom-killer: )/ },
  { kind: 'rcu-stall', re: /^rcu: INFO: rcu_\w+ (?:self-)?detected stall/ },
  { kind: 'hung-task', re: /^INFO: task \S+ blocked for more than/ },
  { kind: 'kmemleak', re: /^unreferenced object 0x/ },
  // SLUB debug (slub_debug=/slab_debug=, SLUB_DEBUG_ON): "BUG kmalloc-32 (Not tainted): Right Redzone overwritten"
  // (mm/slub.c slab_bug, 6.1 and 6.12); no colon after BUG, so the generic rule misses it. `at` is the cache.
  { kind: 'slub-debug', re: /^BUG (\S+) \((?:Not tainted|Tainted: [^)]*)\): (.+)/, at: (m) => ({ at: m[1] }) },
  // 6.10+ allocation profiling, at a module's unload (lib/alloc_tag.c): "kh_leak.c:21 module kh_leak
  // func:kh_leak_alloc has 384 allocated at module unload", the message of a WARNING that follows it
  // ("WARNING: CPU: 1 PID: 176 at lib/alloc_tag.c:171 alloc_tag_module_unload+0x78/0x90" on 6.12): one report.
  {
    kind: 'unload-leak',
    re: /^(\S+:\d+) module (\S+) func:(\S+) has (\d+) allocated at module unload/,
    at: (m) => ({ at: m[1], func: m[3] }),
    continues: /^WARNING: .*\balloc_tag_module_unload\b/,
  },
  // Its own report, so the stack after it never joins another one's; from /dev/kmsg its two lines are one record.
  { kind: 'fault-injection', re: /^FAULT_INJECTION: forcing a failure/ },
];

const TIMESTAMP = /^\s*\[\s*\d+\.\d+\]\s?/;
/** Reports end here; otherwise at the next report, at a caller's boundary line, or after MAX_LINES. */
const END = /^---\[ end (?:trace|Kernel panic)/;
const MAX_LINES = 80;

export function stripTimestamp(line: string): string {
  return line.replace(/\r$/, '').replace(TIMESTAMP, '');
}

function match(text: string): { rule: Rule; m: RegExpExecArray } | undefined {
  for (const rule of RULES) {
    const m = rule.re.exec(text);
    if (m) return { rule, m };
  }
  return undefined;
}

export interface SplatOptions {
  /** Lines that end any open report (the probe's request markers). */
  boundary?: RegExp;
}

export function parseSplats(input: readonly string[], o: SplatOptions = {}): Splat[] {
  const splats: Splat[] = [];
  let open: Splat | undefined;
  input.forEach((raw, i) => {
    const text = stripTimestamp(raw);
    const hit = match(text);
    const rule = open && open.lines.length === 1 ? RULES.find((r) => r.kind === open!.kind && r.continues?.test(text)) : undefined;
    if (open && rule) {
      open.lines.push(text);
      return;
    }
    if (hit) {
      open = { kind: hit.rule.kind, title: text, line: i, lines: [text], ...(hit.rule.at?.(hit.m) ?? {}) };
      splats.push(open);
      return;
    }
    if (!open) return;
    if (END.test(text) || o.boundary?.test(text) || open.lines.length >= MAX_LINES) {
      if (text.startsWith('---[ end')) open.lines.push(text);
      open = undefined;
      return;
    }
    open.lines.push(text);
  });
  return splats;
}

export function splatMatches(s: Splat, p: SplatPattern): boolean {
  if (s.kind !== p.kind) return false;
  if (p.at !== undefined && !(s.at ?? '').includes(p.at)) return false;
  if (p.text !== undefined && !s.lines.some((l) => l.includes(p.text!))) return false;
  return true;
}

export function describePattern(p: SplatPattern): string {
  return [p.kind, p.at && `at ${p.at}`, p.text && `"${p.text}"`].filter(Boolean).join(' ');
}

export interface Section {
  seq: number;
  lines: string[];
  ended: boolean;
}

export interface SectionMarkers {
  /** Opens request N; group 1 is N. */
  begin: RegExp;
  /** Closes request N; group 1 is N. */
  end: RegExp;
}

/**
 * Splits a log by request markers. Lines between request N's begin and end
 * belong to it; a request with no end marker is where the kernel died (or
 * where the log was cut).
 */
export function sectionsBySeq(input: readonly string[], markers: SectionMarkers): Map<number, Section> {
  const out = new Map<number, Section>();
  let cur: Section | undefined;
  for (const raw of input) {
    const text = stripTimestamp(raw);
    const b = markers.begin.exec(text);
    if (b) {
      cur = { seq: Number(b[1]), lines: [], ended: false };
      out.set(cur.seq, cur);
      continue;
    }
    const e = markers.end.exec(text);
    if (e && cur && Number(e[1]) === cur.seq) {
      cur.ended = true;
      cur = undefined;
      continue;
    }
    cur?.lines.push(raw);
  }
  return out;
}

/**
 * Reports the kernel prints at most once per interval, whatever happens in
 * between: __might_resched() (the "sleeping function called from invalid
 * context" report, kernel/sched/core.c in 6.1 and 6.12) returns early while
 * jiffies is within HZ of its previous report. A step that expects one must
 * not come sooner after the last: milliseconds.
 */
export const RATE_LIMITED: Partial<Readonly<Record<SplatKind, number>>> = { 'sleep-in-atomic': 1000 };

/** A console-shaped line's timestamp in ms ("[    5.678901] ..."), if it has one. */
function stampMs(line: string): number | undefined {
  const m = /^\[\s*(\d+)\.(\d{6})\]/.exec(line);
  return m ? Number(m[1]) * 1000 + Number(m[2]) / 1000 : undefined;
}

/**
 * How long to wait before a step that expects reports of `kinds` can see
 * one: what is left of the interval since the last such report in `log`
 * (kernel time), less the time the log has been quiet since its last line
 * (`quietMs`, host time). 0 when none is rate limited or none was reported. Pure.
 */
export function rateLimitWaitMs(kinds: readonly SplatKind[], log: readonly string[], quietMs: number): number {
  const limits = kinds.map((k) => RATE_LIMITED[k]).filter((x): x is number => x !== undefined);
  if (!limits.length) return 0;
  const limited = new Set(kinds.filter((k) => RATE_LIMITED[k] !== undefined));
  const reports = parseSplats([...log]).filter((s) => limited.has(s.kind));
  const last = reports.at(-1);
  if (!last) return 0;
  const at = stampMs(log[last.line] ?? '');
  const now = [...log]
    .reverse()
    .map(stampMs)
    .find((x) => x !== undefined);
  if (at === undefined || now === undefined) return Math.max(...limits);
  // A margin for jiffies' granularity (a tick at HZ 100 is 10 ms) and the host's clock against the guest's.
  return Math.max(0, Math.max(...limits) + 50 - (now - at) - quietMs);
}
