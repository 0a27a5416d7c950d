/**
 * What a command is: its summary, usage line and options (data, read before
 * anything else loads), and a loader for its code, whose run ends in an
 * outcome (never an exit code).
 */
import type { parseArgs } from 'node:util';
import type { Outcome } from './exit.ts';

export type CommandRun = (values: Record<string, unknown>, positionals: string[], signal: AbortSignal) => Promise<Outcome>;

export interface Command {
  summary: string;
  usage: string;
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'];
  /** The command's code, imported only when it runs: `kharness --help` and a usage error load none of it. */
  load(): Promise<CommandRun>;
}
