/**
 * The kernel's reports of an injected failure: "FAULT_INJECTION: forcing a
 * failure." with the capability's counters, then (verbose 2) the stack of
 * the allocation that was failed. Read for what a developer asks of it:
 * which capability, which task, and where the failed allocation was made
 * (the first frame past the injection machinery and the allocator). Not a
 * crash: a kernel report of kind fault-injection is informational. Pure.
 *
 * 6.1 and 6.12 print the same two lines (6.1 names the capability with
 * %pd, 6.12 with %s: the same text). The stack is dump_stack()'s: x86 puts
 * it between <TASK> and </TASK> and may mark frames "? " (unreliable);
 * arm64 prints "Call trace:" and no end line. Read from /dev/kmsg the two
 * lines are one record, with the newline in it.
 */
import { stripTimestamp } from './splats.ts';

export interface Frame {
  func: string;
  /** "0x4c/0x90" */
  offset?: string;
  /** The module's name when the frame is in one. */
  module?: string;
  /** x86's "? ": the unwinder is not sure the frame is on the stack. */
  unreliable?: boolean;
}

export interface Injection {
  /** failslab, fail_page_alloc, or another capability's name. */
  capability: string;
  interval: number;
  probability: number;
  space: number;
  /** The counter before this injection took one off. */
  times: number;
  pid?: number;
  comm?: string;
  frames: Frame[];
  /** The allocation's caller: the first reliable frame past the allocator. */
  site?: Frame;
  /** The allocator entry the site called (kmalloc, vmalloc, alloc_pages, ...). */
  api?: string;
  /** Index of the opening line in the input (after multi-line records are split). */
  line: number;
}

const TITLE = /^FAULT_INJECTION: forcing a failure\.?$/;
const COUNTERS = /^name (\S+), interval (\d+), probability (\d+), space (-?\d+), times (-?\d+)$/;
/** 6.1: "CPU: 0 PID: 80 Comm: sh ..."; 6.12 adds "UID: 0" before PID. */
const TASK = /^CPU: \d+ (?:UID: \d+ )?PID: (\d+) Comm: (\S+)/;
const FRAME = /^\s*(\? )?([A-Za-z_.$][\w.$]*)\+(0x[0-9a-f]+\/0x[0-9a-f]+)(?: \[([\w-]+)\])?\s*$/;
/** Lines of dump_stack() that are neither the task line nor frames. */
const STACK_FURNITURE =
  /^(?:Hardware name: |Tainted: |Call [Tt]race:|\s*<\/?(?:TASK|IRQ|NMI|SOFTIRQ)>|Workqueue: |\s*RIP: |\s*Code: |\s*RSP: |\s*R[A-Z0-9]{2}: )/;

/**
 * Frames of the injection machinery and of the allocator, by name (without
 * the compiler's .part/.constprop/.isra suffixes and 6.10+'s _noprof): a
 * site is the first frame after them. `api`: what the frame is called by
 * its user, when it is an entry point a caller names.
 */
const MACHINERY =
  /^(?:dump_backtrace|show_stack|dump_stack(?:_lvl)?|fail_dump|should_fail(?:_ex)?|__should_fail\w*|should_failslab|should_fail_alloc_page)$/;
/** One alternation from names: the tables stay readable. */
const names = (...n: string[]) => new RegExp(`^(?:${n.join('|')})$`);
const ALLOCATOR: readonly { re: RegExp; api?: string }[] = [
  {
    re: names(
      '__kmalloc(?:_node)?(?:_track_caller)?',
      'kmalloc_trace',
      'kmalloc_node_trace',
      '__kmalloc_cache(?:_node)?',
      'kmem_cache_alloc_trace',
      'kmalloc_large(?:_node)?',
      '_{2,3}kmalloc_large_node',
      'kmalloc(?:_node)?',
      'kzalloc',
      'kcalloc',
      'kmalloc_array',
    ),
    api: 'kmalloc',
  },
  { re: names('__kvmalloc_node', 'kvmalloc_node', 'kvmalloc', 'kvzalloc'), api: 'kvmalloc' },
  // 6.1 to 6.5: the kmalloc family's own slab entry, called straight from the caller when __kmalloc's call is a tail call.
  { re: names('__kmem_cache_alloc_node'), api: 'kmalloc' },
  {
    re: names('vmalloc', 'vzalloc', '__vmalloc(?:_node)?(?:_range)?', 'vmalloc_node', 'vzalloc_node', 'vmalloc_user', 'vmalloc_32'),
    api: 'vmalloc',
  },
  { re: names('kmem_cache_alloc(?:_node|_lru)?', 'kmem_cache_zalloc'), api: 'kmem_cache_alloc' },
  {
    re: names(
      'alloc_pages(?:_node)?',
      '__alloc_pages(?:_node)?',
      'alloc_pages_mpol',
      '__get_free_pages',
      'get_zeroed_page',
      'alloc_pages_exact',
    ),
    api: 'alloc_pages',
  },
  { re: names('folio_alloc', '__folio_alloc(?:_node)?'), api: 'alloc_pages' },
  { re: names('__alloc_pages_bulk', 'alloc_pages_bulk\\w*'), api: 'alloc_pages_bulk' },
  { re: names('krealloc', '__krealloc'), api: 'krealloc' },
  { re: names('kmemdup'), api: 'kmemdup' },
  { re: names('kstrdup', 'kstrndup'), api: 'kstrdup' },
  // Inside the allocator: never a site, never what a caller names.
  {
    re: names(
      'slab_pre_alloc_hook',
      'slab_alloc(?:_node)?',
      '_{2,3}slab_alloc\\w*',
      '__kmem_cache_alloc\\w*',
      'kmem_cache_alloc_bulk',
      'prepare_alloc_pages',
      '__get_vm_area_node',
      '__get_vm_area_caller',
      'get_vm_area\\w*',
      'alloc_vmap_area',
      'vm_area_alloc_pages',
      '__vmalloc_area_node',
      'alloc_slab_page',
      'allocate_slab',
      'new_slab',
    ),
  },
];

