/**
 * Running scenarios on one target (arch × kernel): build, boot, run every
 * scenario's steps, reboot after a crash, and write each result as it
 * happens. One VM is reused across the target's scenarios; a scenario that
 * expects the kernel to die runs last, on a VM of its own.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { diffMeminfo, parseMeminfo } from '../analysis/meminfo.ts';
import { parseSplats, sectionsBySeq, type Splat } from '../analysis/splats.ts';
import { KharnessError } from '../errors.ts';
import { buildKernel, type KernelBuild } from '../kernel/build.ts';
import { parseConfig } from '../analysis/kconfig.ts';
import { buildModule, type ModuleBuild } from '../module/build.ts';
import { ProbeLost } from '../probe/client.ts';
import { formatRequest, sizeConstants } from '../probe/protocol.ts';
import { activeExpect, evaluate, needsMeminfo, stepEnv, type Facts } from '../scenario/expect.ts';
import { expandStep } from '../scenario/sweep.ts';
import { unmetReason, type TargetFacts } from '../scenario/requires.ts';
import type { Action, Scenario, Step } from '../scenario/types.ts';
import type { Log } from '../util/log.ts';
import { Guest, type Timeouts } from '../guest/guest.ts';
import type { ResultsWriter, StepRecord, TargetRef, TargetStatus } from './results.ts';

export interface TargetOptions {
  arch: string;
  kernel: string;
  scenarios: Scenario[];
  outDir: string;
  writer: ResultsWriter;
  log: Log;
  timeouts: Timeouts;
  memoryMb: number;
  smp: number;
  accel: 'auto' | 'kvm' | 'tcg';
  /** make -j. */
  jobs?: number;
  /** Serialises kernel builds across targets. */
  buildSlot?: <T>(fn: () => Promise<T>) => Promise<T>;
  signal?: AbortSignal;
}

/** Scenarios that keep the VM alive first; each crash-expecting one after, on its own VM. */
export function orderScenarios(scenarios: readonly Scenario[]): Scenario[] {
  return [...scenarios.filter((s) => !s.expectsCrash), ...scenarios.filter((s) => s.expectsCrash)];
}

function errorInfo(e: unknown) {
  return e instanceof KharnessError
    ? { code: e.code, message: e.message, hint: e.hint, details: e.details }
    : { code: 'INTERNAL', message: (e as Error)?.stack ?? String(e) };
}

