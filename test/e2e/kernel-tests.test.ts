/**
 * The kernel's own allocator tests on a real guest (x86_64 6.1 from Debian's
 * source, in shared run A): test_vmalloc, slub_kunit, test_meminit
 * (init_on_alloc off on a VM booted for it, on — this kernel's default — on
 * the shared one) and test_free_pages; every case a result of its own; the
 * kernel's own KTAP parser (kunit.py) reads the same captured kernel logs and
 * agrees case by case. arm64 6.12 (6.12's KTAP shape) and a kernel-test case
 * as a bisect's predicate: the nightly tier (test/full/).
 */
import { beforeAll, describe, expect, it } from 'vitest';
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
