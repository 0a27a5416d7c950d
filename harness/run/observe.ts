/**
 * Observing one step on a machine: send the request, watch the console and
 * the kernel log, and come back with what happened — facts, the kernel-log
 * section the request caused (read from a cursor, never re-parsing the whole
 * log), and whether the machine was lost and why. Judging is someone else's.
 *
 * How a step can end:
 * - a response: facts, and the section between the request's markers (a
 *   missing end marker is an error, not a pass on a truncated log);
 * - the guest stops answering and the console shows it dying: a death, read
 *   from the console, which outlives ssh;
 * - QEMU killed from outside: an error naming the signal;
 * - no answer within the step timeout: "step timed out after N s";
 * - nothing printed and nothing answered for the silence timeout:
 *   "console silent for N s".
 */
import { diffMeminfo, parseMeminfo } from '../analysis/meminfo.ts';
import { isFinding, parseSplats, type Splat, sectionsBySeq } from '../analysis/splats.ts';
import { InterruptedError, KharnessError, seconds, tail } from '../errors.ts';
import { ProbeLost } from '../probe/client.ts';
import { endMarker, formatRequest, MARKERS, type Response } from '../probe/protocol.ts';
import type { Observed } from '../scenario/judge.ts';
import type { ResolvedStep } from '../scenario/resolve.ts';
import type { LineLog } from '../util/lines.ts';
import type { Machine, MachineExit, Timeouts } from './machine.ts';

export interface Observation extends Observed {
  request: string;
  /** What a request that is not the probe's printed (insmod's message and exit status). */
  output?: string;
  /** Kernel log lines between the request's begin and end markers. */
  dmesg: string[];
  ms: number;
  /** The machine cannot be used again: it died, hung or was killed. */
  lost: boolean;
  /** Details for the record (a console tail) when the step is an error. */
  details?: string;
  /** Why nothing was sent: the step is a skip (a user module's unload after its load failed). */
  skipped?: string;
  /** Why the guest, alive, is not used again (lost is set): an oops killed a task where it stood. */
  untrusted?: string;
  /** The request never came back within the step's timeout (error says so; the guest still answered or printed). */
  timedOut?: boolean;
}

export interface ObserveOptions {
  timeouts: Timeouts;
  withMeminfo: boolean;
  signal?: AbortSignal;
}

/** How long the liveness ping may take before the guest counts as not answering. */
const PING_MS = 5000;
/** How long the kernel log may lag behind the response before its end marker counts as missing. */
const MARKER_MS = 5000;

type Ending =
  | { kind: 'response'; response: Response & { output?: string } }
  | { kind: 'lost' }
  | { kind: 'timeout' }
  | { kind: 'silent' }
  | { kind: 'fault'; message: string }
  | { kind: 'interrupted' };

/** meminfo after - before, in bytes (the file says kB). */
function meminfoBytes(before: string, after: string): Record<string, number> {
  const d = diffMeminfo(parseMeminfo(before), parseMeminfo(after));
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v * 1024]));
}

/** Resolves 'silent' once neither log has moved for silenceMs and the guest does not answer a ping. */
function silenceWatch(m: Machine, silenceMs: number, stop: AbortSignal): Promise<Ending> {
  return new Promise((resolve) => {
    let base = Date.now();
    let pinging = false;
    const tick = setInterval(
      async () => {
        const last = Math.max(base, m.console.lastLineAt, m.kmsg.lastLineAt);
        if (pinging || Date.now() - last < silenceMs) return;
        pinging = true;
        const alive = await m.ping(Math.min(PING_MS, silenceMs));
        pinging = false;
        if (stop.aborted) return;
        // A guest that answers is busy, not hung: the step timeout decides.
        if (alive) base = Date.now();
        else resolve({ kind: 'silent' });
      },
      Math.max(10, Math.min(1000, silenceMs / 4)),
    );
    stop.addEventListener('abort', () => clearInterval(tick), { once: true });
  });
}

