/** Checking a scenario's or step's `requires:` against a target. Pure. */
import { isEnabled } from '../analysis/kconfig.ts';
import type { Requires } from './types.ts';

export interface TargetFacts {
  arch: string;
  /** "6.1.192" */
  release: string;
  config: Map<string, string>;
}

function versionTuple(v: string): number[] {
  return (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v)?.slice(1) ?? []).map((x) => Number(x ?? 0));
}

export function compareVersions(a: string, b: string): number {
  const x = versionTuple(a);
  const y = versionTuple(b);
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** undefined when met; else the reason to SKIP. */
export function unmetReason(req: Requires | undefined, t: TargetFacts): string | undefined {
  if (!req) return undefined;
  if (req.arch && !req.arch.includes(t.arch)) return `needs arch ${req.arch.join(' or ')}, target is ${t.arch}`;
  if (req.min_version && compareVersions(t.release, req.min_version) < 0)
    return `needs kernel >= ${req.min_version}, target is ${t.release}`;
  const missing = (req.config ?? []).filter((o) => !isEnabled(t.config, o));
  if (missing.length) return `kernel config lacks ${missing.join(', ')}`;
  return undefined;
}
