/**
 * A machine that ran its steps at boot answers from the console, which the
 * kernel writes its log to as well: a kernel message can land inside a line
 * init writes. Captured on the 5.10.262 source build (x86_64, kernel-test-
 * meminit-off at boot, 2026-12-07): a clocksource message between "code=0"
 * and its newline made the step wait out its 120 s timeout before this.
 */
import { describe, expect, it } from 'vitest';
import { SCRIPT_END, scriptOutput } from '../../harness/run/qemu-machine.ts';

const CONSOLE = [
  'KHARNESS-SCRIPT-BEGIN 1',
  '[    2.081721] kalloc_probe: begin seq=76 cmd=ktest module=test_meminit',
  '[    2.554505] test_meminit: failures: 71 out of 131',
  '[    2.712499] kalloc_probe: end seq=76',
  "KHARNESS-OUT 1 insmod: can't insert '/proc/self/fd/0': Invalid argument",
  'KHARNESS-OUT 1 kharness-rc=22',
  'KHARNESS-SCRIPT-END 1 code=0[    2.782086] Clockevents: could not switch to one-shot mode: lapic is not functional.',
  '',
];

describe("a boot script's lines on a console the kernel shares", () => {
  it('finds the end marker with a kernel message glued to it, and its exit status', () => {
    const end = CONSOLE.findIndex((l) => SCRIPT_END(1).test(l));
    expect(end).toBe(6);
    expect(SCRIPT_END(1).exec(CONSOLE[end]!)?.[1]).toBe('0');
    expect(CONSOLE.some((l) => SCRIPT_END(10).test(l))).toBe(false);
  });

  it("reads the script's output lines, without a kernel record glued to one", () => {
    expect(scriptOutput(CONSOLE, 1)).toBe("insmod: can't insert '/proc/self/fd/0': Invalid argument\nkharness-rc=22\n");
    const glued = ['KHARNESS-OUT 2 kharness-rc=0[    3.100000] random: crng init done', 'KHARNESS-OUT 12 not mine'];
    expect(scriptOutput(glued, 2)).toBe('kharness-rc=0\n');
    expect(scriptOutput(glued, 1)).toBe('');
  });
});
