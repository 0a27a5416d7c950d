/**
 * Allocation fault injection on real kernels: x86_64 6.1-debug and arm64
 * 6.12-debug, which the catalog builds with fault-injection.config
 * (`kharness run` builds one that is not cached, 11-50 min): a step's slab,
 * page and vmalloc-path injections, each proven by reading fail-nth back;
 * check-module's sweep over the leak-on-error-path example's load names
 * leaking indexes, all in its setup after the vmalloc, and passes its fixed
 * twin; on arm64 6.12-debug the same over an exercise (one write of its poke
 * parameter); on both, a sweep past an index that oopses the kernel (the next
 * index on a fresh machine, about 20 s each); a Debian prebuilt kernel (no fault injection) checks nothing
 * and says so, exit 2, without booting. About 3 min warm on x86_64
 * (2026-12-07: the load sweeps 69 s and 61 s, about 0.3 s per index, ~195
 * indexes each, most in the kernel's module loader) and 10 min on arm64
 * beside a kernel build (the two load sweeps 553 s, about 270 indexes each,
 * kmemleak's own records counting too; the exercise sweeps 59 s for both).
 */
import { describe, expect, it } from 'vitest';
import { cli, results, steps, tempDir } from '../e2e/helpers.ts';

const TARGET = ['--arch', 'x86_64', '--kernel', '6.1-debug'];

