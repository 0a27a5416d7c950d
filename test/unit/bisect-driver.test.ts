/**
 * The bisect driver (harness/bisect/run.ts) on the fake machine: confirming
 * the culprit, resuming after an interrupt, and a confirmation that does not
 * hold. A list of kernels is bisected, k0 (the good end) to k8 (the bad end);
 * the fake "builds" each kernel through runBisect's `prepare` seam and boots
 * machines on which kmalloc(4096) fails from the first bad kernel on.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BisectOptions, type BisectState, type Candidate, loadState, runBisect } from '../../harness/bisect/run.ts';
import { InterruptedError, KharnessError } from '../../harness/errors.ts';
import { moduleLoadOrder } from '../../harness/kernel/prebuilt.ts';
import { parseResults } from '../../harness/results/records.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/run/machine.ts';
import { type Prepare, prepareFailure } from '../../harness/run/phases.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import { type FakeFleet, fakeFleet, OK_ALLOC } from './fake-machine.ts';

/** kmalloc(4096) returning NULL, in the probe's words (kalloc_probe.c: no memory report after success=0). */
const FAILED_ALLOC =
  'status=ok api=kmalloc size=4096 order=0 gfp=0xcc0 ctx=process success=0 in_hardirq=0 in_serving_softirq=0 in_atomic=0 ' +
  'irqs_disabled=0 preempt_count=0x0 alloc_ns=900 zero_size_ptr=0';

const scenario = parseScenario(
  'name: fits\nsteps:\n  - name: kmalloc 4 KiB\n    alloc: { api: kmalloc, size: 4096 }\n    expect: { ok: true }\n',
  'fits.yaml',
);
const KERNELS: Candidate[] = Array.from({ length: 9 }, (_, i) => ({ id: `k${i}`, kernel: `k${i}`, subject: `kernel k${i}` }));
const FIRST_BAD = 5;

/** A fresh bisect over KERNELS, as `kharness bisect --kernels ... --confirm N` starts one. */
const listState = (confirm: number): BisectState => ({
  mode: 'kernels',
  arch: 'x86_64',
  scenarioFile: 'fits.yaml',
  repeat: 1,
  confirm,
  find: 'regression',
  good: KERNELS[0]!,
  candidates: KERNELS.slice(1),
  tested: {},
});

/** One target the fake prepared: which kernel, for which of the driver's purposes (`runs`, `confirm`), and its machines. */
interface Prepared {
  kernel: string;
  label: string;
  fleet: FakeFleet;
}

/**
 * Kernels from FIRST_BAD on fail the step. `passes(kernel, label, run)` overrides
 * one run's behaviour (run = the boot within the target, one per --repeat or --confirm run).
 */
function lab(passes: (kernel: string, label: string, run: number) => boolean | undefined = () => undefined) {
  const prepared: Prepared[] = [];
  const prepare: Prepare = async (c) => {
    // c.dir is <out>/runs/<candidate>-<label>/<target>: the run directory bisect.json points at.
    const label = basename(dirname(c.dir)).slice(c.kernel.length + 1);
    const good = (run: number) => passes(c.kernel, label, run) ?? Number(c.kernel.slice(1)) < FIRST_BAD;
    const fleet = fakeFleet((req, _seq, run) => ({ reply: /cmd=alloc/.test(req) && !good(run) ? FAILED_ALLOC : OK_ALLOC }));
    prepared.push({ kernel: c.kernel, label, fleet });
    return { key: c.kernel, release: '6.1.192', config: new Map([['CONFIG_SLUB', 'y']]), boot: fleet.factory };
  };
  /** How many times each kernel was prepared for `label`. */
  const seen = (label: string) => {
    const n: Record<string, number> = {};
    for (const p of prepared.filter((x) => x.label === label)) n[p.kernel] = (n[p.kernel] ?? 0) + 1;
    return n;
  };
  return { prepare, prepared, seen };
}