export async function runTarget(o: TargetOptions): Promise<TargetStatus> {
  const target: TargetRef = { arch: o.arch, kernel: o.kernel };
  const w = o.writer;
  const dir = join(o.outDir, `${o.arch}-${o.kernel}`);
  await mkdir(dir, { recursive: true });
  w.write({ type: 'target-begin', target, at: new Date().toISOString() });
  const status = (phase: 'building' | 'booting' | 'running', detail?: string) => w.write({ type: 'status', target, phase, detail, at: new Date().toISOString() });
  status('building');

  const stepRecord = (s: Scenario, step: Step, fields: Partial<StepRecord> & Pick<StepRecord, 'status'>): StepRecord => ({
    type: 'step', target, scenario: s.name, scenarioFile: s.file, claims: s.claims, step: step.index, name: step.name,
    facts: {}, failures: [], splats: [], dmesg: [], ms: 0, at: new Date().toISOString(), ...fields,
  });
  const notRun = (from: { s: Scenario; steps: Step[] }[], status: 'skip' | 'error', reason: string) => {
    for (const { s, steps } of from) for (const step of steps) w.write(stepRecord(s, step, { status, reason }));
  };
  const end = (status: TargetStatus, e?: unknown) => {
    w.write({ type: 'target-end', target, status, error: e === undefined ? undefined : errorInfo(e), at: new Date().toISOString() });
    return status;
  };

  // Build.
  let kernel: KernelBuild;
  let module: ModuleBuild;
  try {
    const t0 = Date.now();
    const slot = o.buildSlot ?? ((fn) => fn());
    kernel = await slot(() => buildKernel(o.kernel, o.arch, { log: o.log, jobs: o.jobs }));
    Object.assign(target, { configHash: kernel.key, release: kernel.release });
    w.write({ type: 'target-phase', target, phase: 'kernel', ms: Date.now() - t0, detail: { key: kernel.key, buildMs: kernel.buildMs } });
    const t1 = Date.now();
    module = await buildModule(kernel, o.log);
    w.write({ type: 'target-phase', target, phase: 'module', ms: Date.now() - t1 });
  } catch (e) {
    notRun(o.scenarios.map((s) => ({ s, steps: s.steps })), 'error', `build failed: ${(e as Error).message}`);
    return end(e instanceof KharnessError && e.code !== 'BUILD' ? 'infra-failure' : 'build-failure', e);
  }

  // Requirements are checked against the built config, before anything boots.
  const facts: TargetFacts = { arch: o.arch, release: kernel.release, config: parseConfig(await readFile(kernel.configFile, 'utf8')) };
  const runnable: Scenario[] = [];
  for (const s of o.scenarios) {
    const why = unmetReason(s.requires, facts);
    if (why) notRun([{ s, steps: s.steps }], 'skip', why);
    else runnable.push(s);
  }

  let guest: Guest | undefined;
  let boot = 0;
  const bootGuest = async () => {
    boot++;
    status('booting', `boot ${boot}`);
    o.log.info(`booting ${o.arch}/${o.kernel} (boot ${boot})`);
    const g = await Guest.boot({ kernel, module, dir, boot, memoryMb: Math.max(o.memoryMb, kernel.memoryMb ?? 0), smp: o.smp, accel: o.accel, timeouts: o.timeouts, log: o.log });
    w.write({ type: 'guest', target, boot, consoleLog: g.vm.config.consoleLog, accel: g.accelReason, bootMs: g.bootMs, sshMs: g.sshMs, constants: g.constants });
    o.log.info(`  ready in ${(g.sshMs / 1000).toFixed(2)} s (${g.accelReason}); KMALLOC_MAX_SIZE=${g.constants.KMALLOC_MAX_SIZE} PAGE_SIZE=${g.constants.PAGE_SIZE}`);
    return g;
  };

  const ordered = orderScenarios(runnable);
  let seq = 0;
  try {
    for (const [si, s] of ordered.entries()) {
      if (o.signal?.aborted) throw new KharnessError('INTERRUPTED', 'interrupted');
      // A crash-expecting scenario gets a fresh VM; so does anything after a crash.
      if (s.expectsCrash && guest) {
        await guest.shutdown();
        guest = undefined;
      }
      try {
        guest ??= await bootGuest();
      } catch (e) {
        if (o.signal?.aborted) throw new KharnessError('INTERRUPTED', 'interrupted');
        notRun(ordered.slice(si).map((x) => ({ s: x, steps: x.steps })), 'error', `boot failed: ${(e as Error).message}`);
        return end(e instanceof KharnessError && (e.code === 'BOOT' || e.code === 'TIMEOUT') ? 'boot-failure' : 'infra-failure', e);
      }
      const g: Guest = guest;
      status('running', `scenario ${si + 1}/${ordered.length}: ${s.name}`);
      const constants = sizeConstants(g.constants);
      const before = await g.meminfo().catch(() => undefined);
      // Snapshots beside the console logs, as the guest printed them.
      const snapshot = (when: string, text?: string) => (text ? writeFile(join(dir, `meminfo-${s.name}-${when}.txt`), text).catch(() => undefined) : undefined);
      await snapshot('before', before);
      let died = false;
      for (const [i, step] of s.steps.entries()) {
        if (o.signal?.aborted) throw new KharnessError('INTERRUPTED', 'interrupted');
        const why = unmetReason(step.requires, facts);
        if (why) {
          w.write(stepRecord(s, step, { status: 'skip', reason: why }));
          continue;
        }
        let instances;
        try {
          instances = expandStep(step, constants);
        } catch (e) {
          w.write(stepRecord(s, step, { status: 'error', reason: `cannot expand the step: ${(e as Error).message}` }));
          continue;
        }
        for (const inst of instances) {
          const r = await runStep(g, ++seq, inst.action, constants, o.timeouts, o.signal, needsMeminfo(step.expect));
          const env = stepEnv(constants, inst.size, r.facts);
          const expect = activeExpect(step.expect, env);
          const failures = evaluate(expect, { facts: r.facts, splats: r.splats, crashed: r.crashed, meminfoDelta: r.meminfoDelta }, env);
          const status = r.error ? 'error' : failures.length ? 'fail' : expect.crash ? 'expected-crash' : 'pass';
          w.write(stepRecord(s, step, { name: inst.name, status, reason: r.error, request: r.request, facts: r.facts, failures, splats: r.splats, dmesg: r.dmesg, ms: r.ms, meminfoDelta: r.meminfoDelta }));
          if (r.crashed) {
            died = true;
            notRun([{ s, steps: s.steps.slice(i + 1) }], 'skip', `not run: the guest died in step "${inst.name}"`);
            break;
          }
        }
        if (died) break;
      }
      if (died) {
        await g.shutdown();
        guest = undefined;
        w.write({ type: 'scenario-end', target, scenario: s.name });
        continue;
      }
      const after = await g.meminfo().catch(() => undefined);
      await snapshot('after', after);
      const mb = before ? parseMeminfo(before) : undefined;
      const ma = after ? parseMeminfo(after) : undefined;
      w.write({ type: 'scenario-end', target, scenario: s.name, meminfoBefore: mb, meminfoAfter: ma, meminfoDelta: mb && ma ? diffMeminfo(mb, ma) : undefined });
    }
  } catch (e) {
    await guest?.shutdown();
    return end(e instanceof KharnessError && e.code === 'INTERRUPTED' ? 'interrupted' : 'infra-failure', e);
  }
  await guest?.shutdown();
  return end('ok');
}

