/**
 * The kernel's own allocator tests on real guests: test_vmalloc, slub_kunit,
 * test_meminit (init_on_alloc off on a VM booted for it, on — these kernels' default — on the shared one)
 * and test_free_pages on x86_64 6.1 and arm64 6.12; every case a result of its own; the
 * kernel's own KTAP parser (tools/testing/kunit/kunit.py) reads the same
 * captured kernel logs and agrees case by case; and a deliberate break in
 * SLUB (the fixture history's fixture-redzone-bad) is seen as a failing case,
 * with its EXPECTATION FAILED lines, and found again by a bisect on that case.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { readMeta } from '../../harness/cache/store.ts';
import { cacheRoot } from '../../harness/paths.ts';
import type { ResultRecord, StepRecord } from '../../harness/run/results.ts';
import { cli, ensureFixtureRepo, qemusUnder, results, shipped, steps, tempDir } from './helpers.ts';

const SCENARIOS = [
  'kernel-test-vmalloc',
  'kernel-test-slub',
  'kernel-test-meminit',
  'kernel-test-meminit-off',
  'kernel-test-free-pages',
].map(shipped);
/** Both arches and both versions, on kernels the rest of the suite builds anyway. */
const TARGETS = ['x86_64/6.1', 'arm64/6.12'];
const label = (t: { arch: string; kernel: string }) => `${t.arch}/${t.kernel}`;

