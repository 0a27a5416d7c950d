/**
 * The kalloc_probe line protocol (modules/kalloc_probe/kalloc_probe.c):
 * building requests from scenario actions and parsing responses into typed
 * facts. Pure.
 */
import { evalSize, type Constants } from '../scenario/size.ts';
import type { Action } from '../scenario/types.ts';
import type { Facts } from '../scenario/expect.ts';

/** Response keys that are booleans (0/1 on the wire). The module's "success" is the harness's "ok". */
const BOOLEAN = new Set([
  'ok', 'zeroed', 'vmalloc_addr', 'linear_map', 'virt_contiguous', 'page_mapped', 'highmem',
  'in_hardirq', 'in_serving_softirq', 'in_atomic', 'irqs_disabled', 'zero_size_ptr', 'INIT_ON_ALLOC',
]);
const RENAME: Record<string, string> = { success: 'ok' };

export interface Response {
  status: 'ok' | 'error';
  facts: Facts;
  errno?: string;
  msg?: string;
}

export function parseResponse(line: string): Response {
  const facts: Facts = {};
  let msg: string | undefined;
  const text = line.trim();
  const msgAt = text.search(/(^| )msg=/);
  const head = msgAt >= 0 ? text.slice(0, msgAt) : text;
  if (msgAt >= 0) msg = text.slice(msgAt).replace(/^ ?msg=/, '');
  for (const tok of head.split(' ').filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new Error(`malformed probe response token "${tok}" in: ${line}`);
    const key = RENAME[tok.slice(0, eq)] ?? tok.slice(0, eq);
    const raw = tok.slice(eq + 1);
    if (BOOLEAN.has(key)) facts[key] = raw === '1';
    else if (/^-?\d+$/.test(raw)) facts[key] = Number(raw);
    else if (/^0x[0-9a-f]+$/i.test(raw)) facts[key] = Number.parseInt(raw, 16);
    else facts[key] = raw;
  }
  const status = facts.status;
  if (status !== 'ok' && status !== 'error') throw new Error(`probe response without status: ${line}`);
  delete facts.status;
  const errno = typeof facts.errno === 'string' ? facts.errno : undefined;
  delete facts.errno;
  return { status, facts, errno, msg };
}

function sizeArg(a: { api: string; size?: Parameters<typeof evalSize>[0]; order?: number }, c: Constants): string {
  if (a.api === 'pages') return `order=${a.order}`;
  const n = evalSize(a.size!, c);
  if (n < 0) throw new Error(`size evaluates to ${n}, below zero`);
  return `size=${n}`;
}

/** One request line (without newline) for an action. */
export function formatRequest(seq: number, a: Action, c: Constants): string {
  const head = `seq=${seq}`;
  const gfp = (g: string[]) => (g.length ? ` gfp=${g.join('|')}` : '');
  switch (a.kind) {
    case 'alloc':
      return `cmd=alloc ${head} api=${a.api} ${sizeArg(a, c)}${gfp(a.gfp)} ctx=${a.ctx}${a.hold ? ` hold=${a.hold}` : ''}${a.fill !== undefined ? ` fill=${a.fill}` : ''}`;
    case 'time':
      return `cmd=time ${head} api=${a.api} ${sizeArg(a, c)}${gfp(a.gfp)} repeat=${a.repeat}${a.vs ? ` vs=${a.vs}` : ''}`;
    case 'query':
      return `cmd=${a.what} ${head}`;
    case 'free':
      return `cmd=free ${head} name=${a.name}`;
    case 'inspect':
      return `cmd=inspect ${head} name=${a.name}`;
    case 'fragment':
      return `cmd=fragment ${head} pages=${evalSize(a.pages, c)}`;
    case 'unfragment':
      return `cmd=unfragment ${head}`;
  }
}

/** The constants a size expression may use, from the probe's constants response. */
export function sizeConstants(f: Facts): Record<string, number> {
  const num = (k: string) => (typeof f[k] === 'number' ? (f[k] as number) : NaN);
  return {
    PAGE_SIZE: num('PAGE_SIZE'),
    KMALLOC_MIN_SIZE: num('KMALLOC_MIN_SIZE'),
    KMALLOC_MAX_CACHE_SIZE: num('KMALLOC_MAX_CACHE_SIZE'),
    KMALLOC_MAX_SIZE: num('KMALLOC_MAX_SIZE'),
    TOTALRAM_SIZE: num('TOTALRAM_PAGES') * num('PAGE_SIZE'),
    INIT_ON_ALLOC: f.INIT_ON_ALLOC === true ? 1 : 0,
  };
}
