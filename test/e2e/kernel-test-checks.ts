/**
 * What a run of the kernel's own allocator tests must show on any target,
 * shared by the e2e tier (x86_64 6.1, in shared run A) and the nightly tier
 * (arm64 6.12 from source): every case a result of its own, the VMs they
 * need, the reports, and agreement with the kernel's own KTAP parser
 * (tools/testing/kunit/kunit.py) on the same captured kernel logs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect } from 'vitest';
import { readMeta } from '../../harness/cache/store.ts';
import { cacheRoot } from '../../harness/paths.ts';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { shipped, steps } from './helpers.ts';

export const KERNEL_TEST_SCENARIOS = [
  'kernel-test-vmalloc',
  'kernel-test-slub',
  'kernel-test-meminit',
  'kernel-test-meminit-off',
  'kernel-test-free-pages',
];
export const KERNEL_TEST_FILES = KERNEL_TEST_SCENARIOS.map(shipped);

/** What differs between the series, as data: case counts per module. */
const SHAPE: Record<string, { vmallocCases: number; slubCases: number }> = {
  '6.1': { vmallocCases: 10, slubCases: 5 },
  '6.12': { vmallocCases: 11, slubCases: 8 },
};

export const label = (t: { arch: string; kernel: string }) => `${t.arch}/${t.kernel}`;

/** The kernel source tree a target was built from (its cache entry says). */
export async function sourceOf(records: ResultRecord[], target: string): Promise<string> {
  const phase = records.find((r) => r.type === 'target-phase' && r.phase === 'kernel' && label(r.target) === target);
  const key = phase?.type === 'target-phase' ? String(phase.detail?.key) : '';
  const meta = await readMeta<{ srcDir: string }>(join(cacheRoot(), 'kernels', key), cacheRoot());
  if (!meta) throw new Error(`no cache entry ${key} for ${target}`);
  return meta.srcDir;
}

/**
 * kunit.py parse --json over the kernel log kharness read for the module's
 * load (the step's section: the whole boot log starts with KUnit's empty
 * boot-time run, "KTAP version 1 / 1..0", which is all kunit.py would read):
 * case name → PASS / FAIL / SKIP (kunit_json.py's names).
 */
export async function kunitParse(src: string, step: StepRecord, dir: string, suiteName = 'slub_test'): Promise<Record<string, string>> {
  const logFile = join(dir, `kunit-${step.target.arch}-${step.boot}-${Date.now()}.log`);
  writeFileSync(logFile, `${step.dmesg.join('\n')}\n`);
  const jsonFile = `${logFile}.json`;
  // kunit.py exits 1 when a test failed: that is a verdict, not a broken parse.
  const r = await execa('python3', [join(src, 'tools', 'testing', 'kunit', 'kunit.py'), 'parse', `--json=${jsonFile}`, logFile], {
    reject: false,
  });
  if (r.exitCode !== 0 && r.exitCode !== 1) throw new Error(`kunit.py parse failed (${r.exitCode}): ${r.stderr}`);
  const tree = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
    sub_groups: { name: string; test_cases: { name: string; status: string }[] }[];
  };
  const suite = tree.sub_groups.find((g) => g.name === suiteName);
  return Object.fromEntries((suite?.test_cases ?? []).map((c) => [c.name, c.status]));
}

const KUNIT: Record<string, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' };
export const asKunit = (ours: Record<string, string>) => Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, KUNIT[v]]));

/** case → status, of the steps that are one case each. */
export const caseStatus = (ss: StepRecord[]) =>
  Object.fromEntries(ss.filter((s) => s.kernelTest?.case).map((s) => [s.kernelTest!.case!, s.status]));

