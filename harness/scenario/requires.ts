/** Checking a scenario's or step's `requires:` against a target. Pure. */
import { isEnabled } from '../analysis/kconfig.ts';
import { compareVersions } from '../analysis/version.ts';
import { API_VERSIONS, type Api, GFP_FLAGS } from '../probe/vocabulary.ts';
import type { Requires } from './types.ts';

export interface TargetFacts {
  arch: string;
  /** "6.1.192" */
  release: string;
  config: Map<string, string>;
}

/** A release cut to as many parts as a bound names: 6.12.117 against 6.12 is 6.12. */
function truncated(release: string, bound: string): string {
  const parts = bound.split('.').length;
  return (/^\d+(?:\.\d+){0,2}/.exec(release)?.[0] ?? release).split('.').slice(0, parts).join('.');
}

/** undefined when met; else the reason to SKIP. */
export function unmetReason(req: Requires | undefined, t: TargetFacts): string | undefined {
  if (!req) return undefined;
  if (req.arch && !req.arch.includes(t.arch)) return `needs arch ${req.arch.join(' or ')}, target is ${t.arch}`;
  if (req.min_version && compareVersions(t.release, req.min_version) < 0)
    return `needs kernel >= ${req.min_version}, target is ${t.release}`;
  if (req.max_version && compareVersions(truncated(t.release, req.max_version), req.max_version) > 0)
    return `needs kernel <= ${req.max_version}, target is ${t.release}`;
  const missing = (req.config ?? []).filter((o) => !isEnabled(t.config, o));
  if (missing.length) return `kernel config lacks ${missing.join(', ')}`;
  const present = (req.without_config ?? []).filter((o) => isEnabled(t.config, o));
  if (present.length) return `kernel config has ${present.join(', ')}`;
  return undefined;
}

/** A GFP flag the target's kernel version does not have, as a reason to skip the step there. */
export function missingGfp(gfp: readonly string[], release: string): string | undefined {
  for (const name of gfp) {
    const f = GFP_FLAGS[name];
    if (f?.until && compareVersions(release, f.until) >= 0)
      return `needs ${name}, which kernels from ${f.until} on do not have (target is ${release})`;
    if (f?.since && compareVersions(release, f.since) < 0)
      return `needs ${name}, which kernels before ${f.since} do not have (target is ${release})`;
  }
  return undefined;
}

/** An API the target's kernel version does not have (API_VERSIONS), as a reason to skip the step there. */
export function missingApi(api: Api, release: string): string | undefined {
  const v = API_VERSIONS[api];
  if (v?.since && compareVersions(release, v.since) < 0)
    return `needs ${api}, which kernels before ${v.since} do not have (target is ${release})`;
  if (v?.until && compareVersions(release, v.until) >= 0)
    return `needs ${api}, which kernels from ${v.until} on do not have (target is ${release})`;
  return undefined;
}
