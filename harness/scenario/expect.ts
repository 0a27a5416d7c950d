/**
 * Expectation evaluation: a step's expectations against what the guest
 * reported. Pure: observed facts and splats in, failures out.
 */
import { describePattern, isFinding, type Splat, splatMatches } from '../analysis/splats.ts';
import type { Facts, FactValue } from '../probe/vocabulary.ts';
import { type Constants, evalPredicate, evalSize, parseSize } from './size.ts';
import type { CompareOp, Expect, GuardedExpect, Matcher, Pos, Scalar } from './types.ts';

export interface Failure {
  /** What was checked: a fact name, "dmesg" or "crash". */
  what: string;
  expected: string;
  observed: string;
  /** Where the expectation stands in its YAML file. */
  pos?: Pos;
}

/** What observing a step yielded, as far as expectations are concerned. */
export interface Observation {
  facts: Facts;
  /** Splats the step caused (between its begin and end markers). */
  splats: Splat[];
  /** True when the guest died during the step. */
  crashed: boolean;
  /** /proc/meminfo after - before the step, in bytes; read only when an expectation needs it. */
  meminfoDelta?: Record<string, number>;
}

const OPS: Record<CompareOp, { sym: string; test: (a: number, b: number) => boolean }> = {
  eq: { sym: '==', test: (a, b) => a === b },
  ne: { sym: '!=', test: (a, b) => a !== b },
  gt: { sym: '>', test: (a, b) => a > b },
  ge: { sym: '>=', test: (a, b) => a >= b },
  lt: { sym: '<', test: (a, b) => a < b },
  le: { sym: '<=', test: (a, b) => a <= b },
};

function resolve(v: Scalar, constants: Constants): Scalar {
  // Strings that parse as size expressions ("KMALLOC_MAX_SIZE", "4KiB") become numbers.
  if (typeof v !== 'string') return v;
  try {
    return evalSize(parseSize(v, Object.keys(constants)), constants);
  } catch {
    return v;
  }
}

function equal(observed: FactValue, expected: Scalar): boolean {
  if (typeof expected === 'boolean') return (typeof observed === 'boolean' ? observed : observed === 1) === expected;
  return observed === expected;
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function checkFact(name: string, matcher: Matcher, observed: FactValue | undefined, constants: Constants): Failure | undefined {
  if (observed === undefined) return { what: name, expected: describeMatcher(matcher), observed: '(not reported)' };
  if (typeof matcher !== 'object') {
    const want = resolve(matcher, constants);
    return equal(observed, want) ? undefined : { what: name, expected: show(want), observed: show(observed) };
  }
  for (const [op, raw] of Object.entries(matcher) as [CompareOp, Scalar][]) {
    const want = resolve(raw, constants);
    const ok =
      op === 'eq' || op === 'ne'
        ? equal(observed, want) === (op === 'eq')
        : typeof observed === 'number' && typeof want === 'number' && OPS[op].test(observed, want);
    if (!ok) return { what: name, expected: `${OPS[op].sym} ${show(want)}`, observed: show(observed) };
  }
  return undefined;
}

function describeMatcher(m: Matcher): string {
  if (typeof m !== 'object') return show(m);
  return Object.entries(m)
    .map(([op, v]) => `${OPS[op as CompareOp].sym} ${show(v)}`)
    .join(' and ');
}

export function evaluate(expect: Expect, obs: Observation, constants: Constants): Failure[] {
  const failures: Failure[] = [];
  if (obs.crashed && !expect.crash) {
    const first = obs.splats.find(isFinding);
    failures.push({ what: 'crash', expected: 'the guest survives', observed: first ? first.title : 'the guest died' });
    return failures;
  }
  if (expect.crash) {
    const hit = obs.splats.some((s) => splatMatches(s, expect.crash!));
    if (!obs.crashed || !hit) {
      failures.push({
        what: 'crash',
        expected: `the guest dies with ${describePattern(expect.crash)}`,
        observed: obs.crashed ? `died with: ${obs.splats.map((s) => s.title).join(' | ') || 'no report'}` : 'the guest survived',
        pos: expect.crash.pos,
      });
    }
    return failures;
  }
  for (const g of expect.guardErrors ?? []) failures.push({ what: 'when', expected: 'a condition that can be evaluated', observed: g });
  for (const [name, { matcher, pos }] of Object.entries(expect.facts)) {
    const f = checkFact(name, matcher, obs.facts[name], constants);
    if (f) failures.push({ ...f, pos });
  }
  for (const [name, { matcher, pos }] of Object.entries(expect.meminfo ?? {})) {
    const f = checkFact(`meminfo ${name} change (bytes)`, matcher, obs.meminfoDelta?.[name], constants);
    if (f) failures.push({ ...f, pos });
  }
  const pos = expect.dmesg?.pos;
  for (const p of expect.dmesg?.has ?? []) {
    if (!obs.splats.some((s) => splatMatches(s, p))) {
      failures.push({ what: 'dmesg', expected: `a ${describePattern(p)} report`, observed: summarise(obs.splats), pos });
    }
  }
  for (const p of expect.dmesg?.none ?? []) {
    const bad = obs.splats.filter((s) => splatMatches(s, p));
    if (bad.length) failures.push({ what: 'dmesg', expected: `no ${describePattern(p)} report`, observed: summarise(bad), pos });
  }
  return failures;
}

function summarise(splats: Splat[]): string {
  return splats.length ? splats.map((s) => s.title).join(' | ') : 'no kernel reports';
}

/** The blocks whose `when` holds for this step, merged into one expectation. */
export function activeExpect(blocks: readonly GuardedExpect[], env: Constants): Expect {
  const out: Expect = { facts: {} };
  for (const b of blocks) {
    if (b.when) {
      let holds: boolean;
      try {
        holds = evalPredicate(b.when, env);
      } catch (e) {
        out.guardErrors = [...(out.guardErrors ?? []), `when "${b.when.text}": ${(e as Error).message}`];
        continue;
      }
      if (!holds) continue;
    }
    const e = b.expect;
    Object.assign(out.facts, e.facts);
    if (e.meminfo) out.meminfo = { ...out.meminfo, ...e.meminfo };
    if (e.dmesg) {
      const has = [...(out.dmesg?.has ?? []), ...(e.dmesg.has ?? [])];
      const none = [...(out.dmesg?.none ?? []), ...(e.dmesg.none ?? [])];
      out.dmesg = { has, none, pos: out.dmesg?.pos ?? e.dmesg.pos };
    }
    out.crash ??= e.crash;
  }
  return out;
}

export function needsMeminfo(blocks: readonly GuardedExpect[]): boolean {
  return blocks.some((b) => b.expect.meminfo && Object.keys(b.expect.meminfo).length > 0);
}

/** The names a step's expectations can use: constants, the step's size, and its numeric facts (booleans as 0/1). */
export function stepEnv(constants: Constants, size: number | undefined, facts: Facts): Record<string, number> {
  const env: Record<string, number> = { ...constants };
  for (const [k, v] of Object.entries(facts)) {
    if (typeof v === 'number') env[k] = v;
    else if (typeof v === 'boolean') env[k] = v ? 1 : 0;
  }
  if (size !== undefined) env.size = size;
  return env;
}