const quiet = { verbose: false, info: () => {}, warn: () => {} };
const settings = {
  memoryMb: 512,
  smp: 2,
  accel: 'tcg' as const,
  timeouts: { ...DEFAULT_TIMEOUTS, stepMs: 2000, silenceMs: 1000, crashMs: 500, loadMs: 500, bootMs: 500, sshMs: 500 },
};

async function bisect(o: Pick<BisectOptions, 'state' | 'prepare'> & Partial<BisectOptions>) {
  const outDir = o.outDir ?? mkdtempSync(join(tmpdir(), 'kharness-bisect-driver-'));
  const verdicts: string[] = [];
  const result = await runBisect({
    scenario,
    outDir,
    log: quiet,
    settings,
    ...o,
    onTested: (c, t) => {
      verdicts.push(`${c.id} ${t.outcome}`);
      o.onTested?.(c, t);
    },
  });
  return { result, outDir, verdicts, state: o.state };
}

describe('bisect driver (fake machine)', () => {
  it('confirms the culprit with N more runs of it and of its parent, each on machines of its own', async () => {
    const l = lab();
    const { result, outDir } = await bisect({ state: listState(2), prepare: l.prepare });
    expect(result.kind).toBe('done');
    expect(result.firstBad?.id).toBe('k5');
    expect(result.confirmation).toMatchObject({ confirmed: true, runs: 2, reason: 'k5: bad, bad; k4: good, good' });
    // Exactly the culprit and its parent, once each, after the search, with a fresh machine per run.
    expect(l.seen('confirm')).toEqual({ k5: 1, k4: 1 });
    const confirms = l.prepared.filter((p) => p.label === 'confirm');
    expect(l.prepared.slice(-2)).toEqual(confirms);
    expect(confirms.map((p) => p.fleet.machines.length)).toEqual([2, 2]);
    expect(l.prepared.every((p) => p.fleet.open() === 0)).toBe(true);
    // The confirmation runs are results directories of their own, and bisect.json keeps the verdict.
    expect(result.confirmation!.runDirs.map((d) => basename(d))).toEqual(['k5-confirm', 'k4-confirm']);
    const statuses = (dir: string) =>
      parseResults(readFileSync(join(dir, 'results.jsonl'), 'utf8')).flatMap((r) => (r.type === 'step' ? [r.status] : []));
    expect(result.confirmation!.runDirs.map(statuses)).toEqual([
      ['fail', 'fail'],
      ['pass', 'pass'],
    ]);
    const saved = JSON.parse(readFileSync(join(outDir, 'bisect.json'), 'utf8')) as BisectState;
    expect(saved.result?.confirmation?.confirmed).toBe(true);
  });

  /** One confirmation run that disagrees with the search's verdict. */
  const culpritPassesOnce = (k: string, label: string, run: number) => (k === 'k5' && label === 'confirm' && run === 2 ? true : undefined);
  const parentFailsOnce = (k: string, label: string, run: number) => (k === 'k4' && label === 'confirm' && run === 3 ? false : undefined);
  it.each([
    ['the culprit passes one of its confirmation runs', culpritPassesOnce, 'k5: bad, good, bad; k4: good, good, good'],
    ['the parent fails one of its confirmation runs', parentFailsOnce, 'k5: bad, bad, bad; k4: good, good, bad'],
  ])('reports NOT CONFIRMED when %s', async (_what, passes, reason) => {
    const { result } = await bisect({ state: listState(3), prepare: lab(passes).prepare });
    // The search saw one run of each candidate, so it still names k5; the confirmation says not to trust it.
    expect(result.firstBad?.id).toBe('k5');
    expect(result.confirmation).toMatchObject({ confirmed: false, runs: 3, reason });
  });

  /** The same bisect, never interrupted: what a resumed one must agree with. */
  let reference: ReturnType<typeof bisect> | undefined;
  it.each([1, 3])(
    'resumed after an interrupt that follows verdict %i, judges no candidate twice and gives the same answer',
    async (after) => {
      reference ??= bisect({ state: listState(1), prepare: lab().prepare });
      const whole = await reference;

      const l = lab();
      const outDir = mkdtempSync(join(tmpdir(), 'kharness-bisect-driver-'));
      const ac = new AbortController();
      let judged = 0;
      const interrupted: string[] = [];
      // Ctrl-C while the next candidate builds: the build is abandoned and nothing is concluded about it.
      const building: Prepare = async (c) => {
        if (judged < after) return l.prepare(c);
        interrupted.push(c.kernel);
        ac.abort();
        throw new InterruptedError();
      };
      const first = bisect({ state: listState(1), outDir, prepare: building, signal: ac.signal, onTested: () => judged++ });
      await expect(first).rejects.toMatchObject({ code: 'INTERRUPTED' });
      expect(interrupted).toHaveLength(1);
      const saved = loadState(outDir);
      expect(Object.keys(saved.tested)).toHaveLength(after);
      expect(saved.result).toBeUndefined();

      // kharness bisect --resume DIR: the state bisect.json kept, in the same directory.
      const resumed = await bisect({ state: saved, outDir, prepare: l.prepare });
      expect(resumed.result.firstBad).toEqual(whole.result.firstBad);
      expect(resumed.result.confirmation).toMatchObject({ confirmed: true, reason: 'k5: bad; k4: good' });
      // Across both sessions each candidate was run once by the search, the one interrupted included.
      const runs = l.seen('runs');
      expect(Object.values(runs).every((n) => n === 1)).toBe(true);
      expect(Object.keys(runs).sort()).toEqual(Object.keys(whole.state.tested).sort());
      expect(runs[interrupted[0]!]).toBe(1);
      // The resumed session told only the verdicts it reached itself, and they agree with the uninterrupted bisect's.
      expect(resumed.verdicts).toHaveLength(Object.keys(runs).length - after);
      const verdictsOf = (s: BisectState) => Object.fromEntries(Object.entries(s.tested).map(([id, t]) => [id, t.outcome]));
      expect(verdictsOf(loadState(outDir))).toEqual(verdictsOf(whole.state));
    },
  );
});

