/**
 * The user's module as steps: load it (with its parameters), exercise it
 * with shell commands in the guest, unload it, or all three `count` times.
 * Each phase is an instance of its own, bracketed by the same kernel-log
 * markers as a probe request, so a kernel report is the phase's that caused
 * it; its lifecycle (silence, timeout, a dying guest) is the probe's:
 * observeAct. What a phase leaves on one machine (the module uploaded, the
 * meminfo before its load) is kept per machine here, not in the loop.
 *
 * The module reaches the guest by its name from its Kbuild (checked when it
 * was built), never by its host path, and the path never reaches a shell.
 */
import { readFile } from 'node:fs/promises';
import { isEnabled } from '../../analysis/kconfig.ts';
import {
  fingerprint,
  kmemleakBroken,
  type Leak,
  type ModuleSymbol,
  moduleSymbols,
  parseKmemleak,
  resolveFrames,
} from '../../analysis/kmemleak.ts';
import { parseMeminfo } from '../../analysis/meminfo.ts';
import { SPLAT_KINDS, type Splat } from '../../analysis/splats.ts';
import type { Facts } from '../../probe/vocabulary.ts';
import { activeExpect, evaluate, stepEnv } from '../../scenario/expect.ts';
import type { Expect, ModuleAction, ModuleParams, StepOf } from '../../scenario/types.ts';
import type { Machine } from '../machine.ts';
import { type Observation, observeAct, shellAct } from '../observe.ts';
import type { StepFields } from '../recorder.ts';
import type { Instance, StepEnv, StepKind } from './kind.ts';

const RC = /^kharness-rc=(-?\d+)$/m;
/** Where modules and exercising commands are put in the guest. */
export const GUEST_DIR = '/tmp/kharness-module';
/** Output kept as a fact. */
const OUTPUT_MAX = 4096;

export type Phase = 'load' | 'exec' | 'unload';

/** One phase of one module step. */
export interface ModuleInstance extends Instance {
  phase: Phase;
  /** The module's name (as the kernel knows it: dashes become underscores) and its .ko on the host. */
  module: string;
  ko: string;
  params: ModuleParams;
  command?: string;
  cycle?: number;
  timeoutMs?: number;
}

/** What a machine holds of the user's module between steps. */
interface MachineState {
  /** Modules already copied into this guest. */
  uploaded: Set<string>;
  /** /proc/meminfo read before each loaded module's load. */
  before: Map<string, Record<string, number>>;
  /** Each module's symbols, read while it was loaded: a leak reported after its unload still names its frames. */
  symbols: Map<string, ModuleSymbol[]>;
  /** kmemleak's reports of what happened before the first module step (boot) are flushed. */
  flushed?: boolean;
  /** Modules loaded in this guest, by the last load that succeeded and no unload since. */
  loaded: Set<string>;
  /** Why a module is not loaded (its load failed) or is still loaded (its unload failed): the reason its next phases are skipped. */
  why: Map<string, string>;
  /** The tasks (pids) that ran each module's loads and exercises: kmemleak names the task that allocated an object. */
  owners: Map<number, string>;
}
const STATE = new WeakMap<Machine, MachineState>();
export function stateOf(m: Machine): MachineState {
  const s = STATE.get(m) ?? {
    uploaded: new Set<string>(),
    before: new Map<string, Record<string, number>>(),
    symbols: new Map(),
    loaded: new Set<string>(),
    why: new Map<string, string>(),
    owners: new Map<number, string>(),
  };
  STATE.set(m, s);
  return s;
}

