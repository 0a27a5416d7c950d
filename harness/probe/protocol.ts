/**
 * The kalloc_probe line protocol (modules/kalloc_probe/kalloc_probe.c):
 * request lines from resolved actions (numbers only), typed facts from
 * response lines, and the markers the module brackets each request with in
 * the kernel log. Pure.
 */
import { type Api, BY_WIRE, type Context, type Facts, type Query, withDerivedFacts } from './vocabulary.ts';

/** An action with every size already evaluated: what goes on the wire. */
export type ProbeAction =
  /** inject: fail the allocation's Nth allocation (fail-nth, armed by the module itself right before it). */
  | { kind: 'alloc'; api: Api; size?: number; order?: number; gfp: string[]; ctx: Context; hold?: string; fill?: number; inject?: number }
  | { kind: 'time'; api: Api; size?: number; order?: number; gfp: string[]; repeat: number; vs?: Api }
  | { kind: 'query'; what: Query }
  | { kind: 'free'; name: string }
  | { kind: 'inspect'; name: string }
  | { kind: 'scan'; name: string; len: number; mark: number }
  | { kind: 'pause'; ms: number }
  | { kind: 'fragment'; pages: number }
  | { kind: 'unfragment' };

export interface Response {
  status: 'ok' | 'error';
  facts: Facts;
  errno?: string;
  msg?: string;
}

export class ProtocolError extends Error {}

function typed(key: string, raw: string, line: string): [string, Facts[string]] {
  const known = BY_WIRE.get(key);
  if (!known) throw new ProtocolError(`unknown key "${key}" in probe response: ${line}`);
  const { name, spec } = known;
  switch (spec.type) {
    case 'bool':
      if (raw !== '0' && raw !== '1') throw new ProtocolError(`"${key}" is not 0 or 1 in: ${line}`);
      return [name, raw === '1'];
    case 'int':
      if (!/^-?\d+$/.test(raw)) throw new ProtocolError(`"${key}" is not a number in: ${line}`);
      return [name, Number(raw)];
    case 'hex':
      if (!/^0x[0-9a-f]+$/i.test(raw)) throw new ProtocolError(`"${key}" is not a hex number in: ${line}`);
      return [name, Number.parseInt(raw, 16)];
    case 'text':
      return [name, raw];
  }
}

export function parseResponse(line: string): Response {
  const facts: Facts = {};
  const text = line.trim();
  // msg= is last and runs to the end of the line: it may hold spaces.
  const msgAt = text.search(/(^| )msg=/);
  const head = msgAt >= 0 ? text.slice(0, msgAt) : text;
  const msg = msgAt >= 0 ? text.slice(msgAt).replace(/^ ?msg=/, '') : undefined;
  let status: string | undefined;
  let errno: string | undefined;
  for (const tok of head.split(' ').filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new ProtocolError(`malformed probe response token "${tok}" in: ${line}`);
    const key = tok.slice(0, eq);
    const raw = tok.slice(eq + 1);
    if (key === 'status') status = raw;
    else if (key === 'errno') errno = raw;
    else {
      const [name, value] = typed(key, raw, line);
      facts[name] = value;
    }
  }
  if (status !== 'ok' && status !== 'error') throw new ProtocolError(`probe response without status: ${line}`);
  return { status, facts: withDerivedFacts(facts), errno, msg };
}

/** One request line (without newline) for an action. */
export function formatRequest(seq: number, a: ProbeAction): string {
  const head = `seq=${seq}`;
  const gfp = (g: string[]) => (g.length ? ` gfp=${g.join('|')}` : '');
  const amount = (x: { api: Api; size?: number; order?: number }) => (x.api === 'pages' ? `order=${x.order}` : `size=${x.size}`);
  switch (a.kind) {
    case 'alloc': {
      const hold = a.hold ? ` hold=${a.hold}` : '';
      const fill = a.fill !== undefined ? ` fill=${a.fill}` : '';
      const inject = a.inject !== undefined ? ` inject=${a.inject}` : '';
      return `cmd=alloc ${head} api=${a.api} ${amount(a)}${gfp(a.gfp)} ctx=${a.ctx}${hold}${fill}${inject}`;
    }
    case 'time':
      return `cmd=time ${head} api=${a.api} ${amount(a)}${gfp(a.gfp)} repeat=${a.repeat}${a.vs ? ` vs=${a.vs}` : ''}`;
    case 'query':
      return `cmd=${a.what} ${head}`;
    case 'free':
    case 'inspect':
      return `cmd=${a.kind} ${head} name=${a.name}`;
    case 'pause':
      return `cmd=pause ${head} ms=${a.ms}`;
    case 'scan':
      return `cmd=scan ${head} name=${a.name} len=${a.len} mark=${a.mark}`;
    case 'fragment':
      return `cmd=fragment ${head} pages=${a.pages}`;
    case 'unfragment':
      return `cmd=unfragment ${head}`;
  }
}

/**
 * The module logs "kalloc_probe: begin seq=N cmd=X" before and
 * "kalloc_probe: end seq=N" after each request, on the console and in
 * /dev/kmsg alike: what the kernel printed between them is the request's.
 */
export const MARKERS = {
  begin: /^kalloc_probe: begin seq=(\d+)/,
  end: /^kalloc_probe: end seq=(\d+)/,
  /** Any marker line: a kernel report never runs across one. */
  any: /^kalloc_probe: (?:begin|end) seq=/,
} as const;

/** Matches request seq's end marker anywhere in a log line (timestamps come first). */
export function endMarker(seq: number): RegExp {
  return new RegExp(`kalloc_probe: end seq=${seq}\\b`);
}