/** A function's name as the tables know it: "__kmalloc_noprof.part.0" -> "__kmalloc". */
export function baseName(func: string): string {
  return func.replace(/(?:\.(?:part|constprop|isra|cold|llvm)\.\d+)+$/, '').replace(/_noprof$/, '');
}

function allocatorEntry(func: string): { api?: string } | undefined {
  const name = baseName(func);
  return ALLOCATOR.find((a) => a.re.test(name));
}

/** The allocation's caller and the allocator entry it called, from an injection's stack (innermost first). */
export function callSite(frames: readonly Frame[]): { site?: Frame; api?: string } {
  let api: string | undefined;
  let inAllocator = false;
  // x86 kernels without ORC or frame pointers (tinyconfig's) use the guessing unwinder: every frame is "? ".
  // Skip unsure frames only when the unwinder was sure of some.
  const sure = frames.some((f) => !f.unreliable);
  for (const f of frames) {
    if (sure && f.unreliable) continue;
    const name = baseName(f.func);
    if (MACHINERY.test(name)) continue;
    const a = allocatorEntry(f.func);
    if (a) {
      inAllocator = true;
      if (a.api) api = a.api;
      continue;
    }
    // A frame before any allocator frame is still the machinery's caller (an unknown allocator wrapper).
    if (!inAllocator && !api) {
      inAllocator = true;
      api = name;
      continue;
    }
    return { site: f, api };
  }
  return { api };
}

/** "foo_probe+0x4c [foo]" */
export function formatFrame(f: Frame): string {
  const off = f.offset?.split('/')[0];
  return `${f.func}${off ? `+${off}` : ''}${f.module ? ` [${f.module}]` : ''}`;
}

/** Every injection report in a log (console or /dev/kmsg lines), in order. */
export function parseInjections(input: readonly string[]): Injection[] {
  const lines = input.flatMap((l) => l.split('\n')).map(stripTimestamp);
  const out: Injection[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!TITLE.test(lines[i]!.trim())) continue;
    const c = COUNTERS.exec(lines[i + 1]?.trim() ?? '');
    if (!c) continue;
    const inj: Injection = {
      capability: c[1]!,
      interval: Number(c[2]),
      probability: Number(c[3]),
      space: Number(c[4]),
      times: Number(c[5]),
      frames: [],
      line: i,
    };
    let j = i + 2;
    const task = TASK.exec(lines[j] ?? '');
    if (task) {
      inj.pid = Number(task[1]);
      inj.comm = task[2];
      j++;
    }
    // The stack: frames and dump_stack()'s own lines, until anything else (arm64 prints no end line).
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      const f = FRAME.exec(l);
      if (f) {
        inj.frames.push({ func: f[2]!, offset: f[3], ...(f[4] ? { module: f[4] } : {}), ...(f[1] ? { unreliable: true } : {}) });
        continue;
      }
      if (STACK_FURNITURE.test(l)) continue;
      break;
    }
    Object.assign(inj, callSite(inj.frames));
    out.push(inj);
    i = j - 1;
  }
  return out;
}

/** One line for a table: "kmalloc in foo_probe+0x4c [foo] (failslab)". */
export function describeInjection(inj: Injection): string {
  const where = inj.site ? formatFrame(inj.site) : 'an unknown caller';
  return `${inj.api ?? 'an allocation'} in ${where} (${inj.capability})`;
}
