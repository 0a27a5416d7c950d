/**
 * Every planned step gets exactly one record, whatever way the target ends:
 * a guest dying, an ssh connection dropping or a step hanging at each
 * request in turn, an interrupt at each request, a boot that fails, a
 * prepare that fails, an interrupt before the target begins or in the
 * second run of a --repeat, a bug in the middle of the run. On the fake
 * machine, with a real kernel test's captured log.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KharnessError, PhaseTimeoutError } from '../../harness/errors.ts';
import { KERNEL_TESTS } from '../../harness/ktest/catalog.ts';
import type { ResultRecord, StepRecord, TargetStatus } from '../../harness/results/records.ts';
import { ResultsWriter } from '../../harness/results/writer.ts';
import { DEFAULT_TIMEOUTS, type Timeouts } from '../../harness/run/machine.ts';
import type { Prepare } from '../../harness/run/phases.ts';
import { loadScript } from '../../harness/run/steps/kernel-test.ts';
import { runTarget } from '../../harness/run/target.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import type { Scenario } from '../../harness/scenario/types.ts';
import { type Act, CONSTANTS_6_1, capturedSection, fakeFleet, fixtureLines, OK_ALLOC, type Script } from './fake-machine.ts';

const FAST: Timeouts = { ...DEFAULT_TIMEOUTS, stepMs: 300, silenceMs: 150, crashMs: 200, loadMs: 200, bootMs: 200, sshMs: 200 };
const ARM64_DEATH = capturedSection('console-6.1-arm64-vmalloc-hardirq.log', 69);
/** test_meminit's lines on 6.1 x86_64 booted with init_on_alloc=0 init_on_free=0, without their timestamps (the fake adds its own). */
const MEMINIT = fixtureLines('ktest/6.1-x86_64-test_meminit-init-off.log')
  .filter((l) => l.trim())
  .map((l) => l.replace(/^\[[^\]]*\]\s*/, ''));
const MEMINIT_SHELL = "insmod: can't insert '/proc/self/fd/0': Invalid argument\nkharness-rc=1";

const sc = (name: string, body: string): Scenario => parseScenario(`name: ${name}\n${body}`, `${name}.yaml`);
/** In the order they run: requirements skip `elsewhere` first; kernel tests after probe scenarios; the crash last. */
const SCENARIOS = [
  sc('elsewhere', 'requires: { arch: [arm64] }\nsteps:\n  - name: never\n    unfragment: true\n'),
  sc('plain', 'steps:\n  - name: s1\n    alloc: { api: kmalloc, size: 4096 }\n  - name: s2\n    alloc: { api: kmalloc, size: 4096 }\n'),
  sc('sweep', 'steps:\n  - name: sizes\n    sweep: { size: [64, 4KiB, 8KiB] }\n    alloc: { api: kmalloc }\n    expect: { ok: true }\n'),
  sc('meminit', 'steps:\n  - name: test_meminit\n    kernel_test: { module: test_meminit }\n'),
  sc(
    'dies',
    'steps:\n  - name: vmalloc in hard IRQ\n    alloc: { api: vmalloc, size: 4096, ctx: hardirq }\n    expect: { crash: { kind: bug } }\n',
  ),
];
const SWEPT = ['sizes [64 B]', 'sizes [4 KiB]', 'sizes [8 KiB]'];
/** Requests of one run that goes as planned: plain's two, the sweep's three, the kernel test's load, the crash. */
const REQUESTS = [1, 2, 3, 4, 5, 6, 7];

/** The guest as it behaves: a kernel test's load prints test_meminit's results, vmalloc in hard IRQ dies, the rest answers. */
const kernelLike: Script = (req) => {
  if (/cmd=ktest/.test(req)) return { reply: MEMINIT_SHELL, kmsg: MEMINIT };
  return /api=vmalloc.*ctx=hardirq/.test(req) ? { die: ARM64_DEATH } : { reply: OK_ALLOC };
};

interface Case {
  /** The guest does this at request number `at` (every request number is its own: they count on across machines and runs). */
  at?: number;
  act?: Act | 'interrupt';
  bootFails?: number;
  prepareFails?: boolean;
  abortedBefore?: boolean;
  repeat?: number;
  /** A reporter throws on the status record of this scenario starting: a bug in the middle of the run. */
  bugAt?: string;
  /** Other scenarios than SCENARIOS. */
  scenarios?: Scenario[];
}

