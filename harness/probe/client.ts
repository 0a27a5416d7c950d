/**
 * Talks to kalloc_probe over one long-lived ssh channel: a guest shell loop
 * keeps the control file open and relays request and response lines, so a
 * step costs one round trip, not one ssh session. A second channel streams
 * /dev/kmsg so the kernel's messages for each request can be collected.
 */
import type { ClientChannel } from 'ssh2';
import { KharnessError, PhaseTimeoutError } from '../errors.ts';
import type { GuestSession } from '../guest/ssh.ts';
import { parseResponse, type Response } from './protocol.ts';

export const CTL = '/sys/kernel/debug/kalloc_probe/ctl';

const RELAY = `exec 3<>${CTL}; while IFS= read -r l; do printf '%s\\n' "$l" >&3; IFS= read -r r <&3; printf '%s\\n' "$r"; done`;

/** A line-oriented reader over a channel's stdout. */
class Lines {
  private buf = '';
  private queue: string[] = [];
  private waiting?: (line: string | undefined) => void;
  closed = false;
  readonly all: string[] = [];
  private listeners: ((line: string) => void)[] = [];

  constructor(ch: ClientChannel) {
    ch.on('data', (b: Buffer) => {
      this.buf += b.toString('utf8');
      const parts = this.buf.split('\n');
      this.buf = parts.pop()!;
      for (const p of parts) this.push(p);
    });
    ch.on('close', () => {
      this.closed = true;
      this.waiting?.(undefined);
      this.waiting = undefined;
    });
  }

  private push(line: string): void {
    this.all.push(line);
    for (const l of this.listeners) l(line);
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(line);
    } else this.queue.push(line);
  }

  /** Returns the function that removes the listener again. */
  onLine(fn: (line: string) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  next(): Promise<string | undefined> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.waiting = resolve));
  }
}

/** Thrown when the guest stops answering mid-request: the step is where the kernel died. */
export class ProbeLost extends KharnessError {
  constructor(request: string) {
    super('PROBE', `the guest stopped answering during: ${request}`);
  }
}

export class ProbeClient {
  private constructor(
    private readonly ctl: ClientChannel,
    private readonly replies: Lines,
    readonly kmsg: KmsgStream,
  ) {}

  static async open(session: GuestSession): Promise<ProbeClient> {
    const kmsg = new KmsgStream(await session.channel('cat /dev/kmsg'));
    const ch = await session.channel(RELAY);
    return new ProbeClient(ch, new Lines(ch), kmsg);
  }

  async request(line: string, timeoutMs: number): Promise<Response> {
    if (this.replies.closed) throw new ProbeLost(line);
    this.ctl.write(`${line}\n`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PhaseTimeoutError(`probe request: ${line}`, timeoutMs)), timeoutMs);
    });
    try {
      const reply = await Promise.race([this.replies.next(), timeout]);
      if (reply === undefined) throw new ProbeLost(line);
      return parseResponse(reply);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.ctl.end();
  }
}

/** /dev/kmsg records as text lines, with the probe's end markers to wait on. */
export class KmsgStream {
  private lines: Lines;

  constructor(ch: ClientChannel) {
    this.lines = new Lines(ch);
  }

  /** Message text of every record so far (continuation lines dropped). */
  get records(): string[] {
    return this.lines.all.filter((l) => !l.startsWith(' ')).map(kmsgText);
  }

  /** Waits until the probe's end marker for seq has arrived. */
  waitFor(re: RegExp, timeoutMs: number): Promise<boolean> {
    if (this.records.some((r) => re.test(r))) return Promise.resolve(true);
    // Each step waits once: the listener goes away when it fires or times out,
    // so a long run does not test every kmsg line against every past step.
    return new Promise((resolve) => {
      const done = (found: boolean) => {
        clearTimeout(t);
        off();
        resolve(found);
      };
      const t = setTimeout(() => done(false), timeoutMs);
      const off = this.lines.onLine((l) => {
        if (re.test(kmsgText(l))) done(true);
      });
    });
  }
}

/** "6,1234,5678901,-;text" -> "[    5.678901] text" (the console's shape, so one parser reads both). */
export function kmsgText(record: string): string {
  const m = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/.exec(record);
  if (!m) return record;
  const us = Number(m[3]);
  const ts = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  return `[${ts.padStart(12)}] ${m[4]!.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))}`;
}
