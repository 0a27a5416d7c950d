/**
 * Injection reports. One is a capture: the kernel log of
 * scenarios/gfp-atomic-injected.yaml on the x86_64 6.1-debug kernel
 * (test/fixtures/dmesg-6.1-debug-x86_64-fault-injection.log, 2026-12-07).
 * The others are still constructed (no arm64 or 6.12 kernel with fault
 * injection was built yet), and say how: the two lines
 * are fail_dump()'s format (lib/fault-inject.c, 6.1 and 6.12 alike), the
 * stacks are dump_stack()'s shapes as the real captures in test/fixtures
 * show them (arm64 6.1 "Call trace:" with reliable frames; x86_64 6.12
 * tinyconfig's guessing unwinder, every frame "? ", <TASK> ... </TASK>),
 * with the allocator frames each path goes through in those sources.
 * Replace them with captures from a -debug kernel (`inject:` steps print them).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callSite, describeInjection, formatFrame, parseInjections } from '../../harness/analysis/injection.ts';
import { isFinding, parseSplats } from '../../harness/analysis/splats.ts';
import { kmsgText } from '../../harness/probe/client.ts';

/** arm64 6.1, console: failslab on the probe's kmalloc(64, GFP_KERNEL). Constructed (see the header). */
const ARM64_61_SLAB = [
  '[    4.101234] kalloc_probe: begin seq=9 cmd=alloc',
  '[    4.101400] FAULT_INJECTION: forcing a failure.',
  '[    4.101400] name failslab, interval 1, probability 0, space 0, times 1000000',
  '[    4.101612] CPU: 1 PID: 61 Comm: sh Not tainted 6.1.192 #1',
  '[    4.101700] Hardware name: linux,dummy-virt (DT)',
  '[    4.101760] Call trace:',
  '[    4.101800]  dump_backtrace.part.0+0x94/0xc4',
  '[    4.101850]  show_stack+0x14/0x1c',
  '[    4.101900]  dump_stack_lvl+0x68/0x80',
  '[    4.101950]  dump_stack+0x14/0x2c',
  '[    4.102000]  should_fail_ex+0x1d0/0x214',
  '[    4.102050]  __should_failslab+0x54/0x80',
  '[    4.102100]  should_failslab+0xc/0x18',
  '[    4.102150]  kmem_cache_alloc_trace+0x68/0x2a4',
  '[    4.102200]  kp_do_alloc+0xc8/0x140 [kalloc_probe]',
  '[    4.102250]  kp_cmd_alloc+0x1b8/0x4a4 [kalloc_probe]',
  '[    4.102300]  kp_handle_line+0x250/0x29c [kalloc_probe]',
  '[    4.102350]  kp_write+0x110/0x140 [kalloc_probe]',
  '[    4.102400]  full_proxy_write+0x54/0x80',
  '[    4.102450]  vfs_write+0x98/0x158',
  '[    4.102500]  ksys_write+0x60/0xac',
  '[    4.102550]  __arm64_sys_write+0x14/0x1c',
  '[    4.102600]  el0t_64_sync+0x18c/0x190',
  '[    4.102700] kalloc_probe: end seq=9',
];

/**
 * x86_64 6.12 as /dev/kmsg gives it (the two lines are one record with an
 * escaped newline): fail_page_alloc on a 64 KiB kmalloc, which goes to the
 * page allocator. Constructed (see the header).
 */
const X86_612_PAGE_KMSG = [
  '5,812,4101400,-;FAULT_INJECTION: forcing a failure.\\x0aname fail_page_alloc, interval 1, probability 0, space 0, times 1000000',
  '4,813,4101612,-;CPU: 0 UID: 0 PID: 80 Comm: sh Tainted: G           O       6.12.118 #1',
  '4,814,4101650,-;Tainted: [O]=OOT_MODULE',
  '4,815,4101700,-;Call Trace:',
  '4,816,4101710,-; <TASK>',
  '4,817,4101720,-; ? dump_stack_lvl+0x52/0x61',
  '4,818,4101730,-; ? should_fail_ex+0x10f/0x140',
  '4,819,4101740,-; ? should_fail_alloc_page+0x3a/0x44',
  '4,820,4101750,-; ? prepare_alloc_pages.constprop.0+0x91/0x12c',
  '4,821,4101760,-; ? __alloc_pages_noprof+0x6b/0x1c2',
  '4,822,4101770,-; ? ___kmalloc_large_node+0x42/0x83',
  '4,823,4101780,-; ? __kmalloc_large_node_noprof+0x11/0x30',
  '4,824,4101790,-; ? __kmalloc_noprof+0x11/0x30',
  '4,825,4101800,-; ? kp_do_alloc+0x98/0x119 [kalloc_probe]',
  '4,826,4101810,-; ? kp_cmd_alloc+0x179/0x40a [kalloc_probe]',
  '4,827,4101820,-; ? kp_handle_line+0x216/0x257 [kalloc_probe]',
  '4,828,4101830,-; </TASK>',
].map(kmsgText);