describe('bisect over a candidate that cannot be prepared (fake machine)', () => {
  /** What preparing a Debian kernel meets when its packages lack a module the guest loads at boot (virtio_net). */
  const missingBootModule = async (): Promise<unknown> => {
    const modDir = mkdtempSync(join(tmpdir(), 'kharness-modules-'));
    writeFileSync(join(modDir, 'modules.builtin'), 'kernel/drivers/virtio/virtio_pci.ko\n');
    return moduleLoadOrder(modDir, ['virtio_pci', 'virtio_net']).then(
      () => new Error('no error'),
      (e: unknown) => e,
    );
  };
  /** The lab's kernels, but preparing k4 fails with `error`. */
  const failingAt4 = (error: unknown): Prepare => {
    const l = lab();
    return async (c) => {
      if (c.kernel === 'k4') throw error;
      return l.prepare(c);
    };
  };

  it('stops when a Debian kernel lacks a boot module: infrastructure, not a kernel to skip, and nothing is concluded', async () => {
    const e = await missingBootModule();
    expect(e).toMatchObject({ code: 'INFRA', message: expect.stringMatching(/^the kernel's packages have no module virtio_net/) });
    expect(prepareFailure(e)).toBe('infra-failure');
    const outDir = mkdtempSync(join(tmpdir(), 'kharness-bisect-driver-'));
    const run = bisect({ state: listState(1), outDir, prepare: failingAt4(e) });
    await expect(run).rejects.toMatchObject({ code: 'INFRA', message: expect.stringContaining('k4 could not be judged (infra-failure') });
    const saved = loadState(outDir);
    expect(saved.tested.k4?.outcome).toBe('abort');
    expect(saved.result).toBeUndefined();
  });

  it('skips a kernel that does not build, and still finds the culprit', async () => {
    const { result, verdicts } = await bisect({ state: listState(1), prepare: failingAt4(new KharnessError('BUILD', 'make failed')) });
    expect(verdicts).toContain('k4 skip');
    expect(result.firstBad?.id).toBe('k5');
  });
});