async function run(c: Case) {
  const ctl = new AbortController();
  if (c.abortedBefore) ctl.abort();
  const script: Script = (req, seq, boot) => {
    if (seq !== c.at || !c.act) return kernelLike(req, seq, boot);
    if (c.act !== 'interrupt') return c.act;
    ctl.abort();
    return kernelLike(req, seq, boot);
  };
  const fleet = fakeFleet(script, {
    constants: { ...CONSTANTS_6_1, INIT_ON_FREE: false },
    bootFails: (n) => (n === c.bootFails ? new PhaseTimeoutError('boot to console marker', 200) : undefined),
  });
  const dir = mkdtempSync(join(tmpdir(), 'kharness-ledger-'));
  const ko = join(dir, 'test_meminit.ko');
  writeFileSync(ko, 'not really a module');
  const records: ResultRecord[] = [];
  const bug = (r: ResultRecord) => {
    if (c.bugAt && r.type === 'status' && r.detail?.endsWith(`: ${c.bugAt}`)) throw new TypeError('a reporter tripped');
  };
  const writer = new ResultsWriter(join(dir, 'results.jsonl'), [(r) => records.push(r), bug]);
  const prepare: Prepare = async () => {
    if (c.prepareFails) throw new KharnessError('BUILD', 'make failed');
    const config = new Map([
      ['CONFIG_SLUB', 'y'],
      ['CONFIG_TEST_MEMINIT', 'm'],
    ]);
    return {
      key: 'k',
      release: '6.1.192',
      config,
      boot: fleet.factory,
      testModule: async (name) => (name === 'test_meminit' ? ko : undefined),
    };
  };
  const status: TargetStatus = await runTarget({
    arch: 'x86_64',
    kernel: '6.1',
    scenarios: c.scenarios ?? SCENARIOS,
    outDir: dir,
    writer,
    log: { verbose: false, info: () => {}, warn: () => {} },
    settings: { memoryMb: 512, smp: 2, accel: 'tcg', timeouts: FAST },
    signal: ctl.signal,
    prepare,
    repeat: c.repeat,
  });
  return { status, records, open: fleet.open(), machines: fleet.machines, ko };
}

/** A step's own records, not a kernel test's cases: "run › scenario › name". */
const label = (r: StepRecord) => `${r.repeat ?? '-'} › ${r.scenario} › ${r.name}`;

/**
 * What the target owed, in plan order: every step of every scenario once, a
 * sweep as its sizes once it was resolved (`expanded`), else as itself.
 * `runs`: the runs whose steps were planned (the requirement skips come once, before them).
 */
function owed(records: StepRecord[], runs: (number | undefined)[], requirements: boolean): string[] {
  const expanded = new Set(records.filter((r) => r.scenario === 'sweep' && r.name !== 'sizes').map((r) => r.repeat));
  const names = (s: Scenario, run?: number) =>
    s.steps
      .flatMap((step) => (s.name === 'sweep' && expanded.has(run) ? SWEPT : [step.name]))
      .map((n) => `${run ?? '-'} › ${s.name} › ${n}`);
  if (!requirements) return SCENARIOS.flatMap((s) => names(s));
  return [...names(SCENARIOS[0]!), ...runs.flatMap((n) => SCENARIOS.slice(1).flatMap((s) => names(s, n)))];
}

async function ledgerOf(c: Case, want?: TargetStatus) {
  const r = await run(c);
  const steps = r.records.filter((x): x is StepRecord => x.type === 'step' && x.kernelTest?.case === undefined);
  const requirements = !c.prepareFails && !c.abortedBefore;
  const runs = c.repeat ? Array.from({ length: c.repeat }, (_, i) => i + 1) : [undefined];
  expect(steps.map(label)).toEqual(owed(steps, runs, requirements));
  expect(r.records.at(-1)?.type).toBe('target-end');
  expect(r.records.filter((x) => x.type === 'target-end')).toHaveLength(1);
  expect(r.open).toBe(0);
  if (want) expect(r.status).toBe(want);
  return { ...r, steps };
}
const expectLedger = async (c: Case, want?: TargetStatus): Promise<void> => void (await ledgerOf(c, want));

