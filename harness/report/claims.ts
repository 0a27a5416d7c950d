/**
 * The claims table: for every claim of the article, its verdict on each
 * target with the evidence. Pure: records in, table out.
 *
 * A scenario says what its passing means for each claim it names (holds or
 * fails). A scenario that failed or errored proves nothing either way: the
 * claim is inconclusive there, with the failing step as evidence. One that was
 * skipped leaves it untested, with the reason.
 */
import { sizeConstants } from '../probe/vocabulary.ts';
import type { ResultRecord, StepRecord } from '../results/records.ts';
import { isFailed, ranAsExpected } from '../results/status.ts';
import { failureLine, type GuestRecord as Guest, resultsView } from '../results/view.ts';
import { CLAIMS } from '../scenario/claims.ts';
import { stepEnv } from '../scenario/expect.ts';
import { parseShows, renderShows } from '../scenario/shows.ts';
import type { ClaimRef } from '../scenario/types.ts';

export type Verdict = 'holds' | 'fails' | 'depends' | 'inconclusive' | 'untested';

export interface Evidence {
  scenario: string;
  verdict: Verdict;
  /** Steps that decided it: failing ones, or the passing steps. */
  steps: string[];
  note?: string;
  /** The deciding observation the scenario states for this claim, filled in from this target's facts. */
  observation?: string;
}

export interface ClaimCell {
  verdict: Verdict;
  evidence: Evidence[];
  /** The cell in words: the verdict and why (the deciding observation, the failure, or the skip reason). */
  says: string;
}

/** The scenario's deciding observation for a claim, with this target's constants and the deciding step's facts. */
function observation(ref: ClaimRef, ran: StepRecord[], guests: Guest[]): string | undefined {
  if (!ref.shows) return undefined;
  const names = [...ref.shows.matchAll(/\{([^}:]+)/g)].flatMap((m) => m[1]!.match(/[A-Za-z_]\w*/g) ?? []);
  const candidates = ref.step ? ran.filter((s) => s.name === ref.step || s.name.startsWith(`${ref.step} [`)) : ran;
  // The named step (its last size, for a sweep), or the first step that reports what the observation names.
  const step = ref.step ? candidates[candidates.length - 1] : (candidates.find((s) => names.every((n) => n in s.facts)) ?? candidates[0]);
  if (!step) return undefined;
  const guest = guests.find((g) => g.boot === step.boot) ?? guests[0];
  const constants = guest?.constants ?? {};
  const size = typeof step.facts.size === 'number' ? step.facts.size : undefined;
  const numbers = stepEnv(sizeConstants(constants), size, step.facts);
  const texts: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...constants, ...step.facts })) if (typeof v === 'string') texts[k] = v;
  if (step.splats[0]) texts.report = step.splats[0].title;
  try {
    return renderShows(parseShows(ref.shows), numbers, texts);
  } catch (e) {
    // A name this target never reported: say so rather than invent a value.
    return `(cannot show: ${(e as Error).message})`;
  }
}

function says(verdict: Verdict, evidence: Evidence[]): string {
  const why = (e: Evidence) => (e.verdict === 'holds' || e.verdict === 'fails' ? e.observation : e.note);
  // A definite verdict is explained by the evidence that decided it, not by scenarios that did not run there.
  const definite = (v: Verdict) => v === 'holds' || v === 'fails' || v === 'depends';
  const deciding = definite(verdict) ? evidence.filter((e) => definite(e.verdict)) : evidence;
  const parts = deciding.map((e) => (deciding.length > 1 && verdict === 'depends' ? `${e.verdict}: ${why(e) ?? e.scenario}` : why(e)));
  const text = [...new Set(parts.filter(Boolean))].join('; ');
  return text ? `${verdict} — ${text}` : verdict;
}

export interface ClaimRow {
  id: string;
  text: string;
  cells: Record<string, ClaimCell>;
  /** Across targets: one verdict, or depends. */
  overall: Verdict;
}

function scenarioVerdict(steps: StepRecord[], ref: ClaimRef, guests: Guest[]): Evidence {
  const ifPasses = ref.ifPasses;
  const scenario = steps[0]!.scenario;
  const bad = steps.filter((s) => isFailed(s.status) || s.status === 'error');
  if (bad.length) {
    return {
      scenario,
      verdict: 'inconclusive',
      steps: bad.map((s) => s.name),
      // Steps not run for one reason (the kernel could not be prepared) say it once.
      note: [...new Set(bad.map((s) => s.failures.map((f) => failureLine(f)).join('; ') || s.reason || s.status))].join(' | '),
    };
  }
  const ran = steps.filter((s) => ranAsExpected(s.status));
  if (!ran.length) return { scenario, verdict: 'untested', steps: [], note: steps[0]!.reason };
  // A scenario cut short (interrupted, or its guest lost) has not shown what passing it means.
  const cut = steps.find((s) => s.status === 'skip' && s.reason?.startsWith('not run:'));
  if (cut) return { scenario, verdict: 'inconclusive', steps: [cut.name], note: `step "${cut.name}" did not run (${cut.reason})` };
  if (ref.step && !ran.some((s) => s.name === ref.step || s.name.startsWith(`${ref.step} [`))) {
    return { scenario, verdict: 'inconclusive', steps: [], note: `its deciding step "${ref.step}" did not run` };
  }
  return { scenario, verdict: ifPasses, steps: ran.map((s) => s.name), observation: observation(ref, ran, guests) };
}

function combine(vs: Verdict[]): Verdict {
  const definite = new Set(vs.filter((v) => v === 'holds' || v === 'fails' || v === 'depends'));
  if (definite.size === 1) return [...definite][0]!;
  if (definite.size > 1) return 'depends';
  return vs.includes('inconclusive') ? 'inconclusive' : 'untested';
}

export function claimsTable(records: readonly ResultRecord[]): { targets: string[]; rows: ClaimRow[] } {
  const view = resultsView(records);
  const targets = view.targets.map((t) => t.label);
  const rows: ClaimRow[] = Object.entries(CLAIMS).map(([id, text]) => {
    const cells: Record<string, ClaimCell> = {};
    for (const t of view.targets) {
      const byScenario = new Map<string, StepRecord[]>();
      for (const s of t.steps) {
        if (!s.claims.some((c) => c.id === id)) continue;
        byScenario.set(s.scenario, [...(byScenario.get(s.scenario) ?? []), s]);
      }
      const evidence = [...byScenario.values()].map((ss) => scenarioVerdict(ss, ss[0]!.claims.find((c) => c.id === id)!, t.guests));
      const verdict = combine(evidence.map((e) => e.verdict));
      cells[t.label] = { verdict, evidence, says: says(verdict, evidence) };
    }
    return { id, text, cells, overall: combine(Object.values(cells).map((c) => c.verdict)) };
  });
  return { targets, rows };
}
