/**
 * One injection as guest shell text and what comes back: the knobs to write
 * before a step (every capability the kernel has, armed for the step's kind
 * or kept out of the count), the reset after it, the `times` counters read
 * on both sides, and the facts a step records from them. The task that runs
 * the step arms its own fail-nth; nothing here touches another task's. Pure.
 */
import type { Facts } from '../probe/vocabulary.ts';
import { CAPABILITIES, CAPABILITY_NAMES, type Capability, COMMON_ARMED, COMMON_DEFAULTS, type InjectKind } from './kinds.ts';

export interface KnobWrite {
  path: string;
  value: string;
}

function writes(c: Capability, own: Readonly<Record<string, string>>, common: Readonly<Record<string, string>>): KnobWrite[] {
  const dir = CAPABILITIES[c].dir;
  return Object.entries({ ...common, ...own }).map(([k, value]) => ({ path: `${dir}/${k}`, value }));
}

/**
 * The knobs before a step of `kind`: each capability the kernel has is armed
 * when the kind asks for it, and otherwise set to count nothing (fail-nth
 * counts every capability's allocations, so an unwanted one would take the
 * Nth). `present`: the capabilities the target's config has.
 */
export function armWrites(kind: InjectKind, present: readonly Capability[]): KnobWrite[] {
  return CAPABILITY_NAMES.filter((c) => present.includes(c)).flatMap((c) => {
    const spec = CAPABILITIES[c];
    const wanted = kind === 'any' || spec.kind === kind;
    return writes(c, wanted ? spec.armed : spec.excluded, COMMON_ARMED);
  });
}

/** Every knob back at the kernel's default, after a step (whatever became of it). */
export function resetWrites(present: readonly Capability[]): KnobWrite[] {
  return CAPABILITY_NAMES.filter((c) => present.includes(c)).flatMap((c) => writes(c, CAPABILITIES[c].defaults, COMMON_DEFAULTS));
}

const FAILED = 'kharness-knob-failed';

/**
 * Guest shell text writing the knobs in order; the first that cannot be
 * written (no debugfs, a knob this kernel does not have) stops it with
 * "kharness-knob-failed PATH" and exit status 1. Values are the table's,
 * never a scenario's: nothing here needs quoting.
 */
export function knobScript(w: readonly KnobWrite[]): string {
  return w.map((k) => `echo ${k.value} > ${k.path} || { echo "${FAILED} ${k.path}"; exit 1; }`).join('\n');
}

/** The knob a knobScript could not write, from its output. */
export function failedKnob(output: string): string | undefined {
  return new RegExp(`^${FAILED} (\\S+)`, 'm').exec(output)?.[1];
}

/** Guest shell text printing each present capability's `times` counter, one "NAME times=N" line each. */
export function timesScript(present: readonly Capability[]): string {
  return CAPABILITY_NAMES.filter((c) => present.includes(c))
    .map((c) => `echo "${c} times=$(cat ${CAPABILITIES[c].dir}/times)"`)
    .join('\n');
}

export function parseTimes(output: string): Partial<Record<Capability, number>> {
  const out: Partial<Record<Capability, number>> = {};
  for (const m of output.matchAll(/^(\w+) times=(-?\d+)$/gm)) {
    if ((CAPABILITY_NAMES as string[]).includes(m[1]!)) out[m[1] as Capability] = Number(m[2]);
  }
  return out;
}

/** Injections each capability made between two readings of `times` (it counts down once per injection). */
export function injectionsBetween(
  before: Partial<Record<Capability, number>>,
  after: Partial<Record<Capability, number>>,
): Partial<Record<Capability, number>> {
  const out: Partial<Record<Capability, number>> = {};
  for (const c of CAPABILITY_NAMES) {
    const b = before[c];
    const a = after[c];
    if (b !== undefined && a !== undefined) out[c] = b - a;
  }
  return out;
}

/**
 * What a step records of its injection. `failNthLeft`: the task's fail-nth
 * read back after the operation, 0 when the Nth allocation was failed (the
 * proof: a __GFP_NOWARN allocation is failed without a word in the log), N
 * minus the allocations counted when the operation made fewer than N.
 * `made`: the `times` counters' decrease, which names the capability.
 */
export function injectFacts(nth: number, kind: InjectKind, failNthLeft: number, made: Partial<Record<Capability, number>>): Facts {
  const injected = failNthLeft === 0;
  const by = CAPABILITY_NAMES.filter((c) => (made[c] ?? 0) > 0);
  const facts: Facts = {
    inject_nth: nth,
    injected,
    injections: by.reduce((n, c) => n + (made[c] ?? 0), 0),
    // Allocations the operation made that counted toward N (all of them when it was not injected).
    inject_counted: injected ? nth : nth - failNthLeft,
    inject_kind: by.length ? by.map((c) => CAPABILITIES[c].kind).join('+') : injected ? kind : 'none',
  };
  return facts;
}