/** Resolves when the run is interrupted; the listener goes when `done` aborts, so steps do not pile listeners up. */
function abortOf(signal: AbortSignal | undefined, done: AbortSignal): Promise<Ending> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve({ kind: 'interrupted' });
    const on = () => resolve({ kind: 'interrupted' });
    signal.addEventListener('abort', on, { once: true });
    done.addEventListener('abort', () => signal.removeEventListener('abort', on), { once: true });
  });
}

function sectionOf(log: LineLog, from: number, seq: number): { lines: string[]; ended: boolean } | undefined {
  return sectionsBySeq(log.slice(from), MARKERS).get(seq);
}

const splatsIn = (lines: string[]): Splat[] => parseSplats(lines, { boundary: MARKERS.any });

/** How long a console with no kernel report in the request's section must stay quiet before a lost guest is taken for alive. */
const QUIET_MS = 3000;

/**
 * After the guest stopped answering: wait for QEMU to exit (a panic under
 * -no-reboot) for up to crashMs, but stop early when the console stays quiet
 * with no kernel report for this request: nothing is dying, the connection was
 * lost (so an ssh drop costs seconds, not the whole crash wait).
 */
async function deathOrQuiet(m: Machine, consoleFrom: number, seq: number, crashMs: number): Promise<MachineExit | undefined> {
  const deadline = Date.now() + crashMs;
  while (Date.now() < deadline) {
    const exit = await m.waitExit(Math.min(250, deadline - Date.now()));
    if (exit) return exit;
    const reported = splatsIn(sectionOf(m.console, consoleFrom, seq)?.lines ?? m.console.slice(consoleFrom)).some(isFinding);
    if (!reported && Date.now() - m.console.lastLineAt > QUIET_MS) return undefined;
  }
  return undefined;
}

/**
 * What a step sends: its request line (for the record) and how it is sent.
 * The probe's requests go to the probe; a kernel test module's load runs in
 * the guest's shell, bracketed by the same kernel-log markers.
 */
export interface Act {
  request: string;
  send(m: Machine, timeoutMs: number): Promise<Response & { output?: string }>;
}

/**
 * An act that runs a script in the guest's shell (a kernel test module's load,
 * a user module's phase). The script ends by printing its exit status as a
 * line `rc` matches; without that line the shell never got there (the
 * connection dropped with the guest), so the machine is lost.
 */
export function shellAct(request: string, script: string, rc: RegExp): Act {
  return {
    request,
    async send(m, ms) {
      const r = await m.exec(script, { timeoutMs: ms });
      if (!rc.test(r.stdout)) throw new ProbeLost(request);
      return { status: 'ok', facts: {}, output: r.stdout };
    },
  };
}

export function observe(m: Machine, seq: number, r: ResolvedStep, o: ObserveOptions): Promise<Observation> {
  const request = formatRequest(seq, r.action);
  return observeAct(m, seq, { request, send: (mm, ms) => mm.request(request, ms) }, o);
}

