/** One JSON document summarising a run: counts, targets, the claims table, every step. */
import type { ResultRecord } from '../results/records.ts';
import { resultsView } from '../results/view.ts';
import { claimsTable } from './claims.ts';

export function renderJson(records: readonly ResultRecord[]): string {
  const view = resultsView(records);
  return `${JSON.stringify(
    {
      outcome: view.outcome,
      counts: view.counts,
      targets: view.targets.flatMap((t) => (t.end ? [t.end] : [])),
      guests: view.targets.flatMap((t) => t.guests),
      claims: claimsTable(view.records),
      steps: view.steps,
    },
    null,
    2,
  )}\n`;
}
