/**
 * Every error a user can meet carries a machine code, a sentence saying what
 * went wrong, and a hint saying what to do. The code names the phase or the
 * kind of failure where the meaning is known (a failed `make` of the kernel is
 * BUILD, a failed `apt-get` or `git` is INFRA); cli/exit.ts turns outcomes
 * into exit codes, in one place; only unexpected errors print a stack.
 */
export type ErrorCode = 'USAGE' | 'SCENARIO' | 'HOST_TOOL' | 'BUILD' | 'BOOT' | 'TIMEOUT' | 'GUEST' | 'PROBE' | 'INFRA' | 'INTERRUPTED';

export class KharnessError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    readonly details?: string,
  ) {
    super(message);
    this.name = 'KharnessError';
  }
}

export class UsageError extends KharnessError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, hint ?? 'Run `kharness --help` for usage.');
  }
}

/** A malformed document the harness reads (the kernel catalog, the parity list, a bisect's state): file:line:column, one line. */
export class DocumentError extends KharnessError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super('USAGE', `${file}:${line}:${column}: ${reason}`);
  }
}

/** A scenario file problem, always with file:line:column. */
export class ScenarioError extends KharnessError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly reason: string,
  ) {
    super('SCENARIO', `${file}:${line}:${column}: ${reason}`);
  }
}

export class HostToolError extends KharnessError {
  constructor(tool: string, pkg: string) {
    super('HOST_TOOL', `${tool} is not installed on this host.`, `Install it with: sudo apt-get install ${pkg}  (or run ./setup.sh)`);
  }
}

/** A phase ran out of time; the phase is named so the user knows where. */
export class PhaseTimeoutError extends KharnessError {
  constructor(
    readonly phase: string,
    readonly ms: number,
    details?: string,
    hint?: string,
  ) {
    super('TIMEOUT', `timed out after ${seconds(ms)} s in phase "${phase}"`, hint, details);
  }
}

/** Ctrl-C or SIGTERM: the run stops, keeping what finished. */
export class InterruptedError extends KharnessError {
  constructor() {
    super('INTERRUPTED', 'interrupted');
  }
}

/** "0.15", "1.5", "20": seconds for messages, to the hundredth, without trailing zeros. */
export function seconds(ms: number): string {
  return String(Math.round(ms / 10) / 100);
}

export function tail(text: string, lines = 20): string {
  const all = text.split('\n');
  while (all.length && all[all.length - 1] === '') all.pop();
  return all.slice(-lines).join('\n');
}