/** `check-module --inject-sweep` of an example on a target: its exit, its output, and the one record per index. */
async function sweep(target: readonly string[], example: string, extra: readonly string[] = [], timeoutMs = 60 * 60_000) {
  const out = tempDir();
  const r = await cli(['check-module', `modules/examples/${example}`, '--inject-sweep', ...extra, ...target, '--out', out], { timeoutMs });
  return { code: r.exitCode, all: r.all, rows: steps(results(out)).filter((s) => /: #\d+$/.test(s.name)) };
}

/**
 * The missing-alloc-check example swept over one write of its poke: the
 * index that fails its unchecked kmalloc oopses the kernel; that index is a
 * finding, and the sweep goes on, the next index on a freshly booted machine,
 * to the end (about 20 s on either arch, two boots).
 */
async function sweepPastADeath(target: readonly string[]) {
  const r = await sweep(target, 'missing-alloc-check', ['--exec', 'echo 1 > /sys/module/kh_nocheck/parameters/poke'], 30 * 60_000);
  expect(r.code, r.all).toBe(1);
  const rows = r.rows;
  expect(rows.map((s) => s.facts?.nth)).toEqual(rows.map((_, i) => i + 1));
  const dead = rows.filter((s) => /an oops killed the write/.test(s.reason ?? ''));
  expect(dead.length, rows.map((s) => s.reason).join('\n')).toBe(1);
  expect(dead[0]!.status).toBe('fail');
  expect(dead[0]!.reason).toMatch(/report: .*Oops.*, the machine is not used again$/);
  const at = rows.indexOf(dead[0]!);
  // Before the death on the first machine, after it on another, to the index the write survives.
  expect(rows.slice(0, at + 1).every((s) => s.boot === rows[0]!.boot)).toBe(true);
  expect(rows.slice(at + 1).length).toBeGreaterThan(0);
  expect(rows.slice(at + 1).every((s) => (s.boot ?? 0) > (rows[0]!.boot ?? 0))).toBe(true);
  expect(rows.at(-1)?.reason).toMatch(/no allocation failed \(the operation made fewer\): wrote 2 bytes$/);
  expect(r.all).toMatch(/1 left a leak, a report or a dead kernel; 1 killed it/);
}

describe('fault injection on x86_64 6.1-debug', () => {
  it("fails a step's first slab or page allocation on purpose, for the probe's task only, and proves each by readback", async () => {
    const out = tempDir();
    const r = await cli(['run', 'scenarios/gfp-atomic-injected.yaml', ...TARGET, '--out', out], { timeoutMs: 60 * 60_000 });
    expect(r.exitCode, r.all).toBe(0);
    const injected = steps(results(out)).filter((s) => s.facts?.injected === true);
    expect(injected.map((s) => s.facts?.inject_kind)).toEqual(['slab', 'slab', 'page', 'page', 'slab', 'page']);
    // Every injection reported with a stack names the probe as the caller.
    for (const s of injected.filter((x) => x.facts?.inject_site))
      expect(s.facts?.inject_site).toMatch(/^kp_do_alloc\+0x[0-9a-f]+ \[kalloc_probe\]$/);
  });

  it("sweeps the leaky example's load (exit 1, leaks named in its setup) and passes its fixed twin (exit 0)", async () => {
    const leaky = await sweep(TARGET, 'leak-on-error-path', [], 30 * 60_000);
    expect(leaky.code, leaky.all).toBe(1);
    const leaking = leaky.rows.filter((s) => s.status === 'fail');
    expect(leaking.length).toBeGreaterThan(0);
    for (const s of leaking)
      expect(s.reason).toMatch(
        /^#\d+ (vmalloc|kmalloc) in kh_errleak_setup\+0x[0-9a-f]+ \[kh_errleak\]: load returned -ENOMEM, 1 object \(64 B\) leaked/,
      );
    // The sweep ended where the load made fewer allocations than N.
    expect(leaky.rows.at(-1)?.reason).toMatch(/no allocation failed \(the operation made fewer\): loaded$/);
    const fixed = await sweep(TARGET, 'leak-on-error-path-fixed', [], 30 * 60_000);
    expect(fixed.code, fixed.all).toBe(0);
    expect(fixed.rows.filter((s) => s.status !== 'pass')).toEqual([]);
  });

  it('goes on past an index that oopses the kernel, the next index on a fresh machine', async () => {
    await sweepPastADeath(TARGET);
  });

  it('on a kernel without fault injection the sweep is skipped before boot, and the check says it checked nothing', async () => {
    const r = await cli([
      'check-module',
      'modules/examples/leak-on-error-path',
      '--inject-sweep',
      '--arch',
      'x86_64',
      '--kernel',
      'debian:6.12-cloud',
      '--out',
      tempDir(),
    ]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.all).toMatch(/not checked on x86_64\/debian:6.12-cloud: fault injection \(any\) needs CONFIG_FAULT_INJECTION/);
    expect(r.all).not.toMatch(/booting/);
  });
});

describe('fault injection on arm64 6.12-debug', () => {
  const ARM = ['--arch', 'arm64', '--kernel', '6.12-debug'];

  it("proves the step's slab, page and vmalloc-path injections through 6.12's allocator on arm64", async () => {
    const out = tempDir();
    const r = await cli(['run', 'scenarios/gfp-atomic-injected.yaml', ...ARM, '--out', out], { timeoutMs: 60 * 60_000 });
    expect(r.exitCode, r.all).toBe(0);
    const injected = steps(results(out)).filter((s) => s.facts?.injected === true);
    expect(injected.map((s) => s.facts?.inject_kind)).toEqual(['slab', 'slab', 'page', 'page', 'slab', 'page']);
  });

  it("sweeps the leaky example's load with leaked frames named after the module is gone, and passes the fixed twin", async () => {
    const leaky = await sweep(ARM, 'leak-on-error-path');
    expect(leaky.code, leaky.all).toBe(1);
    const leaking = leaky.rows.filter((s) => s.status === 'fail');
    expect(leaking.length).toBeGreaterThan(0);
    // Each leaking index failed an allocation of the setup's at or after the vmalloc; kmemleak (its frame named from a
    // successful load's symbols) or the allocation profiler's own report at the failed load's unload says what stayed.
    for (const s of leaking) {
      expect(s.reason).toMatch(/^#\d+ (vmalloc|kmalloc) in kh_errleak_setup\+0x[0-9a-f]+ \[kh_errleak\]: load returned -ENOMEM, /);
      const named =
        /1 object \(64 B\) leaked from 0x[0-9a-f]+ = kh_errleak_setup\+0x[0-9a-f]+ \[kh_errleak\] \(named at the address a successful load/;
      const profiled = /func:kh_errleak_setup has \d+ allocated at module unload/;
      expect(named.test(s.reason ?? '') || profiled.test(s.reason ?? ''), s.reason).toBe(true);
    }
    expect(leaking.some((s) => /leaked from 0x[0-9a-f]+ = kh_errleak_setup/.test(s.reason ?? ''))).toBe(true);
    const fixed = await sweep(ARM, 'leak-on-error-path-fixed');
    expect(fixed.code, fixed.all).toBe(0);
    expect(fixed.rows.filter((s) => s.status !== 'pass')).toEqual([]);
  });

  it('sweeps one write of the loaded module (--exec): the leaking indexes in its setup, the fixed twin clean', async () => {
    const leaky = await sweep(ARM, 'leak-on-error-path', ['--exec', 'echo 1 > /sys/module/kh_errleak/parameters/poke']);
    expect(leaky.code, leaky.all).toBe(1);
    const leaking = leaky.rows.filter((s) => s.status === 'fail');
    expect(leaking.length).toBeGreaterThan(0);
    for (const s of leaking)
      expect(s.reason).toMatch(
        /^#\d+ (vmalloc|kmalloc) in kh_errleak_setup\+0x[0-9a-f]+ \[kh_errleak\]: write returned -ENOMEM, 1 object \(64 B\) leaked from kh_errleak_setup\+/,
      );
    // The first index fails the sysfs write's own buffer, before the module's code runs.
    expect(leaky.rows[0]?.reason).toMatch(/^#1 kmalloc in kernfs_fop_write_iter\+0x[0-9a-f]+: write returned -ENOMEM$/);
    expect(leaky.rows.at(-1)?.reason).toMatch(/no allocation failed \(the operation made fewer\): wrote 2 bytes$/);
    const fixed = await sweep(ARM, 'leak-on-error-path-fixed', ['--exec', 'echo 1 > /sys/module/kh_errleak_fixed/parameters/poke']);
    expect(fixed.code, fixed.all).toBe(0);
  });

  it('goes on past an index that oopses the kernel, the next index on a fresh machine', async () => {
    await sweepPastADeath(ARM);
  });
});
