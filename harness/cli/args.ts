/** Option values shared by the commands. */
import { UsageError } from '../errors.ts';

/** "a,b, c" → ["a", "b", "c"]; undefined stays undefined. */
export function list(v: unknown): string[] | undefined {
  return v === undefined ? undefined : String(v).split(',').map((s) => s.trim()).filter(Boolean);
}

export function positiveInt(v: unknown, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number of at least 1, not "${String(v)}"`);
  return n;
}
