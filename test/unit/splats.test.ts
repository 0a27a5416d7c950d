import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSplats, rateLimitWaitMs, sectionsBySeq, splatMatches, stripTimestamp } from '../../harness/analysis/splats.ts';
import { MARKERS } from '../../harness/probe/protocol.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '..', 'fixtures', name), 'utf8').split('\n');

describe('splat parser on a real 6.1 x86_64 console log', () => {
  const lines = fixture('console-6.1-x86_64-vmalloc-hardirq.log');
  const splats = parseSplats(lines);

  it('finds each report with its kind and source location', () => {
    expect(splats.map((s) => [s.kind, s.at])).toEqual([
      ['warning', 'mm/page_alloc.c:5634'],
      ['sleep-in-atomic', 'include/linux/sched/mm.h:274'],
      ['bug', 'mm/vmalloc.c:2554'],
      ['oops', undefined],
      ['panic', undefined],
    ]);
    expect(splats[0]!.func).toBe('__alloc_pages+0x3d/0xe6');
  });

  it('keeps a report body up to its end marker, without timestamps', () => {
    const w = splats[0]!;
    expect(w.lines[0]).toBe('WARNING: CPU: 0 PID: 48 at mm/page_alloc.c:5634 __alloc_pages+0x3d/0xe6');
    expect(w.lines).toContain(' __kmalloc_large_node+0x7b/0xc0');
    expect(w.lines[w.lines.length - 1]).toMatch(/^---\[ end trace/);
  });

  it('attributes reports to the probe request that caused them', () => {
    const sections = sectionsBySeq(lines, MARKERS);
    const kinds = (seq: number) => parseSplats(sections.get(seq)!.lines).map((s) => s.kind);
    expect(kinds(0)).toEqual([]);
    expect(kinds(1)).toEqual(['warning']);
    expect(kinds(2)).toEqual(['sleep-in-atomic']);
    expect(kinds(3)).toEqual(['bug', 'oops', 'panic']);
    expect(sections.get(2)!.ended).toBe(true);
    // The guest died inside request 3: it never printed its end marker.
    expect(sections.get(3)!.ended).toBe(false);
  });

  it('matches patterns on kind, file and text, never on line numbers', () => {
    const bug = splats[2]!;
    expect(splatMatches(bug, { kind: 'bug', at: 'mm/vmalloc.c' })).toBe(true);
    expect(splatMatches(bug, { kind: 'bug', at: 'mm/slub.c' })).toBe(false);
    expect(splatMatches(bug, { kind: 'warning' })).toBe(false);
    expect(splatMatches(splats[4]!, { kind: 'panic', text: 'Fatal exception in interrupt' })).toBe(true);
  });
});

describe('splat rules', () => {
  const one = (line: string) => parseSplats([line]).map((s) => [s.kind, s.at]);

  it('knows the 6.12 and arm64 spellings', () => {
    expect(one('[    3.1] WARNING: CPU: 0 PID: 48 at mm/page_alloc.c:4832 __alloc_pages_noprof+0x41/0xe7')).toEqual([
      ['warning', 'mm/page_alloc.c:4832'],
    ]);
    expect(one('Oops: invalid opcode: 0000 [#1] SMP')).toEqual([['oops', undefined]]);
    // 7.2 moved the CPU and task to the end (captured on the 7.2.13 source build, x86_64, kmalloc(KMALLOC_MAX_SIZE + 1)).
    const w72 = parseSplats(['[    4.130434] WARNING: mm/page_alloc.c:5336 at __alloc_frozen_pages_noprof+0x3d/0x147, CPU#0: sh/43']);
    expect(w72.map((s) => [s.kind, s.at, s.func])).toEqual([['warning', 'mm/page_alloc.c:5336', '__alloc_frozen_pages_noprof+0x3d/0x147']]);
    expect(one('Internal error: Oops - BUG: 00000000f2000800 [#1] SMP')).toEqual([['oops', undefined]]);
  });

  it('knows allocation failures, OOM and the rest', () => {
    expect(one('sh: page allocation failure: order:10, mode:0xcc0(GFP_KERNEL), nodemask=(null)')[0]![0]).toBe('alloc-failure');
    expect(one('vmalloc error: size 1073741824, exceeds total pages, mode:0xcc0(GFP_KERNEL), nodemask=(null)')[0]![0]).toBe(
      'vmalloc-failure',
    );
    // 5.10's wording (captured on the 5.10.262 source build, x86_64).
    expect(one('[   10.628348] sh: vmalloc: allocation failure: 585277440 bytes, mode:0xcc0(GFP_KERNEL), nodemask=(null)')[0]![0]).toBe(
      'vmalloc-failure',
    );
    expect(one('Out of memory: Killed process 42 (sh)')[0]![0]).toBe('oom');
    expect(one('BUG: scheduling while atomic: sh/48/0x00000002')[0]![0]).toBe('scheduling-while-atomic');
    expect(one('BUG: KASAN: slab-out-of-bounds in kp_do_alloc+0x1/0x2')[0]![0]).toBe('kasan');
    expect(one('BUG: kernel NULL pointer dereference, address: 0000000000000000')[0]![0]).toBe('oops');
    expect(one('unreferenced object 0xffff888003a4c000 (size 64):')[0]![0]).toBe('kmemleak');
  });

  it('ignores ordinary lines', () => {
    expect(parseSplats(['[    1.0] Run /init as init process', 'kalloc_probe: loaded', 'WARNINGS are fine in prose'])).toEqual([]);
  });

  it('strips console timestamps and carriage returns', () => {
    expect(stripTimestamp('[    3.140147] kernel BUG at mm/vmalloc.c:2554!\r')).toBe('kernel BUG at mm/vmalloc.c:2554!');
  });
});

describe('splat parser on real 6.12 x86_64 captures', () => {
  it('reads the 6.12 crash: kernel BUG, "Oops: invalid opcode", panic', () => {
    const s = parseSplats(fixture('console-6.12-x86_64-vmalloc-hardirq.log'));
    expect(s.map((x) => x.kind)).toEqual(['bug', 'oops', 'panic']);
    expect(s[0]!.at).toMatch(/^mm\/vmalloc\.c:\d+$/);
    expect(s[1]!.title).toBe('Oops: invalid opcode: 0000 [#1] SMP');
  });

  it('reads the 6.12 dmesg of a whole run, each report attributed to its request', () => {
    const lines = fixture('dmesg-6.12-x86_64-all-scenarios.log');
    const all = parseSplats(lines);
    expect(all.map((x) => x.kind)).toEqual(['sleep-in-atomic', 'warning', 'vmalloc-failure']);
    expect(all[1]!.func).toMatch(/^__alloc_pages_noprof\+/);
    const sections = [...sectionsBySeq(lines, MARKERS).values()];
    const owners = all.map((sp) => sections.find((sec) => sec.lines.some((l) => stripTimestamp(l) === sp.title))?.seq);
    expect(owners.every((o) => typeof o === 'number')).toBe(true);
    expect(new Set(owners).size).toBe(3);
  });
});

describe('memory-error reports of the detectors', () => {
  const kinds = (text: string) => parseSplats(text.split('\n')).map((s) => [s.kind, s.at ?? s.func]);

  it("reads SLUB debug's report: no colon after BUG, the cache and the reason (6.1 and 6.12)", () => {
    expect(
      kinds(
        [
          '=============================================================================',
          'BUG kmalloc-32 (Tainted: G           O      ): Right Redzone overwritten',
          '-----------------------------------------------------------------------------',
          '0xffff888004b5e2a0-0xffff888004b5e2a0 @offset=672. First byte 0x41 instead of 0xcc',
          'BUG kmalloc-rnd-05-32 (Not tainted): Poison overwritten',
          'BUG kmalloc-64 (Tainted: G    B   O): Object already free',
        ].join('\n'),
      ),
    ).toEqual([
      ['slub-debug', 'kmalloc-32'],
      ['slub-debug', 'kmalloc-rnd-05-32'],
      ['slub-debug', 'kmalloc-64'],
    ]);
  });

  it('reads KASAN, KFENCE, kmemleak and the allocation profiler at unload', () => {
    expect(
      kinds(
        [
          'BUG: KASAN: slab-out-of-bounds in poke_set+0x4c/0x80 [kh_overflow]',
          'BUG: KFENCE: use-after-free read in poke_set+0x38/0x90 [kh_uaf]',
          'unreferenced object 0xffff888003a4c000 (size 128):',
          'kh_leak.c:25 module kh_leak func:kh_leak_alloc has 384 allocated at module unload',
          'WARNING: CPU: 0 PID: 120 at lib/alloc_tag.c:172 alloc_tag_module_unload+0x1b4/0x1d0',
        ].join('\n'),
      ),
    ).toEqual([
      ['kasan', 'poke_set+0x4c/0x80'],
      ['kfence', 'poke_set+0x38/0x90'],
      ['kmemleak', undefined],
      // The WARNING right after the profiler's message is that same report.
      ['unload-leak', 'kh_leak.c:25'],
    ]);
  });

  it('reads each allocation site the profiler names at unload as one report with its WARNING (arm64 6.12-debug, captured)', () => {
    const lines = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'dmesg-6.12-debug-arm64-unload-leak.log'), 'utf8').split('\n');
    const s = parseSplats(lines);
    expect(s.map((x) => [x.kind, x.at, x.func])).toEqual([
      ['unload-leak', 'kh_leak.c:25', 'kh_leak_alloc'],
      ['unload-leak', 'kh_leak.c:30', 'kh_leak_alloc'],
    ]);
    expect(s[0]!.lines[1]).toMatch(/^WARNING: CPU: 1 PID: 176 at lib\/alloc_tag\.c:171 alloc_tag_module_unload/);
    expect(s[1]!.title).toMatch(/has 1054720 allocated at module unload$/);
  });
});