/** What the fail-nth loader (modules/failnth) printed: finit_module()'s return and the fail-nth left, or its own error. */
export function parseFailnth(output: string): { rc: number; failNthLeft: number } | { error: string } {
  const ok = /^kharness-failnth rc=(-?\d+) fail_nth_left=(-?\d+)$/m.exec(output);
  if (ok) return { rc: Number(ok[1]), failNthLeft: Number(ok[2]) };
  const err = /^kharness-failnth error=(.*)$/m.exec(output);
  return { error: err ? err[1]! : `the fail-nth loader printed no result: ${output.trim().slice(0, 200) || '(nothing)'}` };
}

/** Errno names a module load returns most (asm-generic/errno-base.h, errno.h; 524 is the kernel's own ENOTSUPP). */
const ERRNO: Readonly<Record<number, string>> = {
  1: 'EPERM',
  2: 'ENOENT',
  5: 'EIO',
  8: 'ENOEXEC',
  11: 'EAGAIN',
  12: 'ENOMEM',
  13: 'EACCES',
  14: 'EFAULT',
  16: 'EBUSY',
  17: 'EEXIST',
  19: 'ENODEV',
  22: 'EINVAL',
  28: 'ENOSPC',
  95: 'EOPNOTSUPP',
  110: 'ETIMEDOUT',
  524: 'ENOTSUPP',
};

const errnoText = (rc: number) => (rc < 0 && ERRNO[-rc] ? `-${ERRNO[-rc]}` : String(rc));

/** "load returned -ENOMEM" for a load's -12; "loaded" for 0. */
export function loadOutcome(rc: number): string {
  if (rc === 0) return 'loaded';
  return `load returned ${errnoText(rc)}`;
}

/**
 * The one system call an exercise sweep fails the allocations of: a write of
 * `data` to a file (a sysfs parameter, a debugfs or proc file, a device), or
 * a read of one. Every allocation the task makes after arming counts, so the
 * operation is made by the fail-nth helper itself, never by a shell or a
 * program it would start (their own allocations would take the indexes).
 */
export type SweepIO = { op: 'write'; path: string; data: string } | { op: 'read'; path: string };

const IO_PATH = String.raw`(/[A-Za-z0-9_.,:/+@-]+)`;
const ECHO = new RegExp(String.raw`^echo(\s+-n)?\s+([A-Za-z0-9_.,:/+=-]+|'[^']*'|"[^"$\\\`']*")\s*>\s*${IO_PATH}$`);
const CAT = new RegExp(String.raw`^cat\s+${IO_PATH}$`);

/**
 * An exercise command as the one write or read it makes: `echo [-n] DATA >
 * PATH` (DATA a word, or quoted text with no quote, $, \ or backquote in it)
 * or `cat PATH`. Anything else is refused with what to give instead. Pure.
 */
export function sweepIO(command: string): SweepIO | { error: string } {
  const c = command.trim();
  const e = ECHO.exec(c);
  if (e) {
    const word = e[2]!;
    const text = /^['"]/.test(word) ? word.slice(1, -1) : word;
    return { op: 'write', path: e[3]!, data: e[1] ? text : `${text}\n` };
  }
  const r = CAT.exec(c);
  if (r) return { op: 'read', path: r[1]! };
  return {
    error:
      `cannot sweep the allocations of "${c.slice(0, 80)}": give one write, \`echo DATA > /sys/...\`, or one read, \`cat /sys/...\` ` +
      "(a shell or program between arming and the module's code would make allocations of its own)",
  };
}

/** What the helper's write or read returned, as a row's outcome: "wrote 2 bytes", "write returned -ENOMEM". */
export function ioOutcome(io: SweepIO, rc: number): string {
  if (rc >= 0) return `${io.op === 'write' ? 'wrote' : 'read'} ${rc} byte${rc === 1 ? '' : 's'}`;
  return `${io.op} returned ${errnoText(rc)}`;
}

/** An allocation index counts from 1; anything else is a bug in the caller. */
function checkIndex(nth: number): void {
  if (!Number.isSafeInteger(nth) || nth < 1) throw new RangeError(`an allocation index from 1, not ${nth}`);
}

/**
 * The guest command that loads a module with its Nth allocation failed:
 * the fail-nth loader (modules/failnth) at `helper` opens `ko`, arms its own
 * fail-nth and calls finit_module() with `params` as one argument (module
 * parameters are checked when a scenario loads: no spaces, quotes or shell
 * characters in a value). It prints one kharness-failnth line (parseFailnth).
 */
export function failnthCommand(helper: string, ko: string, nth: number, params: string): string {
  checkIndex(nth);
  return `${helper} ${nth} ${ko}${params ? ` '${params}'` : ''}`;
}

/** The guest command that makes one write or read (sweepIO's) with its Nth allocation failed; the data goes in single quotes, newline and all. */
export function failnthIOCommand(helper: string, io: SweepIO, nth: number): string {
  checkIndex(nth);
  if (io.op === 'read') return `${helper} ${nth} --read '${io.path}'`;
  if (io.data.includes("'")) throw new RangeError('the data of a swept write has no single quote');
  return `${helper} ${nth} --write '${io.path}' '${io.data}'`;
}
