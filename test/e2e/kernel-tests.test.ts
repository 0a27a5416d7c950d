/**
 * The kernel's own allocator tests on a real guest (x86_64 6.1 from Debian's
 * source, in shared run A): test_vmalloc, slub_kunit, test_meminit
 * (init_on_alloc off on a VM booted for it, on — this kernel's default — on
 * the shared one) and test_free_pages; every case a result of its own; the
 * kernel's own KTAP parser (kunit.py) reads the same captured kernel logs and
 * agrees case by case. arm64 6.12 (6.12's KTAP shape) and a kernel-test case
 * as a bisect's predicate: the nightly tier (test/full/).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, results, shipped, steps, tempDir } from './helpers.ts';
import { checkKernelTestReports, checkKernelTests, KERNEL_TEST_SCENARIOS } from './kernel-test-checks.ts';
import { type SharedRun, sharedRun } from './shared.ts';

describe("the kernel's own allocator tests on x86_64 6.1", () => {
  let a: SharedRun;
  beforeAll(async () => {
    a = await sharedRun('A');
  });

  it('runs every case of every module as a result of its own, on the VMs they need, and agrees with kunit.py', async () => {
    for (const sc of KERNEL_TEST_SCENARIOS) expect(a.steps.filter((s) => s.scenario === sc).length, sc).toBeGreaterThan(0);
    await checkKernelTests(a.records, 'x86_64/6.1', a.out, '6.1');
    expect(a.output).toMatch(/expected failures/);
  });

  it('shows each case in KTAP (expected failures as XFAIL), JUnit and HTML', () => {
    checkKernelTestReports(a.out, 'x86_64.6_1');
  });
});

describe('a kernel test run alone starts at boot', () => {
  it('loads slub_kunit from init before sshd, reads its KTAP from the console, and judges it as over ssh', async () => {
    const a = await sharedRun('A');
    const out = tempDir();
    const r = await cli(['run', shipped('kernel-test-slub'), '--kernel', '6.1', '--arch', 'x86_64', '--out', out]);
    expect(r.exitCode, r.all).toBe(0);
    const records = results(out);
    const guests = records.filter((x) => x.type === 'guest');
    expect(guests).toHaveLength(1);
    expect(guests[0]).toMatchObject({ atBoot: 1 });
    // No ssh: the console holds the constants init read, the marker, the script's output and its exit status.
    const console = readFileSync(join(out, 'x86_64-6.1', 'console-1.log'), 'utf8');
    expect(console).toMatch(/^KHARNESS-CONSTANTS status=ok /m);
    expect(console).toMatch(/^KHARNESS-READY .* at-boot$/m);
    expect(console).toMatch(/^KHARNESS-OUT 1 kharness-rc=0$/m);
    expect(console).toMatch(/^KHARNESS-SCRIPT-END 1 code=0$/m);
    const cases = (all: typeof records) =>
      steps(all)
        .filter((x) => x.scenario === 'kernel-test-slub')
        .map((x) => [x.name, x.status]);
    expect(cases(records).length).toBeGreaterThan(1);
    expect(cases(records)).toEqual(cases(a.records));
  });
});