describe('SLUB debug on a real 6.1 kernel (test/fixtures/dmesg-6.1-debug-x86_64-write-past-kmalloc.log)', () => {
  it('finds the right red zone report of the kmalloc-32 cache', () => {
    const s = parseSplats(fixture('dmesg-6.1-debug-x86_64-write-past-kmalloc.log')).filter((x) => x.kind === 'slub-debug');
    expect(s.map((x) => [x.at, x.title.replace(/\(.*\)/, '()')])).toEqual([['kmalloc-32', 'BUG kmalloc-32 (): Right Redzone overwritten']]);
  });
});

describe("a report the kernel rate-limits (might_sleep's, once a second)", () => {
  const report = (t: string) => `[${t}] BUG: sleeping function called from invalid context at mm/slab.h:732`;

  it('waits out what is left of the second since the last one, less the time the log has been quiet', () => {
    const log = ['[    5.000000] kalloc_probe: begin seq=3 cmd=alloc', report('    5.100000'), '[    5.400000] kalloc_probe: end seq=3'];
    // 1000 + 50 margin - (5400 - 5100) - 100 quiet.
    expect(rateLimitWaitMs(['sleep-in-atomic'], log, 100)).toBe(650);
    expect(rateLimitWaitMs(['sleep-in-atomic'], log, 5000)).toBe(0);
  });

  it('waits for nothing when no such report was made, or the step expects no rate-limited kind', () => {
    expect(rateLimitWaitMs(['sleep-in-atomic'], ['[    1.000000] kalloc_probe: begin seq=1 cmd=alloc'], 0)).toBe(0);
    expect(rateLimitWaitMs(['warning', 'bug'], [report('    5.100000')], 0)).toBe(0);
  });
});
