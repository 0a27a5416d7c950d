/** Where a user module's code lies, from its .text address and /proc/vmallocinfo. Pure. */
import { describe, expect, it } from 'vitest';
import { placement, placementScript } from '../../harness/run/steps/module.ts';

describe("a user module's placement", () => {
  it('names the vmalloc area holding the text and its allocator', () => {
    // x86_64 6.1 shape (kharness's own builds print real addresses).
    const info = [
      '0xffffffffa0000000-0xffffffffa0002000    8192 load_module+0x7b1/0x1d80 pages=1 vmalloc N0=1',
      '0xffffffffa0005000-0xffffffffa000a000   20480 load_module+0x7b1/0x1d80 pages=4 vmalloc N0=4',
    ].join('\n');
    expect(placement('0xffffffffa0005000\n', info)).toEqual({
      text_addr: '0xffffffffa0005000',
      in_vmalloc_area: true,
      vmalloc_caller: 'load_module',
    });
    expect(placement('0xffffffffc0001000\n', info)).toEqual({
      text_addr: '0xffffffffc0001000',
      in_vmalloc_area: false,
      vmalloc_caller: 'none',
    });
  });

  it("says unknown, not none, where the kernel hashes the file's pointers (Debian's arm64 6.12 cloud kernel, captured)", () => {
    const info = [
      '0x00000000bf00dd45-0x000000008c8d49c3   20480 start_kernel+0x364/0x820 pages=4 vmalloc N0=4',
      '0x000000004b239d99-0x00000000f294bf38    8192 load_module+0x670/0x22a0 pages=1 vmalloc N0=1',
    ].join('\n');
    expect(placement('0xffff9cf9e3963000\n', info)).toEqual({
      text_addr: '0xffff9cf9e3963000',
      vmalloc_caller: 'unknown (hashed pointers)',
    });
  });
});

describe('the guest script that reads it', () => {
  it('sets kptr_restrict to 1 for the read where it was 0 (then %pK prints real addresses to root), and puts it back', () => {
    const lines = placementScript('kh_leak').split('\n');
    expect(lines[1]).toBe('[ "$k" = 0 ] && echo 1 > /proc/sys/kernel/kptr_restrict');
    expect(lines[2]).toBe(
      "cat /sys/module/kh_leak/sections/.text; echo ---; cat /proc/vmallocinfo; echo ---; grep '\\[kh_leak\\]$' /proc/kallsyms",
    );
    expect(lines[3]).toBe('[ "$k" = 0 ] && echo 0 > /proc/sys/kernel/kptr_restrict');
    // The script's status is not the read's: a kernel without the knob still gives its output.
    expect(lines.at(-1)).toBe('true');
  });
});
