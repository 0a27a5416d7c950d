/** One JSON document summarising a run: counts, targets, the claims table, every step. */

import { countStatuses, runOutcome } from '../results/outcome.ts';
import type { ResultRecord } from '../results/records.ts';
import { claimsTable } from './claims.ts';

export function renderJson(records: readonly ResultRecord[]): string {
  return `${JSON.stringify(
    {
      outcome: runOutcome(records),
      counts: countStatuses(records),
      targets: records.filter((r) => r.type === 'target-end'),
      guests: records.filter((r) => r.type === 'guest'),
      claims: claimsTable(records),
      steps: records.filter((r) => r.type === 'step'),
    },
    null,
    2,
  )}\n`;
}