/** The kernel source tree a target was built from (its cache entry says). */
async function sourceOf(records: ResultRecord[], target: string): Promise<string> {
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
 * case name → PASS / FAIL / SKIPPED.
 */
async function kunitParse(src: string, step: StepRecord, dir: string): Promise<Record<string, string>> {
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
  const suite = tree.sub_groups.find((g) => g.name === 'slub_test');
  return Object.fromEntries((suite?.test_cases ?? []).map((c) => [c.name, c.status]));
}

const KUNIT: Record<string, string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIPPED' };
const asKunit = (ours: Record<string, string>) => Object.fromEntries(Object.entries(ours).map(([k, v]) => [k, KUNIT[v]]));

describe("the kernel's own allocator tests", () => {
  const outs = Object.fromEntries(TARGETS.map((t) => [t, tempDir()]));
  let exitCodes: (number | undefined)[] = [];
  let output = '';
  let records: ResultRecord[] = [];
  let all: StepRecord[] = [];
  const of = (target: string, scenario: string) =>
    all.filter((s) => label(s.target) === target && s.scenario === `kernel-test-${scenario}`);
  const status = (ss: StepRecord[]) => Object.fromEntries(ss.filter((s) => s.kernelTest?.case).map((s) => [s.kernelTest!.case!, s.status]));

  beforeAll(async () => {
    // One run per target, side by side. test_vmalloc keeps both vCPUs busy and prints nothing
    // until it ends (25-30 s here): the silence watch's liveness ping must be answered by a guest that busy.
    const runs = await Promise.all(
      TARGETS.map((t) => {
        const [arch, kernel] = t.split('/') as [string, string];
        return cli(['run', ...SCENARIOS, '--arch', arch, '--kernel', kernel, '--reporter', 'default,ktap,junit,html', '--out', outs[t]!]);
      }),
    );
    exitCodes = runs.map((r) => r.exitCode);
    output = runs.map((r) => r.all ?? '').join('\n');
    records = TARGETS.flatMap((t) => results(outs[t]!));
    all = steps(records);
  });

  it('runs every case of every module on both arches and both versions, as results of their own', () => {
    expect(exitCodes, output).toEqual([0, 0]);
    for (const t of TARGETS) {
      const v612 = t.endsWith('6.12');
      const vm = of(t, 'vmalloc');
      expect(vm.find((s) => !s.kernelTest?.case)?.status, t).toBe('pass');
      expect(Object.keys(status(vm)), t).toHaveLength(v612 ? 11 : 10);
      expect(status(vm).align_shift_alloc_test, t).toBe('expected-fail');
      expect(
        Object.values(status(vm)).filter((x) => x === 'pass'),
        t,
      ).toHaveLength(v612 ? 10 : 9);
      // test_vmalloc's numbers: time per case, cycles per worker.
      const fit = vm.find((s) => s.kernelTest?.case === 'full_fit_alloc_test')!;
      expect(fit.facts.avg_usec as number).toBeGreaterThan(0);
      expect(fit.dmesg[0]).toMatch(/Summary: full_fit_alloc_test passed: 1 failed: 0 repeat: 1 loops: 1000 avg: \d+ usec/);
      expect(vm.find((s) => !s.kernelTest?.case)!.facts).toMatchObject({ workers: 2, completion: 'EAGAIN' });
      // The stack trace align_shift_alloc_test prints is known, and forgiven by name.
      expect(vm.find((s) => !s.kernelTest?.case)!.reason).toMatch(/1 kernel report\(s\) its expected failures are known to print/);

      const slub = status(of(t, 'slub'));
      expect(Object.keys(slub), t).toHaveLength(v612 ? 8 : 5);
      expect(
        Object.values(slub).every((x) => x === 'pass'),
        t,
      ).toBe(true);

      expect(status(of(t, 'meminit')), t).toEqual({
        test_pages: 'pass',
        test_kvmalloc: 'pass',
        test_kmemcache: 'pass',
        test_rcu_persistent: 'pass',
      });
      expect(status(of(t, 'meminit-off')), t).toEqual({
        test_pages: 'expected-fail',
        test_kvmalloc: 'expected-fail',
        test_kmemcache: 'expected-fail',
        test_rcu_persistent: 'pass',
      });
      expect(status(of(t, 'free-pages')), t).toEqual({ GFP_KERNEL: 'pass', 'GFP_KERNEL | __GFP_COMP': 'pass' });
    }
    expect(output).toMatch(/expected failures/);
  });

  it('boots init_on_alloc=0 on a VM of its own, init_on_alloc=1 (these kernels default) on the shared one, slow-guest thresholds on all', () => {
    for (const t of TARGETS) {
      const guests = records.flatMap((r) => (r.type === 'guest' && label(r.target) === t ? [r] : []));
      expect(guests.length, t).toBe(2);
      for (const g of guests) expect(g.cmdline).toMatch(/watchdog_thresh=60 rcupdate\.rcu_cpu_stall_timeout=300/);
      const bootOf = (scenario: string) => of(t, scenario)[0]!.boot;
      const cmdline = (boot: number | undefined) => guests.find((g) => g.boot === boot)!;
      expect(cmdline(bootOf('meminit-off'))).toMatchObject({ extraCmdline: ['init_on_alloc=0', 'init_on_free=0'] });
      // Debian's allocator options have INIT_ON_ALLOC_DEFAULT_ON=y: init_on_alloc=1 changes nothing, so no VM of its own.
      expect(bootOf('meminit')).toBe(bootOf('slub'));
      expect(bootOf('vmalloc')).toBe(bootOf('slub'));
      // The same command line: the same VM.
      expect(bootOf('free-pages')).toBe(bootOf('meminit-off'));
      expect(cmdline(bootOf('slub')).extraCmdline).toBeUndefined();
    }
  });

  it('shows each case in KTAP (expected failures as XFAIL), JUnit and HTML', () => {
    const out = outs['arm64/6.12']!;
    const ktap = readFileSync(join(out, 'report.ktap'), 'utf8');
    expect(ktap).toMatch(/ok \d+ test_vmalloc: align_shift_alloc_test # XFAIL expected to fail/);
    expect(ktap).toMatch(/ok \d+ slub_kunit: test_clobber_zone\n/);
    const junit = readFileSync(join(out, 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase classname="arm64\.6_12\.kernel-test-meminit-off" name="test_meminit: test_pages"/);
    expect(junit).toMatch(/Summary: pcpu_alloc_test passed: 1 failed: 0/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toMatch(/expected failures/);
    expect(html).toMatch(/Guests boot with watchdog_thresh=60 rcupdate\.rcu_cpu_stall_timeout=300: the soft-lockup/);
    expect(html).toMatch(/VMs booted with: init_on_alloc=0 init_on_free=0/);
  });

  it("agrees with the kernel's own KTAP parser, case by case, on the same kernel logs", async () => {
    for (const t of TARGETS) {
      const slub = of(t, 'slub');
      const theirs = await kunitParse(await sourceOf(records, t), slub.find((s) => !s.kernelTest?.case)!, outs[t]!);
      expect(theirs, t).toEqual(asKunit(status(slub)));
      expect(Object.keys(theirs).length, t).toBe(t.endsWith('6.12') ? 8 : 5);
    }
  });

  it('leaves no QEMU behind', async () => {
    for (const out of Object.values(outs)) expect(await qemusUnder(out)).toEqual([]);
  });
});

describe('a deliberate break in SLUB', () => {
  it('fails slub_kunit test_clobber_zone with its EXPECTATION FAILED lines, and a bisect on that case names the commit', async () => {
    const repo = await ensureFixtureRepo();
    const culprit = (await execa('git', ['-C', repo, 'rev-parse', 'fixture-redzone-bad'])).stdout.trim();
    const out = tempDir();
    const r = await cli([
      'run',
      shipped('kernel-test-slub'),
      '--arch',
      'x86_64',
      '--kernel',
      `git:${repo}@fixture-redzone-bad`,
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(1);
    const records = results(out);
    const cases = steps(records).filter((s) => s.kernelTest?.case);
    const zone = cases.find((s) => s.kernelTest!.case === 'test_clobber_zone')!;
    expect(zone.status).toBe('fail');
    expect(zone.dmesg.join('\n')).toMatch(/# test_clobber_zone: EXPECTATION FAILED at lib\/slub_kunit\.c:\d+/);
    // The right redzone is what both of these clobber; the other three cases do not touch it.
    expect(cases.filter((s) => s.status === 'fail').map((s) => s.kernelTest!.case)).toEqual([
      'test_clobber_zone',
      'test_clobber_redzone_free',
    ]);
    expect(cases.filter((s) => s.status === 'pass').map((s) => s.kernelTest!.case)).toEqual([
      'test_next_pointer',
      'test_first_word',
      'test_clobber_50th_byte',
    ]);
    expect(r.stdout).toMatch(
      /FAIL x86_64\/git:.*kernel-test-slub › slub_kunit: test_clobber_zone\n[\s\S]*EXPECTATION FAILED at lib\/slub_kunit\.c/,
    );
    // The kernel's own parser reads the failures the same way.
    const run = steps(records).find((s) => s.kernelTest && !s.kernelTest.case)!;
    expect(await kunitParse(await sourceOf(records, label(run.target)), run, out)).toEqual(
      asKunit(Object.fromEntries(cases.map((s) => [s.kernelTest!.case!, s.status]))),
    );

    const b = await cli([
      'bisect',
      '--repo',
      repo,
      '--good',
      'fixture-good',
      '--bad',
      'fixture-redzone-bad',
      '--scenario',
      shipped('kernel-test-slub'),
      '--step',
      'slub_kunit: test_clobber_zone',
      '--arch',
      'x86_64',
      '--out',
      tempDir(),
    ]);
    expect(b.exitCode, b.all).toBe(0);
    expect(b.stdout).toContain(`first bad: ${culprit} mm/slub: skip the right redzone check`);
    expect(b.stdout).toMatch(/EXPECTATION FAILED/);
    expect(await qemusUnder(out)).toEqual([]);
  });
});