interface StepRun {
  request?: string;
  meminfoDelta?: Record<string, number>;
  facts: Facts;
  splats: Splat[];
  dmesg: string[];
  crashed: boolean;
  error?: string;
  ms: number;
}

/** meminfo after - before, in bytes (the file says kB). */
function meminfoBytes(before: string, after: string): Record<string, number> {
  const d = diffMeminfo(parseMeminfo(before), parseMeminfo(after));
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v * 1024]));
}

async function runStep(g: Guest, seq: number, action: Action, constants: Record<string, number>, t: Timeouts, signal: AbortSignal | undefined, withMeminfo: boolean): Promise<StepRun> {
  let request: string;
  try {
    request = formatRequest(seq, action, constants);
  } catch (e) {
    return { facts: {}, splats: [], dmesg: [], crashed: false, error: `cannot build the request: ${(e as Error).message}`, ms: 0 };
  }
  let t0 = Date.now();
  try {
    const before = withMeminfo ? await g.meminfo() : undefined;
    t0 = Date.now();
    const resp = await g.probe.request(request, t.stepMs);
    const ms = Date.now() - t0;
    const meminfoDelta = before !== undefined ? meminfoBytes(before, await g.meminfo()) : undefined;
    // All the kernel printed for this request has arrived once its end marker has.
    await g.probe.kmsg.waitFor(new RegExp(`kalloc_probe: end seq=${seq}\\b`), 5000);
    const section = sectionsBySeq(g.probe.kmsg.records).get(seq);
    const dmesg = section?.lines ?? [];
    if (resp.status === 'error') {
      return { request, facts: resp.facts, splats: parseSplats(dmesg), dmesg, crashed: false, error: `probe error ${resp.errno}: ${resp.msg}`, ms };
    }
    return { request, facts: resp.facts, splats: parseSplats(dmesg), dmesg, crashed: false, ms, meminfoDelta };
  } catch (e) {
    // Ctrl-C killed QEMU under us: that is no crash of the kernel's.
    if (signal?.aborted) throw new KharnessError('INTERRUPTED', 'interrupted');
    if (!(e instanceof ProbeLost) && !(e instanceof KharnessError && e.code === 'TIMEOUT')) throw e;
    // The guest stopped answering: read why from the console, which outlives ssh.
    await g.vm.waitExit(t.crashMs);
    await g.vm.kill();
    const section = sectionsBySeq(g.vm.lines).get(seq);
    const dmesg = section?.lines ?? g.vm.lines.slice(-200);
    return { request, facts: {}, splats: parseSplats(dmesg), dmesg, crashed: true, ms: Date.now() - t0 };
  }
}
