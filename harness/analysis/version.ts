/** Kernel version strings ("6.1.192", "6.12", "6.12.117+deb12-cloud-amd64"): compared by their first three numbers. Pure. */

function versionTuple(v: string): number[] {
  return (/^(\d+)\.(\d+)(?:\.(\d+))?/.exec(v)?.slice(1) ?? []).map((x) => Number(x ?? 0));
}

/** Negative, zero or positive as a is older than, the same as or newer than b (missing parts count as 0). */
export function compareVersions(a: string, b: string): number {
  const x = versionTuple(a);
  const y = versionTuple(b);
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** The version of a kernel tree from its top-level Makefile's VERSION, PATCHLEVEL and SUBLEVEL lines. */
export function makefileVersion(makefile: string): string | undefined {
  const get = (k: string) => new RegExp(`^${k}\\s*=\\s*(\\d+)\\s*$`, 'm').exec(makefile)?.[1];
  const [v, p, s] = [get('VERSION'), get('PATCHLEVEL'), get('SUBLEVEL')];
  return v && p ? `${v}.${p}.${s ?? 0}` : undefined;
}