/** x86_64 6.12: vmalloc's vm_struct (kzalloc_node inside __get_vm_area_node) failed by failslab. Constructed. */
const X86_612_VMALLOC = [
  '[    5.000001] FAULT_INJECTION: forcing a failure.',
  '[    5.000001] name failslab, interval 1, probability 0, space 0, times 1000000',
  '[    5.000100] CPU: 0 UID: 0 PID: 80 Comm: sh Tainted: G           O       6.12.118 #1',
  '[    5.000200] Call Trace:',
  '[    5.000210]  <TASK>',
  '[    5.000220]  ? dump_stack_lvl+0x52/0x61',
  '[    5.000230]  ? should_fail_ex+0x10f/0x140',
  '[    5.000240]  ? should_failslab+0x9/0x11',
  '[    5.000250]  ? __kmalloc_cache_node_noprof+0x5d/0x1a0',
  '[    5.000260]  ? __get_vm_area_node+0x62/0x100',
  '[    5.000270]  ? __vmalloc_node_range_noprof+0xd4/0x5a0',
  '[    5.000280]  ? __vmalloc_node_noprof+0x4a/0x60',
  '[    5.000290]  ? vmalloc_noprof+0x15/0x20',
  '[    5.000300]  ? kp_do_alloc+0xb0/0x119 [kalloc_probe]',
  '[    5.000310]  </TASK>',
  '[    5.000400] sh: vmalloc error: size 65536, vm_struct allocation failed, mode:0xdc0(GFP_KERNEL|__GFP_ZERO), nodemask=(null)',
];

describe('injection reports', () => {
  it('arm64 6.1: failslab, the task, and the call site past the allocator', () => {
    const [inj, ...rest] = parseInjections(ARM64_61_SLAB);
    expect(rest).toEqual([]);
    expect(inj).toMatchObject({ capability: 'failslab', interval: 1, probability: 0, space: 0, times: 1000000, pid: 61, comm: 'sh' });
    expect(inj!.frames).toHaveLength(17);
    expect(inj!.site).toEqual({ func: 'kp_do_alloc', offset: '0xc8/0x140', module: 'kalloc_probe' });
    expect(inj!.api).toBe('kmalloc');
    expect(describeInjection(inj!)).toBe('kmalloc in kp_do_alloc+0xc8 [kalloc_probe] (failslab)');
  });

  it('x86_64 6.12 from /dev/kmsg: one record holds both lines; a guessing unwinder marks every frame "? "', () => {
    const [inj] = parseInjections(X86_612_PAGE_KMSG);
    expect(inj).toMatchObject({ capability: 'fail_page_alloc', pid: 80, comm: 'sh' });
    // A large kmalloc is the page allocator's: kmalloc is what the caller called.
    expect(inj!.api).toBe('kmalloc');
    expect(inj!.site?.func).toBe('kp_do_alloc');
  });

  it('the vmalloc path: failslab fails its vm_struct, the caller called vmalloc', () => {
    const [inj] = parseInjections(X86_612_VMALLOC);
    expect(inj!.capability).toBe('failslab');
    expect(inj!.api).toBe('vmalloc');
    expect(inj!.site).toMatchObject({ func: 'kp_do_alloc', module: 'kalloc_probe' });
  });

  it("a module's init under the fail-nth loader: the site is in the module", () => {
    const [inj] = parseInjections([
      'FAULT_INJECTION: forcing a failure.',
      'name failslab, interval 1, probability 0, space 0, times 999998',
      'CPU: 0 PID: 90 Comm: failnth Tainted: G           O       6.1.192 #1',
      'Call trace:',
      ' dump_stack+0x14/0x2c',
      ' should_fail_ex+0x1d0/0x214',
      ' should_failslab+0xc/0x18',
      ' kmalloc_trace+0x40/0x100',
      ' leaky_init+0x4c/0x1000 [leaky]',
      ' do_one_initcall+0x50/0x1f0',
      ' do_init_module+0x48/0x1e0',
      ' load_module+0x1d88/0x2210',
      ' __do_sys_finit_module+0xa8/0x100',
    ]);
    expect(describeInjection(inj!)).toBe('kmalloc in leaky_init+0x4c [leaky] (failslab)');
    expect(inj!.times).toBe(999998);
  });

  it('a title without its counters line is not an injection; a stack with no allocator frame names no api', () => {
    expect(parseInjections(['FAULT_INJECTION: forcing a failure.', 'something else'])).toEqual([]);
    expect(callSite([])).toEqual({});
  });
});

