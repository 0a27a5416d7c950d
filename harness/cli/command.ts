/** What a command is: its options, its usage line, and a run that ends in an outcome (never an exit code). */
import type { parseArgs } from 'node:util';
import type { Outcome } from './exit.ts';

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  run(values: Record<string, unknown>, positionals: string[], signal: AbortSignal): Promise<Outcome>;
}
