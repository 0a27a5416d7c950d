/**
 * kmemleak's two report formats, a leak's fingerprint, frames named from a
 * module's symbols after its unload, and the lines that say kmemleak stopped
 * working. The 6.1 and 6.12 texts follow print_unreferenced() of each tree
 * (mm/kmemleak.c: 6.1.192 prints "backtrace:" and "[<hashed>] sym+off/len",
 * 6.12.118 "backtrace (crc N):" and bare "sym+off/len").
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fingerprint, kmemleakBroken, moduleSymbols, parseKmemleak, resolveFrames } from '../../harness/analysis/kmemleak.ts';
import { allocatedByAnother } from '../../harness/run/steps/module.ts';

const V61 = `unreferenced object 0xffff888003a4c000 (size 128):
  comm "insmod", pid 91, jiffies 4294893212 (age 8.260s)
  hex dump (first 32 bytes):
    5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a  ZZZZZZZZZZZZZZZZ
    5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a  ZZZZZZZZZZZZZZZZ
  backtrace:
    [<000000004f8a1b4c>] kmalloc_trace+0x26/0x90
    [<00000000d2d1f1a0>] kh_leak_alloc+0x2a/0x80 [kh_leak]
    [<00000000c0ffee00>] do_one_initcall+0x41/0x200
    [<0000000012345678>] do_init_module+0x4c/0x240
unreferenced object 0xffff888003a4c080 (size 128):
  comm "insmod", pid 91, jiffies 4294893212 (age 8.260s)
  hex dump (first 32 bytes):
    5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a  ZZZZZZZZZZZZZZZZ
  backtrace:
    [<000000004f8a1b4c>] kmalloc_trace+0x26/0x90
    [<00000000d2d1f1a0>] kh_leak_alloc+0x2a/0x80 [kh_leak]
`;

const V612 = `unreferenced object 0xffff0000c2a4d200 (size 128):
  comm "insmod", pid 102, jiffies 4294898000
  hex dump (first 32 bytes):
    5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a 5a  ZZZZZZZZZZZZZZZZ
  backtrace (crc 1a2b3c4d):
    __kmalloc_cache_noprof+0x230/0x2c0
    0xffff80007a0f1038
    0xffff80007a0f10c4
    do_one_initcall+0x60/0x290
`;

describe('kmemleak reports', () => {
  it('reads the 6.1 format: size, comm, frames without the hashed pointer', () => {
    const leaks = parseKmemleak(V61);
    expect(leaks.map((l) => [l.address, l.size, l.comm, l.pid])).toEqual([
      ['0xffff888003a4c000', 128, 'insmod', 91],
      ['0xffff888003a4c080', 128, 'insmod', 91],
    ]);
    expect(leaks[0]!.frames.map((f) => [f.func, f.module])).toEqual([
      ['kmalloc_trace', undefined],
      ['kh_leak_alloc', 'kh_leak'],
      ['do_one_initcall', undefined],
      ['do_init_module', undefined],
    ]);
    expect(leaks[0]!.lines).toHaveLength(10);
  });

  it('reads the 6.12 format, bare addresses of code that is gone included', () => {
    const [leak] = parseKmemleak(V612);
    expect(leak!.size).toBe(128);
    expect(leak!.frames.map((f) => f.func ?? f.addr?.toString(16))).toEqual([
      '__kmalloc_cache_noprof',
      'ffff80007a0f1038',
      'ffff80007a0f10c4',
      'do_one_initcall',
    ]);
  });

  it('reads reports with kernel-log timestamps (kmemleak.verbose=1 on the console)', () => {
    const stamped = V612.split('\n').map((l) => (l ? `[   12.345678] ${l}` : l));
    expect(parseKmemleak(stamped).map((l) => l.frames.length)).toEqual([4]);
  });

  it('names bare frames from the module symbols read while it was loaded', () => {
    const syms = moduleSymbols(
      [
        'ffff80007a0f1000 t kh_leak_alloc\t[kh_leak]',
        'ffff80007a0f10a0 t kh_leak_init\t[kh_leak]',
        'ffff80007a0f2000 t other\t[other]',
      ].join('\n'),
      'kh_leak',
    );
    const named = resolveFrames(parseKmemleak(V612)[0]!, 'kh_leak', syms);
    expect(named.frames.map((f) => [f.func, f.module])).toEqual([
      ['__kmalloc_cache_noprof', undefined],
      ['kh_leak_alloc', 'kh_leak'],
      ['kh_leak_init', 'kh_leak'],
      ['do_one_initcall', undefined],
    ]);
    expect(named.frames[1]!.text).toBe('0xffff80007a0f1038 = kh_leak_alloc+0x38 [kh_leak] (unloaded)');
  });

  it('fingerprints a leak by the frames below the allocator, the same on 6.1 and 6.12', () => {
    const a = parseKmemleak(V61)[1]!;
    const syms = moduleSymbols('ffff80007a0f1000 t kh_leak_alloc [kh_leak]\nffff80007a0f10a0 t kh_leak_init [kh_leak]', 'kh_leak');
    const b = resolveFrames(parseKmemleak(V612)[0]!, 'kh_leak', syms);
    expect(fingerprint(a)).toBe('[kh_leak] kh_leak_alloc');
    expect(fingerprint(b)).toBe('[kh_leak] kh_leak_alloc < kh_leak_init < do_one_initcall');
  });

  it('finds the lines that make kmemleak silent: an infrastructure error, not a pass', () => {
    expect(kmemleakBroken(['[    0.1] kmemleak: Memory pool empty, consider increasing CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE'])).toMatch(
      /^kmemleak: Memory pool empty/,
    );
    expect(kmemleakBroken(['kmemleak: Kernel memory leak detector disabled'])).toBeDefined();
    expect(kmemleakBroken(['kmemleak: Kernel memory leak detector initialized (mem pool available: 15683)'])).toBeUndefined();
  });
});

describe('captured from a real 6.1 kernel with kmemleak (test/fixtures/README.md)', () => {
  const text = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kmemleak-6.1-x86_64-kh_leak-load.txt'), 'utf8');

  it("reads every leaked object with its size and the module's frame", () => {
    const leaks = parseKmemleak(text);
    expect(leaks.map((l) => l.size).sort((a, b) => a - b)).toEqual([128, 128, 128, 1048576]);
    for (const l of leaks) expect(l.frames.some((f) => f.func === 'kh_leak_alloc' && f.module === 'kh_leak')).toBe(true);
    expect(fingerprint(leaks[0]!)).toBe(
      '[kh_leak] kh_leak_alloc < do_one_initcall < do_init_module < __do_sys_init_module < do_syscall_64',
    );
  });
});

describe("a leak reported after its module's unload, while another module is loaded at the same addresses", () => {
  it("is not taken as the later module's when kmemleak names a task of the earlier module's phases", () => {
    const owners = new Map([
      [120, 'kh_leak'],
      [131, 'kh_atomic'],
    ]);
    expect(allocatedByAnother({ pid: 120 }, 'kh_atomic', owners)).toBe(true);
    expect(allocatedByAnother({ pid: 131 }, 'kh_atomic', owners)).toBe(false);
    // A task kharness did not start (a kworker of the module's) stays the addresses' call.
    expect(allocatedByAnother({ pid: 7 }, 'kh_atomic', owners)).toBe(false);
    expect(allocatedByAnother({}, 'kh_atomic', owners)).toBe(false);
  });
});