/** The checks, for one target of a run that took the five kernel-test scenarios. */
export async function checkKernelTests(records: ResultRecord[], target: string, out: string, series: '6.1' | '6.12'): Promise<void> {
  const shape = SHAPE[series]!;
  const all = steps(records).filter((s) => label(s.target) === target);
  const of = (scenario: string) => all.filter((s) => s.scenario === `kernel-test-${scenario}`);

  // Every case of every module, as results of their own.
  const vm = of('vmalloc');
  const whole = vm.find((s) => !s.kernelTest?.case)!;
  expect(whole?.status, target).toBe('pass');
  expect(Object.keys(caseStatus(vm)), target).toHaveLength(shape.vmallocCases);
  expect(caseStatus(vm).align_shift_alloc_test, target).toBe('expected-fail');
  expect(
    Object.values(caseStatus(vm)).filter((x) => x === 'pass'),
    target,
  ).toHaveLength(shape.vmallocCases - 1);
  // test_vmalloc's numbers: time per case, cycles per worker.
  const fit = vm.find((s) => s.kernelTest?.case === 'full_fit_alloc_test')!;
  expect(fit.facts.avg_usec as number).toBeGreaterThan(0);
  expect(fit.dmesg[0]).toMatch(/Summary: full_fit_alloc_test passed: 1 failed: 0 repeat: 1 loops: 1000 avg: \d+ usec/);
  expect(whole.facts).toMatchObject({ workers: 2, completion: 'EAGAIN' });
  // The stack trace align_shift_alloc_test prints (warn_alloc's) is known, and forgiven by name. warn_alloc is
  // rate-limited: in a run of every scenario on one VM (after other steps' allocation failures) 6.1 printed only
  // its "vmap allocation for size 8192 failed" lines, no stack trace. Either way nothing else was reported.
  expect(whole.splats.length).toBeLessThanOrEqual(1);
  expect(whole.reason, JSON.stringify(whole.splats)).toEqual(
    whole.splats.length ? expect.stringMatching(/1 kernel report\(s\) its expected failures are known to print/) : undefined,
  );

  const slub = caseStatus(of('slub'));
  expect(Object.keys(slub), target).toHaveLength(shape.slubCases);
  expect(Object.values(slub), target).toEqual(Array(shape.slubCases).fill('pass'));
  expect(caseStatus(of('meminit')), target).toEqual({
    test_pages: 'pass',
    test_kvmalloc: 'pass',
    test_kmemcache: 'pass',
    test_rcu_persistent: 'pass',
  });
  expect(caseStatus(of('meminit-off')), target).toEqual({
    test_pages: 'expected-fail',
    test_kvmalloc: 'expected-fail',
    test_kmemcache: 'expected-fail',
    test_rcu_persistent: 'pass',
  });
  expect(caseStatus(of('free-pages')), target).toEqual({ GFP_KERNEL: 'pass', 'GFP_KERNEL | __GFP_COMP': 'pass' });

  // init_on_alloc=0 on a VM of its own, init_on_alloc=1 (these kernels' default) on the shared one,
  // slow-guest thresholds on all.
  const guests = records.flatMap((r) => (r.type === 'guest' && label(r.target) === target ? [r] : []));
  for (const g of guests) expect(g.cmdline).toMatch(/watchdog_thresh=60 rcupdate\.rcu_cpu_stall_timeout=300/);
  const bootOf = (scenario: string) => of(scenario)[0]!.boot;
  const guestOf = (boot: number | undefined) => guests.find((g) => g.boot === boot)!;
  expect(guestOf(bootOf('meminit-off'))).toMatchObject({ extraCmdline: ['init_on_alloc=0', 'init_on_free=0'] });
  // Debian's allocator options have INIT_ON_ALLOC_DEFAULT_ON=y: init_on_alloc=1 changes nothing, so no VM of its own.
  expect(bootOf('meminit')).toBe(bootOf('slub'));
  expect(bootOf('vmalloc')).toBe(bootOf('slub'));
  // The same command line: the same VM.
  expect(bootOf('free-pages')).toBe(bootOf('meminit-off'));
  expect(guestOf(bootOf('slub')).extraCmdline).toBeUndefined();

  // The kernel's own KTAP parser reads the same log the same way, case by case.
  const slubSteps = of('slub');
  const theirs = await kunitParse(await sourceOf(records, target), slubSteps.find((s) => !s.kernelTest?.case)!, out);
  expect(theirs, target).toEqual(asKunit(caseStatus(slubSteps)));
  expect(Object.keys(theirs).length, target).toBe(shape.slubCases);
}

/** Each case in KTAP (expected failures as XFAIL), JUnit and HTML, in a run's out dir. */
export function checkKernelTestReports(out: string, classPrefix: string): void {
  const ktap = readFileSync(join(out, 'report.ktap'), 'utf8');
  expect(ktap).toMatch(/ok \d+ test_vmalloc: align_shift_alloc_test # XFAIL expected to fail/);
  expect(ktap).toMatch(/ok \d+ slub_kunit: test_clobber_zone\n/);
  const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
  expect(junit).toContain(`<testcase classname="${classPrefix}.kernel-test-meminit-off" name="test_meminit: test_pages"`);
  expect(junit).toMatch(/Summary: pcpu_alloc_test passed: 1 failed: 0/);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  expect(html).toMatch(/expected failures/);
  expect(html).toMatch(/Guests boot with watchdog_thresh=60 rcupdate\.rcu_cpu_stall_timeout=300: the soft-lockup/);
  expect(html).toMatch(/VMs booted with: init_on_alloc=0 init_on_free=0/);
}