describe('the ledger: every planned step gets exactly one record, on every exit path', () => {
  it('a run that goes as planned', async () => {
    const r = await ledgerOf({}, 'ok');
    expect(r.steps.map((s) => s.status)).toEqual(['skip', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'expected-crash']);
  });

  it.each(REQUESTS)('the guest dies at request %i', (at) => expectLedger({ at, act: { die: ARM64_DEATH } }, 'ok'));
  it.each(REQUESTS)('the ssh connection drops at request %i', (at) => expectLedger({ at, act: { drop: true } }, 'ok'));
  it.each(REQUESTS)('a step hangs at request %i until its timeout', (at) => expectLedger({ at, act: { hang: 'busy' } }, 'ok'));
  it.each(REQUESTS)('the run is interrupted at request %i', (at) => expectLedger({ at, act: 'interrupt' }, 'interrupted'));
  it.each([1, 2])('boot %i fails', (n) => expectLedger({ bootFails: n }, 'boot-failure'));
  it('prepare fails', () => expectLedger({ prepareFails: true }, 'build-failure'));
  it('the run was interrupted before the target began', () => expectLedger({ abortedBefore: true }, 'interrupted'));
  it('--repeat 2, interrupted in the second run', () => expectLedger({ repeat: 2, at: 10, act: 'interrupt' }, 'interrupted'));

  it('a bug in the middle of the run: the steps it left are errors that say so', async () => {
    const r = await ledgerOf({ bugAt: 'meminit' }, 'internal-error');
    const bug = ['error', 'not run: internal error (a bug in kharness)'];
    expect(r.steps.slice(-3).map((s) => [s.scenario, s.status, s.reason])).toEqual([
      ['sweep', 'pass', undefined],
      ['meminit', ...bug],
      ['dies', ...bug],
    ]);
  });
});

describe('a kernel test with a machine to itself runs from init at boot', () => {
  const meminit = SCENARIOS.find((x) => x.name === 'meminit')!;
  const cases = (records: ResultRecord[]) =>
    records.filter((x): x is StepRecord => x.type === 'step').map((x) => [x.name, x.status, x.reason ?? '']);

  it('alone: its load is a script in the initramfs, with the module beside it, and its records are those of a load over ssh', async () => {
    const alone = await run({ scenarios: [meminit] });
    expect(alone.status).toBe('ok');
    const [m, ...more] = alone.machines;
    expect(more).toEqual([]);
    expect(m!.bootScripts).toEqual([
      {
        script: loadScript(1, 'test_meminit', KERNEL_TESTS.test_meminit!.defaults),
        files: [{ path: '/lib/kharness-ktest/test_meminit.ko', host: alone.ko }],
      },
    ]);
    // The step sent the very script init ran; no probe request, no meminfo (the fake refuses both, as the real one does).
    expect(m!.requests).toEqual([m!.bootScripts![0]!.script]);
    expect(alone.records.find((x) => x.type === 'guest')).toMatchObject({ atBoot: 1 });
    // The same cases, statuses and reasons as when it shares the target's machine after the probe scenarios.
    const shared = await run({});
    const meminitOf = (records: ResultRecord[]) => cases(records.filter((x) => x.type !== 'step' || x.scenario === 'meminit'));
    expect(meminitOf(alone.records)).toEqual(meminitOf(shared.records));
    expect(shared.machines.some((x) => x.bootScripts)).toBe(false);
  });

  it('a guest that dies in it: the step is a crash on record, the machine closed', async () => {
    const r = await run({ scenarios: [meminit], at: 1, act: { die: ARM64_DEATH } });
    expect(r.status).toBe('ok');
    expect(r.open).toBe(0);
    expect(r.machines[0]!.bootScripts).toHaveLength(1);
    const own = r.records.filter((x): x is StepRecord => x.type === 'step' && x.kernelTest?.case === undefined);
    expect(own.map((x) => [x.name, x.status])).toEqual([['test_meminit', 'error']]);
  });
});
