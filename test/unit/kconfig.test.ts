import { describe, expect, it } from 'vitest';
import {
  evalExpr,
  explainUnmet,
  inScope,
  kconfigEntries,
  kconfigSelectors,
  parseConfig,
  parseFragment,
  renderFragment,
  takeOptions,
} from '../../harness/analysis/kconfig.ts';
import { compareVersions, makefileVersion } from '../../harness/analysis/version.ts';

// mm/Kconfig.debug and mm/Kconfig of Debian's linux-source-6.12 (6.12.117), excerpts.
const KCONFIG_DEBUG = `config SLUB_DEBUG
\tdefault y
\tbool "Enable SLUB debugging support" if EXPERT
\tdepends on SYSFS && !SLUB_TINY
\tselect STACKDEPOT if STACKTRACE_SUPPORT
\thelp
\t  SLUB has extensive debug support features.

config SLUB_DEBUG_ON
\tbool "SLUB debugging on by default"
\tdepends on SLUB_DEBUG
`;
const ARCH_X86 = `config SCHED_MC_PRIO
\tbool "CPU core priorities scheduler support"
\tdepends on SCHED_MC && CPU_SUP_INTEL
\tselect X86_INTEL_PSTATE if CPU_SUP_INTEL
\tselect CPU_FREQ
\tdefault y
`;

describe('config fragments with scopes', () => {
  it('reads `# kharness:` lines as the scope of the option below them', () => {
    const { options, problems } = parseFragment(
      [
        '# SLUB_TINY is 6.2+',
        '# kharness: since=6.2 -- SLUB_TINY appeared in 6.2',
        '# CONFIG_SLUB_TINY is not set',
        '# kharness: until=6.2 arch=arm64',
        'CONFIG_RANDOM_TRUST_CPU=y',
        '# kharness: optional',
        'CONFIG_KFENCE=y',
        'CONFIG_SLUB_DEBUG=y',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(options).toEqual([
      { name: 'CONFIG_SLUB_TINY', value: 'n', line: 3, since: '6.2' },
      { name: 'CONFIG_RANDOM_TRUST_CPU', value: 'y', line: 5, until: '6.2', arches: ['arm64'] },
      { name: 'CONFIG_KFENCE', value: 'y', line: 7, optional: true },
      { name: 'CONFIG_SLUB_DEBUG', value: 'y', line: 8 },
    ]);
    const [tiny, trust] = options;
    expect(inScope(tiny!, 'x86_64', '6.1.192', compareVersions)).toBe(false);
    expect(inScope(tiny!, 'x86_64', '6.12.117', compareVersions)).toBe(true);
    expect(inScope(trust!, 'arm64', '6.1.192', compareVersions)).toBe(true);
    expect(inScope(trust!, 'arm64', '6.12.117', compareVersions)).toBe(false);
    expect(inScope(trust!, 'x86_64', '6.1.192', compareVersions)).toBe(false);
    expect(renderFragment(options)).toBe(
      '# CONFIG_SLUB_TINY is not set\nCONFIG_RANDOM_TRUST_CPU=y\nCONFIG_KFENCE=y\nCONFIG_SLUB_DEBUG=y\n',
    );
  });

  it('refuses a malformed directive with its line, never ignores it', () => {
    expect(parseFragment('# kharness: optinal\nCONFIG_X=y').problems).toEqual([
      { line: 1, reason: 'unknown directive "optinal" (known: optional, arch, since, until)' },
    ]);
    expect(parseFragment('# kharness: since=six\nCONFIG_X=y').problems[0]!.reason).toMatch(/not a kernel version/);
    expect(parseFragment('# kharness: arch\nCONFIG_X=y').problems[0]!.reason).toMatch(/needs a value/);
    expect(parseFragment('# kharness: optional\n\nfoo\nCONFIG_X=y').problems[0]!.reason).toMatch(/right before a CONFIG_ option/);
    expect(parseFragment('CONFIG_X=y\n# kharness: optional\n').problems[0]!.line).toBe(2);
  });

  it("takes a distribution's values for a list of options, leaving out what its config lacks", () => {
    const debian = parseConfig('CONFIG_SLUB=y\n# CONFIG_SLUB_TINY is not set\nCONFIG_KFENCE_SAMPLE_INTERVAL=0\n');
    expect(
      takeOptions(debian, [
        { name: 'SLUB' },
        { name: 'SLAB_BUCKETS' },
        { name: 'SLUB_TINY' },
        { name: 'KFENCE_SAMPLE_INTERVAL', optional: 'x' },
      ]),
    ).toEqual([
      { name: 'CONFIG_SLUB', value: 'y', line: 1 },
      { name: 'CONFIG_SLUB_TINY', value: 'n', line: 3 },
      { name: 'CONFIG_KFENCE_SAMPLE_INTERVAL', value: '0', line: 4, optional: true },
    ]);
  });
});

describe('why Kconfig did not give an option', () => {
  const tiny = parseConfig('CONFIG_SLUB_TINY=y\nCONFIG_SYSFS=y\nCONFIG_SCHED_MC_PRIO=y\nCONFIG_CPU_FREQ=y\n');

  it('names the dependency that blocked it, with the values it saw', () => {
    const entries = kconfigEntries('mm/Kconfig.debug', KCONFIG_DEBUG, 'SLUB_DEBUG');
    expect(entries).toEqual([{ file: 'mm/Kconfig.debug', line: 1, depends: ['SYSFS && !SLUB_TINY'] }]);
    expect(explainUnmet('CONFIG_SLUB_DEBUG', entries, [], tiny)).toBe(
      'blocked by "depends on SYSFS && !SLUB_TINY" (SYSFS=y, SLUB_TINY=y) at mm/Kconfig.debug:1',
    );
  });

  it('names the option that selects one asked to be off', () => {
    expect(kconfigSelectors(ARCH_X86, 'CPU_FREQ')).toEqual(['SCHED_MC_PRIO']);
    expect(explainUnmet('CONFIG_CPU_FREQ', [{ file: 'drivers/cpufreq/Kconfig', line: 3, depends: [] }], ['SCHED_MC_PRIO'], tiny)).toBe(
      'selected by SCHED_MC_PRIO',
    );
  });

  it('says when the kernel has no such option', () => {
    expect(explainUnmet('CONFIG_RANDOM_TRUST_CPU', [], [], tiny)).toBe('this kernel has no option RANDOM_TRUST_CPU');
  });

  it('evaluates depends-on expressions', () => {
    const c = parseConfig('CONFIG_A=y\nCONFIG_B=m\nCONFIG_ARCH="arm64"\n');
    expect(evalExpr('A && B', c)).toBe(true);
    expect(evalExpr('A && !B', c)).toBe(false);
    expect(evalExpr('C || (A && !C)', c)).toBe(true);
    expect(evalExpr('B = m', c)).toBe(true);
    expect(evalExpr('B != y', c)).toBe(true);
    expect(evalExpr('!(A || C)', c)).toBe(false);
  });

  it("reads a tree's version from its Makefile", () => {
    expect(makefileVersion('# SPDX\nVERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 117\nEXTRAVERSION =\n')).toBe('6.12.117');
    expect(makefileVersion('nothing')).toBeUndefined();
  });
});
