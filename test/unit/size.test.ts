import { describe, expect, it } from 'vitest';
import { evalSize, formatSize, parseSize, SizeSyntaxError } from '../../harness/scenario/size.ts';

const C = { PAGE_SIZE: 4096, KMALLOC_MAX_SIZE: 4194304, KMALLOC_MAX_CACHE_SIZE: 8192, KMALLOC_MIN_SIZE: 8, TOTALRAM_SIZE: 1 << 29 };
const ev = (s: string | number) => evalSize(parseSize(s), C);

describe('size expressions', () => {
  it('reads plain numbers and binary units', () => {
    expect(ev(8)).toBe(8);
    expect(ev('128KiB')).toBe(131072);
    expect(ev('128KB')).toBe(131072);
    expect(ev('4 MiB')).toBe(4194304);
    expect(ev('1G')).toBe(1024 ** 3);
    expect(ev('1.5KiB')).toBe(1536);
  });

  it('uses the guest constants with arithmetic and precedence', () => {
    expect(ev('KMALLOC_MAX_SIZE + 1')).toBe(4194305);
    expect(ev('2 * KMALLOC_MAX_SIZE')).toBe(8388608);
    expect(ev('PAGE_SIZE + 2 * PAGE_SIZE')).toBe(12288);
    expect(ev('(PAGE_SIZE + 1) * 2')).toBe(8194);
    expect(ev('KMALLOC_MAX_SIZE / 3')).toBe(1398101);
    expect(ev('128KiB - 1')).toBe(131071);
  });

  it('evaluates the same expression differently per guest', () => {
    const e = parseSize('KMALLOC_MAX_SIZE + 1');
    expect(evalSize(e, { ...C, KMALLOC_MAX_SIZE: 536870912 })).toBe(536870913);
  });

  it('reports syntax errors with the offset of the bad token', () => {
    const at = (s: string) => {
      try {
        parseSize(s);
      } catch (e) {
        expect(e).toBeInstanceOf(SizeSyntaxError);
        return [(e as SizeSyntaxError).offset, (e as Error).message];
      }
      throw new Error('no error');
    };
    expect(at('KMALLOC_MAX_SIZE + + 1')).toEqual([19, 'unexpected "+"']);
    expect(at('4 XiB')).toEqual([0, 'unknown unit "XiB" (use B, KiB, MiB, GiB)']);
    expect(at('KMALLOC_MAX + 1')[0]).toBe(0);
    expect(at('KMALLOC_MAX + 1')[1]).toMatch(/unknown name "KMALLOC_MAX"/);
    expect(at('(1 + 2')[1]).toBe('expected ")"');
    expect(at('1 +')[1]).toBe('expression ends too early');
  });

  it('rejects fractions of a byte and negative literals', () => {
    expect(() => parseSize('1.5')).toThrow(/whole number/);
    expect(() => parseSize(-1)).toThrow(/non-negative/);
  });

  it('formats sizes for people', () => {
    expect(formatSize(4194304)).toBe('4 MiB');
    expect(formatSize(131073)).toBe('131073 B');
  });
});