/** Module parameters as insmod takes them (booleans as 1/0); their text was checked when the scenario loaded. */
export function insmodArgs(params: ModuleParams): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === 'boolean' ? (v ? 1 : 0) : v}`)
    .join(' ');
}

/**
 * The guest shell script of request `seq`: `body` (which sets rc) between the
 * request's kernel-log markers, then its exit status as a line RC matches.
 */
function phaseScript(seq: number, what: string, body: string): string {
  return [
    `echo "kalloc_probe: begin seq=${seq} cmd=module ${what}" > /dev/kmsg`,
    body,
    `echo "kalloc_probe: end seq=${seq}" > /dev/kmsg`,
    'echo "kharness-rc=$rc"',
  ].join('\n');
}

/** One phase in the guest's shell as the target's next request: its observation (output, kernel-log section, lifecycle). */
export function runPhase(m: Machine, g: StepEnv, what: string, request: string, body: string, timeoutMs?: number): Promise<Observation> {
  const seq = g.nextSeq();
  return observeAct(m, seq, shellAct(request, phaseScript(seq, what, body), RC), {
    timeouts: g.timeouts,
    withMeminfo: false,
    signal: g.signal,
    stepMs: timeoutMs,
  });
}

/**
 * What one phase runs. The module reaches insmod through a pipe, as the
 * kernel's test modules do (steps/kernel-test.ts): busybox's insmod retries a
 * failed finit_module() with init_module(), which would run an init that
 * returned an error a second time.
 */
function phaseBody(inst: PhaseOf): string {
  if (inst.phase === 'load') return namedTask(`cat ${GUEST_DIR}/${inst.module}.ko | insmod /proc/self/fd/0 ${insmodArgs(inst.params)}`);
  if (inst.phase === 'unload') return `rmmod ${inst.module} 2>&1; rc=$?`;
  return namedTask(`sh ${GUEST_DIR}/exercise.sh`);
}

/** What a phase needs of its instance: which, of what module, with what. */
type PhaseOf = Pick<ModuleInstance, 'phase' | 'module' | 'params' | 'command' | 'timeoutMs'>;

/** One phase of a module (load, exercise, unload) as the target's next request. */
export function runModulePhase(m: Machine, g: StepEnv, inst: PhaseOf): Promise<Observation> {
  return runPhase(m, g, `phase=${inst.phase} module=${inst.module}`, requestOf(inst), phaseBody(inst), inst.timeoutMs);
}

/**
 * A guest command run so that its task is named: its exit status in rc, its
 * pid on a line of its own (taskOf). kmemleak says which task allocated each
 * object it reports.
 */
export const namedTask = (cmd: string) => `${cmd} 2>&1 & p=$!; wait $p; rc=$?; echo "kharness-pid=$p"`;

const PID_LINE = /^kharness-pid=(\d+)\n?/m;

/** The task namedTask ran, from a phase's output. */
export const taskOf = (output: string | undefined): number | undefined => Number(PID_LINE.exec(output ?? '')?.[1]) || undefined;

/** A phase's exit status, from its output (-1 when it printed none). */
export const rcOf = (output: string | undefined): number => Number(RC.exec(output ?? '')?.[1] ?? -1);

/** What a phase's command printed, without the harness's own lines (its exit status and task). */
export const phaseOutput = (output: string | undefined) => (output ?? '').replace(RC, '').replace(PID_LINE, '').trim();

/**
 * Whether kmemleak's object was allocated by a task of another module's load
 * or exercise in this guest. After an unload the module's frames are bare
 * addresses, named from its symbols; a module loaded later at the same
 * addresses would otherwise take an earlier module's late-reported leak as
 * its own (seen: the 1 MiB vmalloc of leak-on-unload reported during the next
 * module's unload on x86_64 6.1-debug). Pure.
 */
export function allocatedByAnother(leak: Pick<Leak, 'pid'>, module: string, owners: ReadonlyMap<number, string>): boolean {
  const owner = leak.pid === undefined ? undefined : owners.get(leak.pid);
  return owner !== undefined && owner !== module;
}

/** Whether an oops (or a panic) killed a phase's task where it stood, locks held: the guest answers, but is not used again. */
export const oopsed = (splats: readonly Pick<Splat, 'kind'>[]): boolean => splats.some((x) => x.kind === 'oops' || x.kind === 'panic');

/** What a phase that never returned was waiting for. */
const HUNG: Record<Phase, (module: string) => string> = {
  load: (m) => `insmod never returned: ${m}'s init hangs`,
  unload: (m) => `rmmod never returned: ${m}'s exit hangs`,
  exec: () => 'the exercise command never returned',
};