describe('an injection among kernel reports', () => {
  it('is informational: never a finding, and its stack joins no other report', () => {
    const splats = parseSplats(X86_612_VMALLOC);
    expect(splats.map((s) => s.kind)).toEqual(['fault-injection', 'vmalloc-failure']);
    expect(splats.map(isFinding)).toEqual([false, true]);
    expect(splats[1]!.lines).toHaveLength(1);
  });
});

describe('injections captured on x86_64 6.1-debug (gfp-atomic-injected.yaml)', () => {
  const log = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'dmesg-6.1-debug-x86_64-fault-injection.log'), 'utf8').split('\n');

  it('reads every injection with its capability, the allocator it went through and the probe as its caller', () => {
    const found = parseInjections(log).map((i) => [i.capability, i.api, i.site && formatFrame(i.site)]);
    expect(found).toEqual([
      // kmalloc(256, GFP_ATOMIC) and (GFP_KERNEL): __kmalloc's tail call leaves __kmem_cache_alloc_node as the kmalloc entry.
      ['failslab', 'kmalloc', 'kp_do_alloc+0xa0 [kalloc_probe]'],
      ['failslab', 'kmalloc', 'kp_do_alloc+0xa0 [kalloc_probe]'],
      ['fail_page_alloc', 'alloc_pages', 'kp_do_alloc+0xd8 [kalloc_probe]'],
      // A 64 KiB kmalloc: the page allocator's.
      ['fail_page_alloc', 'kmalloc', 'kp_do_alloc+0xa0 [kalloc_probe]'],
      // vmalloc's vm_struct. Its first page's failure prints nothing: the bulk allocation asks with __GFP_NOWARN
      // (the step proves that injection by reading fail-nth back).
      ['failslab', 'vmalloc', 'kp_do_alloc+0xab [kalloc_probe]'],
    ]);
  });

  it('counts the injection reports as informational, never as findings', () => {
    const splats = parseSplats(log);
    expect(splats.filter((x) => x.kind === 'fault-injection').length).toBe(5);
    expect(splats.filter(isFinding).map((x) => x.title)).toEqual([expect.stringMatching(/vmalloc error|vm_struct allocation failed/)]);
  });
});

describe('injections captured on arm64 6.12-debug (gfp-atomic-injected.yaml)', () => {
  const log = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'dmesg-6.12-debug-arm64-fault-injection.log'), 'utf8').split('\n');

  it("reads the same five injections through 6.12's allocator entries (the _noprof names) on arm64's stacks", () => {
    const found = parseInjections(log).map((i) => [i.capability, i.api, i.site && formatFrame(i.site)]);
    expect(found).toEqual([
      ['failslab', 'kmalloc', 'kp_do_alloc+0xb4 [kalloc_probe]'],
      ['failslab', 'kmalloc', 'kp_do_alloc+0xb4 [kalloc_probe]'],
      ['fail_page_alloc', 'alloc_pages', 'kp_do_alloc+0x148 [kalloc_probe]'],
      ['fail_page_alloc', 'kmalloc', 'kp_do_alloc+0xb4 [kalloc_probe]'],
      ['failslab', 'vmalloc', 'kp_do_alloc+0xf8 [kalloc_probe]'],
    ]);
    const splats = parseSplats(log);
    expect(splats.filter((x) => x.kind === 'fault-injection').length).toBe(5);
    expect(splats.filter(isFinding).map((x) => x.kind)).toEqual(['vmalloc-failure']);
  });
});
