/**
 * Talks to kalloc_probe over one long-lived channel: a guest shell loop
 * keeps the control file open and relays request and response lines, so a
 * step costs one round trip, not one ssh session. A second channel streams
 * /dev/kmsg so the kernel's messages for each request can be collected.
 * The client needs only something that opens command channels (ssh here).
 */
import { KharnessError, PhaseTimeoutError } from '../errors.ts';
import { LineBuffer, type LineLog, LineSplitter } from '../util/lines.ts';
import { ProtocolError, parseResponse, type Response } from './protocol.ts';

export const CTL = '/sys/kernel/debug/kalloc_probe/ctl';

/**
 * One channel for both directions: the kernel log (all of /dev/kmsg from boot
 * on) on its stderr, the relay to the probe's control file on stdin/stdout.
 * One exec instead of two: each costs a round trip and a fork under TCG.
 */
const RELAY = `cat /dev/kmsg >&2 & exec 3<>${CTL}; while IFS= read -r l; do printf '%s\\n' "$l" >&3; IFS= read -r r <&3; printf '%s\\n' "$r"; done`;

/** A command's standard streams, as far as the client needs them (ssh2's ClientChannel is one). */
export interface Stream {
  on(event: 'data', fn: (b: Buffer) => void): unknown;
  on(event: 'close', fn: () => void): unknown;
  write(data: string): unknown;
  end(): unknown;
  stderr: { on(event: 'data', fn: (b: Buffer) => void): unknown };
}

export interface Channels {
  channel(command: string): Promise<Stream>;
}

/** Thrown when the guest stops answering mid-request: the machine is lost (perhaps the kernel died). */
export class ProbeLost extends KharnessError {
  constructor(request: string) {
    super('PROBE', `the guest stopped answering during: ${request}`);
  }
}

/** Replies in order, one per request. */
class Replies {
  private readonly queue: string[] = [];
  private waiting?: (line: string | undefined) => void;
  private readonly lines = new LineSplitter();
  closed = false;

  constructor(ch: Stream) {
    ch.on('data', (b: Buffer) => {
      for (const line of this.lines.feed(b.toString('utf8'))) this.deliver(line);
    });
    ch.on('close', () => {
      this.closed = true;
      this.waiting?.(undefined);
      this.waiting = undefined;
    });
  }

  private deliver(line: string): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w) w(line);
    else this.queue.push(line);
  }

  next(): Promise<string | undefined> {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}

export class ProbeClient {
  private constructor(
    private readonly ctl: Stream,
    private readonly replies: Replies,
    /** The kernel log as /dev/kmsg gives it, each record in the console's shape. */
    readonly kmsg: LineLog,
  ) {}

  static async open(ch: Channels): Promise<ProbeClient> {
    const ctl = await ch.channel(RELAY);
    return new ProbeClient(ctl, new Replies(ctl), kmsgLog(ctl));
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
      try {
        return parseResponse(reply);
      } catch (e) {
        if (e instanceof ProtocolError)
          throw new KharnessError(
            'PROBE',
            e.message,
            'The harness and the module disagree: rebuild the module (its cache key follows its sources).',
          );
        throw e;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.ctl.end();
  }
}

/** /dev/kmsg records as console-shaped lines (continuation lines dropped). */
function kmsgLog(ch: Stream): LineLog {
  const records = new LineSplitter();
  const out = new LineBuffer();
  ch.stderr.on('data', (b: Buffer) => {
    for (const r of records.feed(b.toString('utf8'))) if (!r.startsWith(' ')) out.push(kmsgText(r));
  });
  ch.on('close', () => out.close());
  return out;
}

/** "6,1234,5678901,-;text" -> "[    5.678901] text" (the console's shape, so one parser reads both). */
export function kmsgText(record: string): string {
  const m = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/.exec(record);
  if (!m) return record;
  const us = Number(m[3]);
  const ts = `${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`;
  return `[${ts.padStart(12)}] ${m[4]!.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))}`;
}