/** What a phase that did not succeed did, in words: the reason on its record (its output is insmod's, rmmod's or the command's). */
export function phaseFailed(inst: Pick<ModuleInstance, 'phase' | 'module'>, facts: Record<string, unknown>): string | undefined {
  if (facts.ok !== false) return undefined;
  const said = String(facts.output ?? '').split('\n')[0] || 'no output';
  const what = {
    load: `${inst.module}'s init failed`,
    unload: `${inst.module} could not be unloaded`,
    exec: 'the exercise command failed',
  }[inst.phase];
  return `${what} (exit ${facts.rc}): ${said}`;
}

/** What the record shows as the phase's request. */
function requestOf(inst: PhaseOf): string {
  if (inst.phase === 'load') return `insmod ${inst.module}.ko ${insmodArgs(inst.params)}`.trim();
  if (inst.phase === 'unload') return `rmmod ${inst.module}`;
  return inst.command!;
}

/**
 * The guest script that reads where a loaded module's text lies: its .text
 * section, /proc/vmallocinfo and its symbols. vmallocinfo prints %pK, which
 * with kptr_restrict=0 (Debian's default) is a hashed value; with 1 root
 * (CAP_SYSLOG) reads the real addresses, so it is 1 for the read and put back.
 */
export function placementScript(module: string): string {
  return [
    'k=$(cat /proc/sys/kernel/kptr_restrict 2>/dev/null)',
    '[ "$k" = 0 ] && echo 1 > /proc/sys/kernel/kptr_restrict',
    `cat /sys/module/${module}/sections/.text; echo ---; cat /proc/vmallocinfo; echo ---; grep '\\[${module}\\]$' /proc/kallsyms`,
    '[ "$k" = 0 ] && echo 0 > /proc/sys/kernel/kptr_restrict',
    'true',
  ].join('\n');
}

/**
 * The module's .text start and the /proc/vmallocinfo area around it
 * (module_alloc on 6.1, execmem_vmalloc on 6.12). A kernel that hashes the
 * pointers that file prints (Debian's: "0x00000000bf00dd45-0x...") says
 * nothing about where the text is: the area is then unknown, not none.
 */
export function placement(text: string, vmallocinfo: string): Facts {
  const addr = /^0x([0-9a-f]+)$/m.exec(text.trim())?.[1];
  if (!addr) return {};
  const a = BigInt(`0x${addr}`);
  const starts = [...vmallocinfo.matchAll(/^0x([0-9a-f]+)-/gm)].map((m) => BigInt(`0x${m[1]}`));
  // Kernel addresses have their top bits set (x86_64 and arm64); a hashed pointer is a 32-bit value.
  if (starts.length && starts.every((x) => x < 1n << 32n)) return { text_addr: `0x${addr}`, vmalloc_caller: 'unknown (hashed pointers)' };
  for (const line of vmallocinfo.split('\n')) {
    const m = /^0x([0-9a-f]+)-0x([0-9a-f]+)\s+\d+\s+(\S+)/.exec(line);
    if (m && BigInt(`0x${m[1]}`) <= a && a < BigInt(`0x${m[2]}`))
      return { text_addr: `0x${addr}`, in_vmalloc_area: true, vmalloc_caller: m[3]!.replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+$/, '') };
  }
  return { text_addr: `0x${addr}`, in_vmalloc_area: false, vmalloc_caller: 'none' };
}

const MEMINFO_DELTAS = { MemAvailable: 'mem_available_delta', SUnreclaim: 'sunreclaim_delta', VmallocUsed: 'vmalloc_used_delta' } as const;

/** Memory a load/unload cycle did not give back: after the unload less before the load, in bytes. */
export function unloadDeltas(before: Record<string, number>, after: Record<string, number>): Facts {
  const out: Facts = {};
  for (const [field, fact] of Object.entries(MEMINFO_DELTAS)) {
    if (before[field] !== undefined && after[field] !== undefined) out[fact] = (after[field]! - before[field]!) * 1024;
  }
  return out;
}

/**
 * With no expectations of its own, a module phase is expected to succeed and
 * to make the kernel report nothing: any report in its section is a finding.
 */
function defaults(blocks: Expect, pos: StepOf<ModuleAction>['pos']): Expect {
  const out: Expect = { ...blocks, facts: { ...blocks.facts } };
  if (!('ok' in out.facts) && !('rc' in out.facts)) out.facts.ok = { matcher: true, pos };
  if (!out.dmesg && !out.crash) out.dmesg = { none: SPLAT_KINDS.map((kind) => ({ kind })), pos };
  return out;
}