export async function observeAct(m: Machine, seq: number, act: Act, o: ObserveOptions & { stepMs?: number }): Promise<Observation> {
  const t = { ...o.timeouts, stepMs: o.stepMs ?? o.timeouts.stepMs };
  const request = act.request;
  const { kmsg: kmsgFrom, console: consoleFrom } = m.cursor();
  const base = { request, facts: {}, splats: [] as Splat[], dmesg: [] as string[], crashed: false, lost: false };
  let before: string | undefined;
  try {
    before = o.withMeminfo ? await m.meminfo(t.stepMs) : undefined;
  } catch (e) {
    return lostWith(m, o, { ...base, lost: true, ms: 0 }, `reading /proc/meminfo before the step failed: ${(e as Error).message}`);
  }
  const t0 = Date.now();
  const stop = new AbortController();
  let ending: Ending;
  try {
    ending = await Promise.race([
      act.send(m, t.stepMs).then(
        (response): Ending => ({ kind: 'response', response }),
        (e): Ending => {
          if (e instanceof ProbeLost) return { kind: 'lost' };
          if (e instanceof KharnessError && e.code === 'TIMEOUT') return { kind: 'timeout' };
          return { kind: 'fault', message: (e as Error).message };
        },
      ),
      silenceWatch(m, t.silenceMs, stop.signal),
      abortOf(o.signal, stop.signal),
    ]);
  } finally {
    stop.abort();
  }
  const ms = Date.now() - t0;
  if (ending.kind === 'interrupted') throw new InterruptedError();

  if (ending.kind === 'fault')
    return lostWith(m, o, { ...base, lost: true, ms }, `the probe's answer could not be read: ${ending.message}`);
  if (ending.kind === 'response') {
    const resp = ending.response;
    let meminfoDelta: Record<string, number> | undefined;
    try {
      meminfoDelta = before !== undefined ? meminfoBytes(before, await m.meminfo(t.stepMs)) : undefined;
    } catch (e) {
      return lostWith(
        m,
        o,
        { ...base, facts: resp.facts, lost: true, ms },
        `reading /proc/meminfo after the step failed: ${(e as Error).message}`,
      );
    }
    // All the kernel printed for this request has arrived once its end marker has.
    const found = await m.kmsg.waitFor(endMarker(seq), kmsgFrom, Math.min(MARKER_MS, t.stepMs));
    const section = sectionOf(m.kmsg, kmsgFrom, seq);
    const dmesg = section?.lines ?? [];
    const obs = { ...base, facts: resp.facts, splats: splatsIn(dmesg), dmesg, ms, meminfoDelta, output: resp.output };
    // Ctrl-C while the kernel log caught up: no verdict on a log the interrupt may have cut.
    if (o.signal?.aborted) throw new InterruptedError();
    if (found === undefined) return { ...obs, error: `the kernel log never showed the end of request ${seq} (the log is cut short)` };
    if (resp.status === 'error') return { ...obs, error: `probe error ${resp.errno}: ${resp.msg}` };
    return obs;
  }

  // The machine is lost. Read why from the console, which outlives ssh.
  const exit = ending.kind === 'lost' ? await deathOrQuiet(m, consoleFrom, seq, t.crashMs) : undefined;
  // Ctrl-C while we waited killed QEMU under us: that is no crash of the kernel's.
  if (o.signal?.aborted) {
    await m.close();
    throw new InterruptedError();
  }
  const section = sectionOf(m.console, consoleFrom, seq);
  const consoleLines = section?.lines ?? m.console.slice(consoleFrom);
  const splats = splatsIn(consoleLines);
  const details = `console:\n${tail(m.console.slice(Math.max(0, m.console.length - 30)).join('\n'), 30)}`;
  const lost = { ...base, lost: true, splats, dmesg: consoleLines.slice(0, 200), ms, details };
  await m.close();
  if (ending.kind === 'timeout') return { ...lost, error: `step timed out after ${seconds(t.stepMs)} s`, timedOut: true };
  if (ending.kind === 'silent')
    return { ...lost, error: `console silent for ${seconds(t.silenceMs)} s: the guest printed nothing and did not answer` };
  if (exit?.killedBy) return { ...lost, error: `${exit.description} (from outside the harness)` };
  // The kernel's own account of its death, or QEMU gone by itself: the guest died in this step.
  // An injected failure's report is the kernel doing what it was asked: not a sign of dying.
  if (exit || splats.some(isFinding)) return { ...lost, crashed: true };
  return { ...lost, error: 'the ssh connection to the guest dropped during the step, and the console shows no kernel report' };
}

/** The machine cannot be trusted any more: close it, and say why (an interrupt is not the machine's fault). */
async function lostWith(m: Machine, o: ObserveOptions, obs: Observation, why: string): Promise<Observation> {
  await m.close();
  if (o.signal?.aborted) throw new InterruptedError();
  return { ...obs, error: why };
}
