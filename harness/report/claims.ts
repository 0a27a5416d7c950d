/**
 * The claims table: for every claim of the article, its verdict on each
 * target with the evidence. Pure: records in, table out.
 *
 * A scenario says what its passing means for each claim it names (holds or
 * fails). A scenario that failed or errored proves nothing either way: the
 * claim is inconclusive there, with the failing step as evidence. One that was
 * skipped leaves it untested, with the reason.
 */
import type { ResultRecord, StepRecord } from '../run/results.ts';
import { CLAIMS } from '../scenario/claims.ts';
import { formatFailure } from './failure.ts';

export type Verdict = 'holds' | 'fails' | 'depends' | 'inconclusive' | 'untested';

export interface Evidence {
  scenario: string;
  verdict: Verdict;
  /** Steps that decided it: failing ones, or the passing steps. */
  steps: string[];
  note?: string;
}

export interface ClaimCell {
  verdict: Verdict;
  evidence: Evidence[];
}

export interface ClaimRow {
  id: string;
  text: string;
  cells: Record<string, ClaimCell>;
  /** Across targets: one verdict, or depends. */
  overall: Verdict;
}

export function targetLabel(t: { arch: string; kernel: string }): string {
  return `${t.arch}/${t.kernel}`;
}

function scenarioVerdict(steps: StepRecord[], ifPasses: 'holds' | 'fails'): Evidence {
  const scenario = steps[0]!.scenario;
  const bad = steps.filter((s) => s.status === 'fail' || s.status === 'error');
  if (bad.length) {
    return {
      scenario,
      verdict: 'inconclusive',
      steps: bad.map((s) => s.name),
      note: bad.map((s) => s.failures.map((f) => formatFailure(f)).join('; ') || s.reason || s.status).join(' | '),
    };
  }
  const ran = steps.filter((s) => s.status === 'pass' || s.status === 'expected-crash');
  if (!ran.length) return { scenario, verdict: 'untested', steps: [], note: steps[0]!.reason };
  return { scenario, verdict: ifPasses, steps: ran.map((s) => s.name) };
}

function combine(vs: Verdict[]): Verdict {
  const definite = new Set(vs.filter((v) => v === 'holds' || v === 'fails' || v === 'depends'));
  if (definite.size === 1) return [...definite][0]!;
  if (definite.size > 1) return 'depends';
  return vs.includes('inconclusive') ? 'inconclusive' : 'untested';
}

export function claimsTable(records: readonly ResultRecord[]): { targets: string[]; rows: ClaimRow[] } {
  const steps = records.filter((r): r is StepRecord => r.type === 'step');
  const targets = [...new Set(records.filter((r) => r.type === 'target-begin').map((r) => targetLabel(r.target)))];
  const rows: ClaimRow[] = Object.entries(CLAIMS).map(([id, text]) => {
    const cells: Record<string, ClaimCell> = {};
    for (const t of targets) {
      const byScenario = new Map<string, StepRecord[]>();
      for (const s of steps) {
        if (targetLabel(s.target) !== t || !s.claims.some((c) => c.id === id)) continue;
        byScenario.set(s.scenario, [...(byScenario.get(s.scenario) ?? []), s]);
      }
      const evidence = [...byScenario.values()].map((ss) => scenarioVerdict(ss, ss[0]!.claims.find((c) => c.id === id)!.ifPasses));
      cells[t] = { verdict: combine(evidence.map((e) => e.verdict)), evidence };
    }
    return { id, text, cells, overall: combine(Object.values(cells).map((c) => c.verdict)) };
  });
  return { targets, rows };
}