const KMEMLEAK = '/sys/kernel/debug/kmemleak';
/**
 * kmemleak reports an object only once it is MSECS_MIN_AGE (5 s, both 6.1
 * and 6.12; its documentation still says 1 s) old and its checksum stayed
 * the same over two scans (6.12 starts every checksum at ~0, so a first scan
 * never reports): so scan, wait until the phase's objects are old enough,
 * scan again, read. A little over 5 s, for the guest's clock.
 */
const KMEMLEAK_AGE_MS = 5500;

/** Writes commands to kmemleak's control file in order; why it refused one, if it did. */
export async function kmemleakDo(m: Machine, cmds: string[], g: StepEnv): Promise<string | undefined> {
  const script = cmds.map((c) => `echo ${c} > ${KMEMLEAK} 2>/dev/null || { echo "kharness-kmemleak-refused=${c}"; exit 0; }`).join('\n');
  const r = await m.exec(script, { timeoutMs: g.timeouts.stepMs });
  const refused = /kharness-kmemleak-refused=(\S+)/.exec(r.stdout)?.[1];
  if (!refused) return undefined;
  return `kmemleak refused "${refused}" (${kmemleakBroken(m.kmsg.slice(0)) ?? 'no reason in the kernel log'}): its silence would prove nothing`;
}

/**
 * After a phase, while the module is still loaded (its frames resolve):
 * scan, wait out the minimum age from the phase's end, scan, read, and
 * clear what was read so the next phase reports only its own.
 */
export async function kmemleakPhase(m: Machine, endedAt: number, g: StepEnv): Promise<{ leaks: Leak[] } | { error: string }> {
  const first = await kmemleakDo(m, ['scan'], g);
  if (first) return { error: first };
  const wait = KMEMLEAK_AGE_MS - (Date.now() - endedAt);
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const second = await kmemleakDo(m, ['scan'], g);
  if (second) return { error: second };
  const report = await m.exec(`cat ${KMEMLEAK}`, { timeoutMs: g.timeouts.stepMs });
  const cleared = await kmemleakDo(m, ['clear'], g);
  if (cleared) return { error: cleared };
  const broken = kmemleakBroken(m.kmsg.slice(0));
  if (broken) return { error: `kmemleak stopped working (${broken}): its silence would prove nothing` };
  return { leaks: parseKmemleak(report.stdout) };
}

/** A leak as a kernel report of the phase: its frames named (from the module's symbols when it is gone) and fingerprinted. */
export function leakSplat(leak: Leak, module: string, symbols: readonly ModuleSymbol[]): Splat {
  const named = resolveFrames(leak, module, symbols);
  const first = named.frames.find((f) => f.module === module);
  const resolved = named.frames.filter((f) => f.addr !== undefined && f.func).map((f) => `    ${f.text}`);
  return {
    kind: 'kmemleak',
    title: leak.lines[0]!,
    func: first?.func,
    line: 0,
    lines: [...leak.lines, ...resolved],
    fingerprint: fingerprint(named),
  };
}

/** Whether a leak is the module's: a frame of its own, named or resolved. */
export const ofModule = (leak: Leak, module: string, symbols: readonly ModuleSymbol[]) =>
  resolveFrames(leak, module, symbols).frames.some((f) => f.module === module);

export async function upload(m: Machine, inst: Pick<ModuleInstance, 'ko' | 'module'>, g: StepEnv): Promise<void> {
  const s = stateOf(m);
  if (s.uploaded.has(inst.ko)) return;
  await m.exec(`mkdir -p ${GUEST_DIR} && cat > ${GUEST_DIR}/${inst.module}.ko`, {
    stdin: await readFile(inst.ko),
    timeoutMs: g.timeouts.stepMs,
  });
  s.uploaded.add(inst.ko);
}

async function meminfo(m: Machine, g: StepEnv): Promise<Record<string, number> | undefined> {
  return m
    .meminfo(g.timeouts.stepMs)
    .then(parseMeminfo)
    .catch(() => undefined);
}

