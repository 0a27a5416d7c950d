/**
 * A Machine without QEMU: it answers probe requests and kernel test loads
 * from a script and, when told to die, replays a real captured console
 * (test/fixtures) the way the guest printed it. The runner cannot tell it from QEMU + ssh + the probe,
 * which is what makes every lifecycle rule a unit test of milliseconds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sectionsBySeq } from '../../harness/analysis/splats.ts';
import { PhaseTimeoutError } from '../../harness/errors.ts';
import { ProbeLost } from '../../harness/probe/client.ts';
import { MARKERS, parseResponse, type Response } from '../../harness/probe/protocol.ts';
import type { Facts } from '../../harness/probe/vocabulary.ts';
import type { BootScript, Cursor, Machine, MachineExit, MachineFactory } from '../../harness/run/machine.ts';
import { LineBuffer } from '../../harness/util/lines.ts';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

export function fixtureLines(name: string): string[] {
  return readFileSync(join(FIXTURES, name), 'utf8').split('\n');
}

/** The kernel's own lines for request `seq` in a captured console: what it printed as it died. */
export function capturedSection(name: string, seq: number): string[] {
  const s = sectionsBySeq(fixtureLines(name), MARKERS).get(seq);
  if (!s) throw new Error(`no request ${seq} in ${name}`);
  return s.lines;
}

/** What the fake does with one request. */
export type Act =
  /** Answer with this response line (a kernel test's load: what the shell printed), after logging these kernel lines between the markers. */
  | { reply: string; kmsg?: string[]; delayMs?: number; noEndMarker?: boolean }
  /** Print these console lines (a real capture) and exit, as a panicking guest under -no-reboot does. */
  | { die: string[] }
  /** Stop answering; still answer pings (busy) or not (hung). */
  | { hang: 'busy' | 'hung' }
  /** QEMU is killed from outside. */
  | { killed: string }
  /** The ssh connection drops; QEMU stays, the console says nothing. */
  | { drop: true };

export type Script = (request: string, seq: number, boot: number) => Act;

/** A real constants response (6.1.192 x86_64, 4K pages), as the probe sends it. */
export const CONSTANTS_6_1 = parseResponse(
  'status=ok release=6.1.192 machine=x86_64 PAGE_SIZE=4096 PAGE_SHIFT=12 KMALLOC_MIN_SIZE=8 KMALLOC_MAX_CACHE_SIZE=8192 ' +
    'KMALLOC_MAX_SIZE=4194304 MAX_ORDER=10 TOTALRAM_PAGES=125843 INIT_ON_ALLOC=0 GFP_KERNEL=0xcc0 GFP_ATOMIC=0xa20 ' +
    'GFP_NOWAIT=0x800',
).facts;

/** A passing allocation, as 6.1 reports kmalloc(4096). */
export const OK_ALLOC =
  'status=ok api=kmalloc size=4096 order=0 gfp=0xcc0 ctx=process success=1 in_hardirq=0 in_serving_softirq=0 in_atomic=0 ' +
  'irqs_disabled=0 preempt_count=0x0 alloc_ns=1200 vmalloc_addr=0 linear_map=1 pages=1 phys_runs=1 first_pfn=0x2a01 ' +
  'last_pfn=0x2a01 virt_contiguous=1 zone=DMA32 compound_order=0 zeroed=0 free_ns=300';

export interface FakeFleet {
  factory: MachineFactory;
  machines: FakeMachine[];
  /** Machines not closed: must be 0 once a target has ended. */
  open(): number;
}

export function fakeFleet(
  script: Script,
  o: {
    constants?: Facts;
    bootFails?: (boot: number) => Error | undefined;
    meminfoFails?: (boot: number) => boolean;
    /** What any other command prints (a kmemleak report, /proc/kallsyms), when not nothing. */
    files?: (command: string) => string | undefined;
  } = {},
): FakeFleet {
  const machines: FakeMachine[] = [];
  return {
    machines,
    open: () => machines.filter((m) => !m.closed).length,
    factory: async (boot, _cmdline, scripts) => {
      const err = o.bootFails?.(boot);
      if (err) throw err;
      const m = new FakeMachine(boot, script, o.constants ?? CONSTANTS_6_1, o.meminfoFails?.(boot) ?? false, scripts, o.files);
      machines.push(m);
      return m;
    },
  };
}

export class FakeMachine implements Machine {
  readonly console = new LineBuffer();
  readonly kmsg = new LineBuffer();
  readonly requests: string[] = [];
  readonly info;
  closed = false;
  private state: 'up' | 'busy' | 'hung' | 'dropped' | 'exited' = 'up';
  private exit?: MachineExit;
  private exitWaiters: (() => void)[] = [];
  private pendingReject?: (e: Error) => void;
  private t = 1;

  constructor(
    boot: number,
    private readonly script: Script,
    constants: Facts,
    private readonly meminfoFails = false,
    /** Booted to run these at boot, as the real machine then is: no probe requests, no meminfo, only these scripts. */
    readonly bootScripts?: readonly BootScript[],
    private readonly prints?: (command: string) => string | undefined,
  ) {
    this.info = {
      boot,
      consoleLog: `console-${boot}.log`,
      accel: 'fake',
      bootMs: 1,
      sshMs: 1,
      constants: { ...constants, CLOCKSOURCE: 'tsc' },
      ...(bootScripts ? { atBoot: bootScripts.length } : {}),
    };
    this.console.push('KHARNESS-READY uptime=0.47');
  }

