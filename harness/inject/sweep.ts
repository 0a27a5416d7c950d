/**
 * A sweep over an operation's allocations: fail the 1st, then the 2nd, and
 * so on, until the operation completes with no injection consumed (it made
 * fewer allocations than N), or the cap is reached. Each index's outcome is
 * a row a developer reads at a glance:
 *   #3 kmalloc in foo_probe+0x4c [foo]: init returned -ENOMEM, 1 object (64 B) leaked from foo_probe+0x21
 * Deciding what comes next, each row's text and the verdict are here. Pure.
 */

/** What one index left behind. */
export interface SweepLeak {
  objects: number;
  bytes: number;
  /** The leaked objects' allocation site (kmemleak's backtrace, or the allocation profiler's func:). */
  from?: string;
}

export interface SweepIndex {
  nth: number;
  /** fail-nth read back as 0 (or a capability's times counter moved): the Nth allocation was failed. */
  injected: boolean;
  /** The failed allocation: its allocator entry and call site, from the injection's stack. */
  api?: string;
  site?: string;
  /** What the operation returned ("init returned -ENOMEM", "exit status 1", "loaded"). */
  outcome: string;
  leaks: SweepLeak[];
  /** Kernel reports that are findings (titles). */
  reports: string[];
  /** The kernel died or oopsed: the next index ran on a fresh machine. */
  crashed: boolean;
  /** kmemleak was not read for this index: its machine died (at that index) before the scan. */
  unscanned?: number;
}

/**
 * The cap when none is given: larger than any module load kharness has met,
 * small enough to end. The leak-on-error-path example's load counts 197
 * allocations on x86_64 6.1-debug and 269 on arm64 6.12-debug, where
 * kmemleak's own record of each tracked object is one more (a silent,
 * __GFP_NOWARN allocation that kmemleak survives from its pool).
 */
export const SWEEP_CAP_DEFAULT = 500;

/**
 * How many kernel deaths a sweep boots a fresh machine after. A module whose
 * every failure path kills the kernel would otherwise boot one per index up
 * to the cap; past this many the sweep stops (exit 1: each death is a finding).
 */
export const SWEEP_DEATHS_MAX = 20;

export type SweepEnd = 'complete' | 'capped' | 'deaths';
export type SweepNext = { next: number } | { done: SweepEnd };

/**
 * What comes after the indexes so far: the next one, or the end. The sweep
 * is complete at the first index the operation survived without consuming
 * (it made fewer allocations than that), capped when the cap was injected
 * and the operation still had more, and stopped after SWEEP_DEATHS_MAX
 * deaths. A death is not the end: the next index runs on a fresh machine.
 */
export function nextIndex(done: readonly SweepIndex[], cap: number, deathsMax = SWEEP_DEATHS_MAX): SweepNext {
  const last = done.at(-1);
  if (!last) return { next: 1 };
  if (!last.injected && !last.crashed) return { done: 'complete' };
  if (done.filter((r) => r.crashed).length >= deathsMax) return { done: 'deaths' };
  if (last.nth >= cap) return { done: 'capped' };
  return { next: last.nth + 1 };
}

/** Whether an index is a finding: it left a leak, a kernel report, or a dead kernel. */
export function isFindingIndex(r: SweepIndex): boolean {
  return r.crashed || r.reports.length > 0 || r.leaks.some((l) => l.objects > 0);
}

function leakText(l: SweepLeak): string {
  return `${l.objects} object${l.objects === 1 ? '' : 's'} (${l.bytes} B) leaked${l.from ? ` from ${l.from}` : ''}`;
}

/** One row of the sweep's table. */
export function sweepRow(r: SweepIndex): string {
  const what = r.injected
    ? `${r.api ?? 'allocation'} in ${r.site ?? 'an unknown caller (__GFP_NOWARN or no stack)'}`
    : 'no allocation failed (the operation made fewer)';
  const parts = [r.outcome];
  for (const l of r.leaks) if (l.objects > 0) parts.push(leakText(l));
  for (const t of r.reports) parts.push(`report: ${t}`);
  if (r.crashed) parts.push('the machine is not used again');
  if (r.unscanned !== undefined) parts.push(`leaks not read (the kernel died at #${r.unscanned} before kmemleak's scan)`);
  return `#${r.nth} ${what}: ${parts.join(', ')}`;
}

/**
 * The sweep's exit code, decided once: 2 when it was stopped at the cap
 * (it proved nothing about the indexes beyond), 1 when any index left a
 * leak, a report or a dead kernel, 0 when every failure path was clean.
 */
export function sweepExit(rows: readonly SweepIndex[], end: SweepEnd): 0 | 1 | 2 {
  if (end === 'capped') return 2;
  return rows.some(isFindingIndex) ? 1 : 0;
}
