/**
 * Writing the results stream: each record appended synchronously, as it
 * happens, so whatever finished is on disk whatever happens next; listeners
 * (the live reporters) see each record once it is written.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ResultRecord } from './records.ts';

export class ResultsWriter {
  constructor(
    readonly path: string,
    private readonly listeners: ((r: ResultRecord) => void)[] = [],
  ) {
    mkdirSync(dirname(path), { recursive: true });
  }

  write(r: ResultRecord): void {
    appendFileSync(this.path, `${JSON.stringify(r)}\n`);
    for (const l of this.listeners) l(r);
  }
}
