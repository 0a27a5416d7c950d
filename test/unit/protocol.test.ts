import { describe, expect, it } from 'vitest';
import { kmsgText } from '../../harness/probe/client.ts';
import { formatRequest, parseResponse } from '../../harness/probe/protocol.ts';
import { sizeConstants } from '../../harness/probe/vocabulary.ts';

describe('probe protocol', () => {
  it("adds the facts derived from a time response: each median in thousandths of the vs API's, measured in the same loop", () => {
    // The facts of a real response (alloc-cost on fixture-slow, x86_64, test/fixtures/results-repeat5-alloc-cost-fixture-slow.jsonl).
    const r = parseResponse(
      'status=ok api=kmalloc size=65536 repeat=200 failures=0 alloc_ns_min=4807 alloc_ns_median=6470 free_ns_min=1232 ' +
        'free_ns_median=1542 vs=vmalloc vs_failures=0 vs_alloc_ns_min=7561 vs_alloc_ns_median=9634 vs_free_ns_min=8773 vs_free_ns_median=11016',
    );
    expect(r.facts).toMatchObject({ alloc_vs_permille: 672, free_vs_permille: 140 });
    // Without a vs API (or with a zero median to divide by) there is nothing to derive.
    expect(parseResponse('status=ok api=kmalloc size=64 repeat=200 failures=0 alloc_ns_min=1 alloc_ns_median=2').facts).not.toHaveProperty(
      'alloc_vs_permille',
    );
    expect(parseResponse('status=ok alloc_ns_median=5 vs_alloc_ns_median=0').facts).not.toHaveProperty('alloc_vs_permille');
    // A derived fact is the harness's: the module writing one is a protocol error.
    expect(() => parseResponse('status=ok alloc_vs_permille=3')).toThrow(/unknown key "alloc_vs_permille"/);
  });

  it('parses a real alloc response into typed facts', () => {
    // Captured from kalloc_probe on 6.1.192 x86_64.
    const r = parseResponse(
      'status=ok api=kmalloc size=131072 order=0 gfp=0xcc0 ctx=process success=1 in_hardirq=0 in_serving_softirq=0 in_atomic=0 ' +
        'irqs_disabled=0 preempt_count=0x0 alloc_ns=0 vmalloc_addr=0 pages=32 phys_runs=1 first_pfn=0x29c0 last_pfn=0x29df ' +
        'zone=DMA32 compound_order=5 zeroed=1 free_ns=0',
    );
    expect(r.status).toBe('ok');
    expect(r.facts).toMatchObject({
      ok: true,
      size: 131072,
      gfp: 0xcc0,
      phys_runs: 1,
      zone: 'DMA32',
      zeroed: true,
      in_hardirq: false,
      first_pfn: 0x29c0,
      compound_order: 5,
    });
  });

  it('keeps an error message with spaces whole', () => {
    const r = parseResponse('status=error errno=EINVAL msg=unknown gfp flag GFP_BOGUS');
    expect(r).toMatchObject({ status: 'error', errno: 'EINVAL', msg: 'unknown gfp flag GFP_BOGUS' });
  });

  it('refuses a line that is not a response, and keys or values outside the vocabulary', () => {
    expect(() => parseResponse('sh: can not open')).toThrow(/malformed/);
    expect(() => parseResponse('api=kmalloc')).toThrow(/without status/);
    expect(() => parseResponse('status=ok sucess=1')).toThrow(/unknown key "sucess"/);
    expect(() => parseResponse('status=ok success=yes')).toThrow(/not 0 or 1/);
    expect(() => parseResponse('status=ok phys_runs=0x3')).toThrow(/not a number/);
  });

  it('formats resolved actions: numbers in, one request line out', () => {
    const size = 4194305;
    expect(formatRequest(7, { kind: 'alloc', api: 'kmalloc', size, gfp: ['GFP_KERNEL', '__GFP_NOWARN'], ctx: 'process' })).toBe(
      'cmd=alloc seq=7 api=kmalloc size=4194305 gfp=GFP_KERNEL|__GFP_NOWARN ctx=process',
    );
    expect(formatRequest(8, { kind: 'alloc', api: 'vmalloc', size, gfp: [], ctx: 'hardirq', hold: 'v' })).toBe(
      'cmd=alloc seq=8 api=vmalloc size=4194305 ctx=hardirq hold=v',
    );
    expect(formatRequest(9, { kind: 'alloc', api: 'pages', order: 3, gfp: ['GFP_DMA'], ctx: 'process' })).toBe(
      'cmd=alloc seq=9 api=pages order=3 gfp=GFP_DMA ctx=process',
    );
    expect(formatRequest(10, { kind: 'fragment', pages: 4096 })).toBe('cmd=fragment seq=10 pages=4096');
  });

  it('derives size constants from the constants response', () => {
    const r = parseResponse(
      'status=ok release=6.1.192 machine=x86_64 PAGE_SIZE=4096 PAGE_SHIFT=12 KMALLOC_MIN_SIZE=8 KMALLOC_MAX_CACHE_SIZE=8192 ' +
        'KMALLOC_MAX_SIZE=4194304 MAX_ORDER=10 TOTALRAM_PAGES=125554 INIT_ON_ALLOC=0',
    );
    expect(sizeConstants(r.facts)).toEqual({
      PAGE_SIZE: 4096,
      KMALLOC_MIN_SIZE: 8,
      KMALLOC_MAX_CACHE_SIZE: 8192,
      KMALLOC_MAX_SIZE: 4194304,
      TOTALRAM_SIZE: 125554 * 4096,
      INIT_ON_ALLOC: 0,
    });
    expect(r.facts.INIT_ON_ALLOC).toBe(false);
  });

  it('turns /dev/kmsg records into console-shaped lines', () => {
    expect(kmsgText('4,412,3032141,-;WARNING: CPU: 0 PID: 48 at mm/page_alloc.c:5634 __alloc_pages+0x3d/0xe6')).toBe(
      '[    3.032141] WARNING: CPU: 0 PID: 48 at mm/page_alloc.c:5634 __alloc_pages+0x3d/0xe6',
    );
    expect(kmsgText('6,1,0,-;a\\x09b')).toBe('[    0.000000] a\tb');
  });
});
