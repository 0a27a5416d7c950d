/**
 * The one-screen summary every report opens with: how many of the article's
 * claims hold, fail or depend on each target, and which claims came out
 * differently between targets and along which axis (kernel version, arch,
 * page size, or config). Pure.
 */
import type { Distribution } from '../analysis/stats.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { inPlanOrder, targetLabel } from '../results/view.ts';
import { type ClaimRow, claimsTable, type Verdict } from './claims.ts';

/** A repeated step's runs in words ("4/5 runs passed"); nothing for a step run once. */
export function runsText(s: Pick<StepRecord, 'runs' | 'passes'>): string | undefined {
  if (s.runs === undefined || s.runs < 2) return undefined;
  return `${s.passes ?? 0}/${s.runs} runs passed`;
}

/** A distribution in one short phrase: median [min–max] ±rsd over n. */
export function distributionText(d: Distribution): string {
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
  return `${n(d.median)} [${n(d.min)}–${n(d.max)}] ±${(d.rsd * 100).toFixed(1)}% (n=${d.n})`;
}

/**
 * What the guests' command lines changed, in words: the raised soft-lockup
 * and RCU-stall thresholds (read from the recorded command line) and the
 * parameters scenarios booted their own VMs with.
 */
export function guestCmdlineNote(records: readonly ResultRecord[]): string | undefined {
  const guests = records.flatMap((r) => (r.type === 'guest' ? [r] : []));
  const slow = new Set(
    guests.flatMap((g) => (g.cmdline ?? '').split(' ').filter((p) => /^(watchdog_thresh|rcupdate\.rcu_cpu_stall_timeout)=/.test(p))),
  );
  const extra = new Set(guests.flatMap((g) => (g.extraCmdline ? [g.extraCmdline.join(' ')] : [])));
  const parts = [
    slow.size &&
      `Guests boot with ${[...slow].join(' ')}: the soft-lockup and RCU-stall thresholds are raised for an emulated CPU, ` +
        'so a long kernel test is not taken for a hang (the step and console-silence timeouts still catch one).',
    extra.size && `Scenarios with kernel parameters of their own ran on VMs booted with: ${[...extra].join('; ')}.`,
  ].filter(Boolean);
  return parts.length ? parts.join(' ') : undefined;
}

export interface TargetTraits {
  target: string;
  arch: string;
  /** "6.1", "6.12": the kernel series. */
  version: string;
  pageSize: string;
  config: string;
}

export interface Difference {
  id: string;
  /** What separates the verdicts: "page size", "kernel version", "arch", "config", or "target". */
  axis: string;
  /** "fails on 4 KiB pages (x86_64/6.1, …); holds on 64 KiB pages (arm64/6.1-64k)". */
  detail: string;
}

export interface ClaimsSummary {
  targets: string[];
  counts: Record<string, Record<Verdict, number>>;
  differences: Difference[];
}

const VERDICTS: Verdict[] = ['holds', 'fails', 'depends', 'inconclusive', 'untested'];

export function targetTraits(records: readonly ResultRecord[]): TargetTraits[] {
  const out = new Map<string, TargetTraits>();
  for (const r of inPlanOrder(records)) {
    if (r.type !== 'guest' && r.type !== 'target-begin' && r.type !== 'step') continue;
    const t = targetLabel(r.target);
    const cur = out.get(t) ?? { target: t, arch: r.target.arch, version: '?', pageSize: '?', config: r.target.configHash ?? '?' };
    if (r.target.release) cur.version = /^(\d+\.\d+)/.exec(r.target.release)?.[1] ?? r.target.release;
    if (r.target.configHash) cur.config = r.target.configHash;
    if (r.type === 'guest' && typeof r.constants.PAGE_SIZE === 'number') cur.pageSize = `${r.constants.PAGE_SIZE / 1024} KiB pages`;
    out.set(t, cur);
  }
  return [...out.values()];
}

const AXES: { name: string; of: (t: TargetTraits) => string }[] = [
  { name: 'page size', of: (t) => t.pageSize },
  { name: 'arch', of: (t) => t.arch },
  { name: 'kernel version', of: (t) => t.version },
  { name: 'config', of: (t) => t.config },
];

/** The first axis whose value alone decides the verdict among the targets that have one. */
function axisOf(row: ClaimRow, traits: TargetTraits[]): Difference | undefined {
  const decided = traits.filter((t) => {
    const v = row.cells[t.target]?.verdict;
    return v === 'holds' || v === 'fails' || v === 'depends';
  });
  const verdicts = new Set(decided.map((t) => row.cells[t.target]!.verdict));
  if (verdicts.size < 2) return undefined;
  for (const axis of AXES) {
    const byValue = new Map<string, Set<Verdict>>();
    for (const t of decided) byValue.set(axis.of(t), (byValue.get(axis.of(t)) ?? new Set()).add(row.cells[t.target]!.verdict));
    // An axis where every target has a value of its own (the config key) explains nothing.
    const shared = [...byValue.keys()].some((v) => decided.filter((t) => axis.of(t) === v).length > 1);
    if (byValue.size > 1 && shared && [...byValue.values()].every((s) => s.size === 1)) {
      const detail = [...byValue.entries()]
        .map(([value, vs]) => {
          const ts = decided.filter((t) => axis.of(t) === value).map((t) => t.target);
          return `${[...vs][0]} on ${value} (${ts.join(', ')})`;
        })
        .join('; ');
      return { id: row.id, axis: axis.name, detail };
    }
  }
  const detail = decided.map((t) => `${row.cells[t.target]!.verdict} on ${t.target}`).join('; ');
  return { id: row.id, axis: 'target', detail };
}

export function claimsSummary(records: readonly ResultRecord[], table = claimsTable(records)): ClaimsSummary {
  const counts: ClaimsSummary['counts'] = {};
  for (const t of table.targets) {
    counts[t] = Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;
    for (const row of table.rows) counts[t][row.cells[t]!.verdict]++;
  }
  const traits = targetTraits(records);
  const differences = table.rows.flatMap((row) => axisOf(row, traits) ?? []);
  return { targets: table.targets, counts, differences };
}

/** "9 hold, 5 fail, 1 untested". */
export function countsText(c: Record<Verdict, number>): string {
  const words: Record<Verdict, string> = {
    holds: 'hold',
    fails: 'fail',
    depends: 'depend',
    inconclusive: 'inconclusive',
    untested: 'untested',
  };
  return VERDICTS.filter((v) => c[v])
    .map((v) => `${c[v]} ${words[v]}`)
    .join(', ');
}

/** The summary as plain lines, for the terminal. */
export function renderSummaryText(s: ClaimsSummary): string {
  const lines = ["The article's claims, per target"];
  const width = Math.max(...s.targets.map((t) => t.length));
  for (const t of s.targets) lines.push(`  ${t.padEnd(width)}  ${countsText(s.counts[t]!) || 'none tested'}`);
  if (s.differences.length) {
    lines.push('Claims that differ between targets');
    for (const d of s.differences) lines.push(`  ${d.id}: by ${d.axis}: ${d.detail}`);
  } else if (s.targets.length > 1) lines.push('Every claim came out the same on every target.');
  return `${lines.join('\n')}\n`;
}
