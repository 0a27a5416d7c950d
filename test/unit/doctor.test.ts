/**
 * `kharness doctor`'s table of host tools against what really runs them: every
 * tool a test or bench script starts is in the table, and every package the
 * table names is one ./setup.sh installs (TEST-AUDIT §3.4: python3, procps and
 * iproute2 were used and installed by nobody).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARCHES } from '../../harness/arch/arches.ts';
import { HOST_TOOLS } from '../../harness/cli/doctor.ts';
import { PROJECT_ROOT } from '../../harness/paths.ts';

/** Node.js itself (setup.sh checks its version) and Essential packages every Debian system has (bash, coreutils). */
const ALWAYS_THERE = ['node', 'npm', 'npx', 'bash', 'cp', 'sleep'];
/** Priority "required": on every Debian system, so setup.sh need not install them. */
const REQUIRED_PACKAGES = ['apt', 'dpkg', 'tar'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (f === 'node_modules') return [];
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|sh)$/.test(f) ? [p] : [];
  });
}

/** The packages in setup.sh's PKGS=( ... ) list, comments dropped. */
function setupPackages(): string[] {
  const src = readFileSync(join(PROJECT_ROOT, 'setup.sh'), 'utf8');
  const list = /^PKGS=\(\n([\s\S]*?)^\)/m.exec(src)?.[1];
  if (!list) throw new Error('setup.sh has no PKGS=( ... ) list');
  return list.split('\n').flatMap((l) => l.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean));
}

describe('kharness doctor', () => {
  const tools = new Set(HOST_TOOLS.map(([tool]) => tool));

  it('names every tool the tests and bench scripts start, with the package that provides it', () => {
    const files = ['test', 'bench'].flatMap((d) => sources(join(PROJECT_ROOT, d)));
    const started = new Set(
      files.flatMap((f) => {
        const src = readFileSync(f, 'utf8');
        return [
          ...[...src.matchAll(/\bexeca(?:Sync)?\(\s*['"]([^'"\s]+)['"]/g)].map((m) => m[1]!),
          // A browser launched by its path (playwright's executablePath).
          ...[...src.matchAll(/executablePath:\s*['"]\/usr\/bin\/([^'"]+)['"]/g)].map((m) => m[1]!),
          // A shell script's interpreter for an inline program (make-kernel-history.sh: python3 - <<'PY').
          ...(f.endsWith('.sh') ? [...src.matchAll(/^\s*(python3)\b/gm)].map((m) => m[1]!) : []),
        ];
      }),
    );
    // The scan must see the tools audit §3.4 found, or it proves nothing.
    expect([...started]).toEqual(expect.arrayContaining(['pgrep', 'pkill', 'ss', 'python3', 'xmllint', 'chromium']));
    expect([...started].filter((t) => !tools.has(t) && !ALWAYS_THERE.includes(t)).sort()).toEqual([]);
  });

  it('sends the user to packages ./setup.sh installs', () => {
    const installed = setupPackages();
    expect(installed).toEqual(expect.arrayContaining(['python3', 'libxml2-utils', 'chromium', 'procps', 'iproute2']));
    const named = [...HOST_TOOLS.map(([, pkg]) => pkg), ...Object.values(ARCHES).map((a) => a.qemu.package)];
    expect(named.filter((p) => !installed.includes(p) && !REQUIRED_PACKAGES.includes(p))).toEqual([]);
  });
});