export const moduleStep: StepKind<ModuleAction, ModuleInstance> = {
  /** A step that expects a kmemleak report on a kernel without kmemleak. */
  unmet(step, t) {
    const wantsLeak = step.expect.some((b) => b.expect.dmesg?.has?.some((p) => p.kind === 'kmemleak'));
    return wantsLeak && !isEnabled(t.config, 'CONFIG_DEBUG_KMEMLEAK') ? 'kernel config lacks CONFIG_DEBUG_KMEMLEAK (kmemleak)' : undefined;
  },

  async resolve(step, g) {
    const a = step.action;
    if (!g.userModule)
      return { status: 'error', reason: 'no module to load: give `kharness run --module DIR`, or `module:` in the scenario' };
    const built = await g.userModule(a.dir);
    if (!built.ok) return { status: built.infra ? 'error' : 'fail', reason: built.error, details: built.details };
    const base = { module: built.name, ko: built.ko, timeoutMs: a.timeoutMs };
    switch (a.kind) {
      case 'module-load':
        return [{ ...base, name: step.name, phase: 'load', params: a.params }];
      case 'module-exec':
        return [{ ...base, name: step.name, phase: 'exec', params: {}, command: a.command }];
      case 'module-unload':
        return [{ ...base, name: step.name, phase: 'unload', params: {} }];
      case 'module-cycles': {
        const out: ModuleInstance[] = [];
        for (let cycle = 1; cycle <= a.count; cycle++) {
          const at = `${step.name}: cycle ${cycle}`;
          out.push({ ...base, name: `${at} load`, phase: 'load', params: a.params, cycle });
          for (const [i, command] of a.exec.entries()) {
            const name = `${at} exercise${a.exec.length > 1 ? ` ${i + 1}` : ''}`;
            out.push({ ...base, name, phase: 'exec', params: {}, command, cycle });
          }
          out.push({ ...base, name: `${at} unload`, phase: 'unload', params: {}, cycle });
        }
        return out;
      }
    }
  },

  async observe(m, _step, inst, g) {
    const s = stateOf(m);
    // A phase that cannot mean anything now is not run: exercising or unloading a module whose load failed, loading one still loaded.
    const loaded = s.loaded.has(inst.module);
    if (loaded === (inst.phase === 'load')) {
      const why = s.why.get(inst.module);
      const skipped = loaded
        ? `${inst.module} is still loaded${why ? `: ${why}` : ''}`
        : `${inst.module} is not loaded${why ? `: ${why}` : ''}`;
      return { request: requestOf(inst), facts: {}, splats: [], dmesg: [], crashed: false, lost: false, ms: 0, skipped };
    }
    const kmemleak = isEnabled(g.facts.config, 'CONFIG_DEBUG_KMEMLEAK');
    if (kmemleak && !s.flushed) {
      // What the boot left behind is not the module's: reported once, then cleared.
      const refused = await kmemleakDo(m, ['scan=off', 'scan', 'scan', 'clear'], g);
      if (refused)
        return { request: 'kmemleak flush', facts: {}, splats: [], dmesg: [], crashed: false, lost: false, ms: 0, error: refused };
      s.flushed = true;
    }
    if (inst.phase === 'load') {
      await upload(m, inst, g);
      const before = await meminfo(m, g);
      if (before) s.before.set(inst.module, before);
    }
    // The command goes as a file: whatever it holds, the markers around it stay the harness's.
    if (inst.phase === 'exec')
      await m.exec(`mkdir -p ${GUEST_DIR} && cat > ${GUEST_DIR}/exercise.sh`, { stdin: inst.command!, timeoutMs: g.timeouts.stepMs });
    const obs = await runModulePhase(m, g, inst);
    if (obs.lost || obs.error) return obs;
    const endedAt = Date.now();
    const rc = rcOf(obs.output);
    const pid = taskOf(obs.output);
    if (pid) s.owners.set(pid, inst.module);
    const facts: Facts = { rc, ok: rc === 0, output: phaseOutput(obs.output).slice(0, OUTPUT_MAX) };
    if (inst.cycle !== undefined) facts.cycle = inst.cycle;
    if (inst.phase !== 'exec') {
      if ((inst.phase === 'load') === (rc === 0)) s.loaded.add(inst.module);
      else s.loaded.delete(inst.module);
      if (rc === 0) s.why.delete(inst.module);
      else
        s.why.set(
          inst.module,
          `its ${inst.phase}${inst.cycle ? ` in cycle ${inst.cycle}` : ''} failed (${String(facts.output) || `exit ${rc}`})`,
        );
    }
    // An oops killed the task in the kernel (insmod, rmmod, the command) where it stood, locks held: the guest is not used again.
    if (oopsed(obs.splats)) return { ...obs, facts: { ...obs.facts, ...facts }, lost: true, untrusted: 'the kernel oopsed' };
    if (inst.phase === 'load' && rc === 0) {
      const where = await m.exec(placementScript(inst.module), { timeoutMs: g.timeouts.stepMs }).catch(() => undefined);
      if (where) {
        const [text = '', areas = '', syms = ''] = where.stdout.split('\n---\n');
        Object.assign(facts, placement(text, areas));
        s.symbols.set(inst.module, moduleSymbols(syms, inst.module));
      }
    }
    let splats = obs.splats;
    let dmesg = obs.dmesg;
    if (kmemleak) {
      const found = await kmemleakPhase(m, endedAt, g);
      if ('error' in found) return { ...obs, facts: { ...obs.facts, ...facts }, error: found.error };
      const syms = s.symbols.get(inst.module) ?? [];
      const mine = found.leaks.filter((l) => !allocatedByAnother(l, inst.module, s.owners) && ofModule(l, inst.module, syms));
      facts.leaks = mine.length;
      facts.leaked_bytes = mine.reduce((n, l) => n + l.size, 0);
      splats = [...splats, ...mine.map((l) => leakSplat(l, inst.module, syms))];
      // Leaks with no frame of the module's are kept as evidence, not counted against it.
      const others = found.leaks.filter((l) => !mine.includes(l));
      if (others.length)
        dmesg = [
          ...dmesg,
          `kharness: kmemleak also reported ${others.length} object(s) with no frame in ${inst.module}:`,
          ...others.flatMap((l) => l.lines),
        ];
    }
    if (inst.phase === 'unload' && rc === 0) {
      const before = s.before.get(inst.module);
      const after = await meminfo(m, g);
      s.before.delete(inst.module);
      if (before && after) Object.assign(facts, unloadDeltas(before, after));
    }
    return { ...obs, splats, dmesg, facts: { ...obs.facts, ...facts } };
  },

  judge(step, inst, obs, g) {
    const record: Omit<StepFields, 'status'> = {
      name: inst.name,
      request: obs.request,
      facts: obs.facts,
      splats: obs.splats,
      dmesg: obs.dmesg,
      ms: obs.ms,
      details: obs.error ? obs.details : undefined,
    };
    // The module's own code that never returns (its init, its exit, what the command calls into) is a finding, not a harness failure.
    if (obs.timedOut)
      return [{ ...record, status: 'fail', reason: `${HUNG[inst.phase](inst.module)}: ${obs.error}`, details: obs.details }];
    if (obs.error) return [{ ...record, status: 'error', reason: obs.error }];
    if (obs.skipped) return [{ ...record, status: 'skip', reason: obs.skipped }];
    const env = stepEnv(g.constants, undefined, obs.facts as Facts);
    const expect = defaults(activeExpect(step.expect, env), step.pos);
    const failures = evaluate(expect, obs, env).map((f) => ({ ...f, pos: f.pos ?? step.pos }));
    if (failures.length) return [{ ...record, status: 'fail', failures, reason: phaseFailed(inst, obs.facts) }];
    return [{ ...record, status: expect.crash ? 'expected-crash' : 'pass', failures: [] }];
  },

  lost(inst, obs) {
    const where = `step "${inst.name}" (${inst.phase === 'exec' ? 'exercise' : inst.phase} of ${inst.module})`;
    if (!obs) return `the harness failed in ${where}`;
    if (obs.untrusted) return `${obs.untrusted} in ${where}, so the guest is not used again`;
    return obs.crashed ? `the guest died in ${where}` : `${obs.error} in ${where}`;
  },
};