  private log(text: string, where: 'both' | 'console' = 'both'): void {
    const line = `[${(this.t++ / 100).toFixed(6).padStart(12)}] ${text}`;
    this.console.push(line);
    if (where === 'both') this.kmsg.push(line);
  }

  private end(exit: MachineExit): void {
    this.state = 'exited';
    this.exit = exit;
    this.console.close();
    this.kmsg.close();
    this.pendingReject?.(new ProbeLost('the request'));
    for (const w of this.exitWaiters.splice(0)) w();
  }

  cursor(): Cursor {
    return { console: this.console.length, kmsg: this.kmsg.length };
  }

  /** Files placed in the guest, by path. */
  readonly files = new Map<string, Buffer>();

  async put(path: string, data: Buffer): Promise<void> {
    if (this.state !== 'up') throw new ProbeLost(`put ${path}`);
    const placed = this.bootScripts?.flatMap((s) => s.files).some((f) => f.path === path);
    if (this.bootScripts && !placed) throw new Error(`not placed at boot: ${path}`);
    this.files.set(path, data);
  }

  request(line: string, timeoutMs: number): Promise<Response> {
    if (this.bootScripts) return Promise.reject(new Error(`a machine run at boot has no probe channel: ${line}`));
    if (this.state !== 'up') return Promise.reject(new ProbeLost(line));
    const seq = Number(/seq=(\d+)/.exec(line)?.[1]);
    return this.act(line, seq, `cmd=${/cmd=(\S+)/.exec(line)?.[1]}`, timeoutMs, parseResponse);
  }

  /**
   * One request as the script says: the begin marker, then a reply (kernel
   * lines, the end marker, `answer(reply)`), a death, a hang, a kill or a drop.
   */
  private act<T>(line: string, seq: number, what: string, timeoutMs: number, answer: (reply: string) => T): Promise<T> {
    this.requests.push(line);
    const act = this.script(line, seq, this.info.boot);
    this.log(`kalloc_probe: begin seq=${seq} ${what}`);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new PhaseTimeoutError(`probe request: ${line}`, timeoutMs)), timeoutMs);
      this.pendingReject = (e) => {
        clearTimeout(timer);
        reject(e);
      };
      if ('reply' in act) {
        setTimeout(() => {
          if (this.state !== 'up') return;
          for (const k of act.kmsg ?? []) this.log(k);
          if (!act.noEndMarker) this.log(`kalloc_probe: end seq=${seq}`);
          clearTimeout(timer);
          this.pendingReject = undefined;
          resolve(answer(act.reply));
        }, act.delayMs ?? 0);
      } else if ('die' in act) {
        // The console outlives ssh: the capture reaches it, then QEMU exits by itself (-no-reboot).
        setTimeout(() => {
          for (const l of act.die) this.console.push(l);
          this.end({ description: 'QEMU exited (code 0)' });
        }, 5);
      } else if ('hang' in act) {
        this.state = act.hang;
      } else if ('killed' in act) {
        setTimeout(() => this.end({ description: `QEMU killed by ${act.killed}`, killedBy: act.killed }), 5);
      } else {
        this.state = 'dropped';
        setTimeout(() => this.pendingReject?.(new ProbeLost(line)), 5);
      }
    });
  }

  async meminfo(): Promise<string> {
    if (this.bootScripts) throw new Error('a machine run at boot has no shell');
    if (this.state !== 'up') throw new ProbeLost('cat /proc/meminfo');
    // ssh2 refuses a command on a connection that went away between steps.
    if (this.meminfoFails) throw new Error('Not connected');
    return 'MemTotal:         503372 kB\nMemFree:          441220 kB\nVmallocUsed:        2132 kB\n';
  }

  async ping(timeoutMs: number): Promise<boolean> {
    if (this.state === 'up' || this.state === 'busy') return true;
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 20)));
    return false;
  }

  /**
   * A kernel test module's load or a user module's phase (its script echoes
   * the begin marker) goes through the script like a probe request: the reply
   * is what the shell printed. Any other command succeeds, printing what the
   * fleet's `files` says for it (nothing by default).
   */
  async exec(command: string, opts: { timeoutMs: number }): Promise<{ code: number | null; stdout: string }> {
    if (this.state !== 'up') throw new ProbeLost('exec');
    if (this.bootScripts && !this.bootScripts.some((s) => s.script === command)) throw new Error(`not run at boot: ${command}`);
    const load = /kalloc_probe: begin seq=(\d+) (cmd=(?:ktest|module) [^"]+)"/.exec(command);
    if (!load) return { code: 0, stdout: this.prints?.(command) ?? '' };
    return this.act(command, Number(load[1]), load[2]!, opts.timeoutMs, (stdout) => ({ code: 0, stdout }));
  }

  async attach(): Promise<number | null> {
    if (this.state !== 'up') throw new ProbeLost('attach');
    return 0;
  }

  waitExit(timeoutMs: number): Promise<MachineExit | undefined> {
    if (this.exit) return Promise.resolve(this.exit);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(undefined), timeoutMs);
      this.exitWaiters.push(() => {
        clearTimeout(t);
        resolve(this.exit);
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (!this.exit) this.end({ description: 'QEMU was stopped by the harness' });
  }
}
