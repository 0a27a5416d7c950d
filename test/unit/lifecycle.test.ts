/**
 * The runner's lifecycle rules on a fake machine that replays real captured
 * logs: reuse, fresh machines, reboots after a death, skipping after a death,
 * a timeout in each phase, interruption, and no machine left open.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KharnessError, PhaseTimeoutError } from '../../harness/errors.ts';
import type { ResultRecord, StepRecord, TargetStatus } from '../../harness/results/records.ts';
import { ResultsWriter } from '../../harness/results/writer.ts';
import { DEFAULT_TIMEOUTS, type MachineFactory, type Timeouts } from '../../harness/run/machine.ts';
import type { Prepare } from '../../harness/run/phases.ts';
import { runTarget } from '../../harness/run/target.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import type { Scenario } from '../../harness/scenario/types.ts';
import { capturedSection, type FakeFleet, fakeFleet, OK_ALLOC, type Script } from './fake-machine.ts';

const FAST: Timeouts = { ...DEFAULT_TIMEOUTS, stepMs: 300, silenceMs: 150, crashMs: 200, loadMs: 200, bootMs: 200, sshMs: 200 };
const ARM64_DEATH = capturedSection('console-6.1-arm64-vmalloc-hardirq.log', 69);

const scenario = (name: string, steps: string, file = `${name}.yaml`): Scenario => parseScenario(`name: ${name}\nsteps:\n${steps}`, file);
const plain = (name: string, n = 2) =>
  scenario(
    name,
    Array.from({ length: n }, (_, i) => `  - name: s${i + 1}\n    alloc: { api: kmalloc, size: 4096 }\n    expect: { ok: true }\n`).join(
      '',
    ),
  );
const crashing = scenario(
  'dies',
  `  - name: vmalloc in hard IRQ
    alloc: { api: vmalloc, size: 4096, ctx: hardirq }
    expect: { crash: { kind: bug, at: mm/vmalloc.c } }
`,
);

/** Dies on vmalloc in hard IRQ (replaying the arm64 capture), answers everything else. */
const kernelLike: Script = (req) => (/api=vmalloc.*ctx=hardirq/.test(req) ? { die: ARM64_DEATH } : { reply: OK_ALLOC });

async function run(
  scenarios: Scenario[],
  factory: MachineFactory,
  o: { signal?: AbortSignal; prepare?: Prepare; timeouts?: Partial<Timeouts>; repeat?: number } = {},
) {
  const records: ResultRecord[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'kharness-lifecycle-'));
  const writer = new ResultsWriter(join(dir, 'results.jsonl'), [(r) => records.push(r)]);
  const prepare: Prepare =
    o.prepare ?? (async () => ({ key: 'k', release: '6.1.192', config: new Map([['CONFIG_SLUB', 'y']]), boot: factory }));
  const status: TargetStatus = await runTarget({
    arch: 'x86_64',
    kernel: '6.1',
    scenarios,
    outDir: dir,
    writer,
    log: { verbose: false, info: () => {}, warn: () => {} },
    settings: { memoryMb: 512, smp: 2, accel: 'tcg', timeouts: { ...FAST, ...o.timeouts } },
    signal: o.signal,
    prepare,
    repeat: o.repeat,
  });
  const steps = records.filter((r): r is StepRecord => r.type === 'step');
  const by = (name: string) => steps.filter((s) => s.name === name);
  const boots = records.filter((r) => r.type === 'guest').length;
  return { status, records, steps, by, boots, end: records.find((r) => r.type === 'target-end') };
}

describe('machine lifecycle (fake machine, real captures)', () => {
  const withConfig =
    (factory: MachineFactory, config: Record<string, string>): Prepare =>
    async () => ({
      key: 'k',
      release: '6.1.192',
      config: new Map(Object.entries({ CONFIG_SLUB: 'y', ...config })),
      boot: factory,
    });
  const meminit = (line: string) =>
    parseScenario(
      `name: m\nboot: { cmdline: [${line}] }\nsteps:\n  - alloc: { api: kmalloc, size: 64 }\n    expect: { ok: true }\n`,
      'm.yaml',
    );

  it('runs a scenario whose parameters restate the kernel defaults on the shared machine, and one that changes them on its own', async () => {
    const on = fakeFleet(kernelLike);
    const r = await run([plain('a'), meminit('init_on_alloc=1')], on.factory, {
      prepare: withConfig(on.factory, { CONFIG_INIT_ON_ALLOC_DEFAULT_ON: 'y' }),
    });
    expect(r.boots).toBe(1);
    expect(r.steps.map((s) => s.boot)).toEqual([1, 1, 1]);
    const off = fakeFleet(kernelLike);
    const r2 = await run([plain('a'), meminit('init_on_alloc=1')], off.factory, { prepare: withConfig(off.factory, {}) });
    expect(r2.boots).toBe(2);
    expect(r2.steps.map((s) => s.boot)).toEqual([1, 1, 2]);
    // init_on_alloc=0 on a kernel whose default is on is a change.
    const r3 = await run([plain('a'), meminit('init_on_alloc=0')], on.factory, {
      prepare: withConfig(on.factory, { CONFIG_INIT_ON_ALLOC_DEFAULT_ON: 'y' }),
    });
    expect(r3.boots).toBe(2);
  });

  it('boots a fresh machine after a scenario that leaves memory fragmented, not after one that unfragments', async () => {
    const frag = (name: string, undo: boolean) => scenario(name, `  - fragment: { pages: 16 }\n${undo ? '  - unfragment: true\n' : ''}`);
    const f = fakeFleet(kernelLike);
    const r = await run([frag('left', false), plain('after')], f.factory);
    expect(r.boots).toBe(2);
    expect(r.by('s1')[0]!.boot).toBe(2);
    const g = fakeFleet(kernelLike);
    const r2 = await run([frag('healed', true), plain('after')], g.factory);
    expect(r2.boots).toBe(1);
    expect(f.open() + g.open()).toBe(0);
  });

  it("boots the next scenario's own machine while the current one works, and within a repeat the next run's first", async () => {
    const events: string[] = [];
    /** The fleet's factory, noting each boot as it starts. */
    const noting =
      (fleet: FakeFleet): MachineFactory =>
      (n, cmdline) => {
        events.push(`boot ${n}`);
        return fleet.factory(n, cmdline);
      };
    const f = fakeFleet((req, seq, boot) => {
      events.push(`request on ${boot}`);
      return kernelLike(req, seq, boot);
    });
    const factory = noting(f);
    const r = await run([plain('a', 1), meminit('init_on_alloc=1'), crashing], factory, { prepare: withConfig(factory, {}) });
    expect(r.steps.map((s) => [s.scenario, s.status, s.boot])).toEqual([
      ['a', 'pass', 1],
      ['m', 'pass', 2],
      ['dies', 'expected-crash', 3],
    ]);
    // Each machine was booting before the scenario ahead of it sent its first request.
    expect(events).toEqual(['boot 1', 'boot 2', 'request on 1', 'boot 3', 'request on 2', 'request on 3']);
    expect(r.records.filter((x) => x.type === 'guest').map((x) => (x.type === 'guest' ? x.boot : 0))).toEqual([1, 2, 3]);
    expect(f.open()).toBe(0);

    events.length = 0;
    const g = fakeFleet(kernelLike);
    const r2 = await run([plain('a', 1)], noting(g), { repeat: 2 });
    expect(r2.steps.map((s) => [s.repeat, s.boot])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    // The second run's machine booted ahead during the first run; none boots ahead after the last one.
    expect(events).toEqual(['boot 1', 'boot 2']);
    expect(g.open()).toBe(0);
  });

  it('shuts down a machine booted ahead when the run is interrupted before it is used', async () => {
    const ctl = new AbortController();
    const f = fakeFleet((req, seq, boot) => {
      ctl.abort();
      return kernelLike(req, seq, boot);
    });
    const r = await run([plain('a', 1), crashing], f.factory, { signal: ctl.signal });
    expect(r.status).toBe('interrupted');
    expect(f.machines.length).toBe(2);
    expect(f.open()).toBe(0);
  });

  it('reuses one machine across scenarios', async () => {
    const f = fakeFleet(kernelLike);
    const r = await run([plain('a'), plain('b')], f.factory);
    expect(r.status).toBe('ok');
    expect(r.boots).toBe(1);
    expect(r.steps.map((s) => [s.scenario, s.status, s.boot])).toEqual([
      ['a', 'pass', 1],
      ['a', 'pass', 1],
      ['b', 'pass', 1],
      ['b', 'pass', 1],
    ]);
    expect(f.open()).toBe(0);
  });

  it('runs a crash-expecting scenario last, on a fresh machine, and reads the death from the console', async () => {
    const f = fakeFleet(kernelLike);
    const r = await run([crashing, plain('a')], f.factory);
    expect(r.status).toBe('ok');
    expect(r.steps.map((s) => [s.scenario, s.status, s.boot])).toEqual([
      ['a', 'pass', 1],
      ['a', 'pass', 1],
      ['dies', 'expected-crash', 2],
    ]);
    const died = r.by('vmalloc in hard IRQ')[0]!;
    // arm64's spelling of the BUG, from the real capture.
    expect(died.splats.map((s) => s.kind)).toEqual(['bug', 'oops', 'panic']);
    expect(died.splats[1]!.title).toMatch(/^Internal error: Oops - BUG/);
    expect(f.machines.map((m) => m.requests.length)).toEqual([2, 1]);
    expect(f.open()).toBe(0);
  });

  it('after an unexpected death: the step fails, the rest of its scenario is skipped, the next scenario reboots', async () => {
    const victim = scenario(
      'victim',
      `  - name: before
    alloc: { api: kmalloc, size: 4096 }
  - name: oops
    alloc: { api: vmalloc, size: 4096, ctx: hardirq }
    expect: { ok: true }
  - name: after
    alloc: { api: kmalloc, size: 4096 }
`,
    );
    const f = fakeFleet(kernelLike);
    const r = await run([victim, plain('next', 1)], f.factory);
    expect(r.steps.map((s) => [s.name, s.status, s.boot ?? '-'])).toEqual([
      ['before', 'pass', 1],
      ['oops', 'fail', 1],
      ['after', 'skip', '-'],
      ['s1', 'pass', 2],
    ]);
    expect(r.by('oops')[0]!.failures[0]).toMatchObject({
      what: 'crash',
      expected: 'the guest survives',
      observed: 'kernel BUG at mm/vmalloc.c:2554!',
    });
    expect(r.by('after')[0]!.reason).toBe('not run: the guest died in step "oops"');
    expect(r.boots).toBe(2);
    expect(f.open()).toBe(0);
  });

  it('a failed expectation points at its line in the YAML', async () => {
    const s = scenario(
      'where',
      '  - name: w\n    alloc: { api: kmalloc, size: 4096 }\n    expect:\n      phys_runs: 3\n',
      'scenarios/where.yaml',
    );
    const r = await run([s], fakeFleet(kernelLike).factory);
    expect(r.by('w')[0]!.failures).toEqual([
      { what: 'phys_runs', expected: '3', observed: '1', pos: { file: 'scenarios/where.yaml', line: 6, column: 7 } },
    ]);
  });

  describe('a timeout in each phase, each named', () => {
    it('boot: the target is a boot failure and every step says why it did not run', async () => {
      const f = fakeFleet(kernelLike, { bootFails: () => new PhaseTimeoutError('boot to console marker', 200) });
      const r = await run([plain('a'), crashing], f.factory);
      expect(r.status).toBe('boot-failure');
      expect(r.steps.map((s) => s.status)).toEqual(['error', 'error', 'error']);
      expect(r.steps[0]!.reason).toBe('not run: boot failed: timed out after 0.2 s in phase "boot to console marker"');
    });

    it.each(['ssh ready', 'loading the probe module'])('%s: a boot failure that names the phase', async (phase) => {
      const f = fakeFleet(kernelLike, { bootFails: () => new PhaseTimeoutError(phase, 200) });
      const r = await run([plain('a', 1)], f.factory);
      expect(r.status).toBe('boot-failure');
      expect(r.steps[0]!.reason).toBe(`not run: boot failed: timed out after 0.2 s in phase "${phase}"`);
    });

    it('step: a guest that stays up but never answers is "step timed out", an error, not a kernel failure', async () => {
      const f = fakeFleet((req, _seq, boot) => (boot === 1 && /size=4096/.test(req) ? { hang: 'busy' } : { reply: OK_ALLOC }));
      const r = await run([plain('a'), plain('b', 1)], f.factory);
      expect(r.steps.map((s) => [s.name, s.status])).toEqual([
        ['s1', 'error'],
        ['s2', 'skip'],
        ['s1', 'pass'],
      ]);
      expect(r.steps[0]!.reason).toBe('step timed out after 0.3 s');
      expect(r.steps[1]!.reason).toBe('not run: step timed out after 0.3 s in step "s1"');
      expect(r.boots).toBe(2);
      expect(f.open()).toBe(0);
    });

    it('console silence: nothing printed and nothing answered is named as such, before the step timeout', async () => {
      const f = fakeFleet(() => ({ hang: 'hung' }));
      const t0 = Date.now();
      const r = await run([plain('a', 1)], f.factory, { timeouts: { stepMs: 5000 } });
      expect(r.steps[0]!.status).toBe('error');
      expect(r.steps[0]!.reason).toBe('console silent for 0.15 s: the guest printed nothing and did not answer');
      expect(Date.now() - t0).toBeLessThan(2000);
    });

    it('QEMU killed from outside is an error naming the signal, not a kernel crash', async () => {
      const r = await run([plain('a', 1)], fakeFleet(() => ({ killed: 'SIGKILL' })).factory);
      expect(r.steps[0]).toMatchObject({ status: 'error', reason: 'QEMU killed by SIGKILL (from outside the harness)' });
    });

    it('an ssh connection that drops with a silent console is an error', async () => {
      const r = await run([plain('a', 1)], fakeFleet(() => ({ drop: true })).factory);
      expect(r.steps[0]!.status).toBe('error');
      expect(r.steps[0]!.reason).toMatch(/ssh connection to the guest dropped/);
    });

    it('a response whose kernel-log end marker never comes is an error, not a pass on a cut log', async () => {
      const r = await run([plain('a', 1)], fakeFleet(() => ({ reply: OK_ALLOC, noEndMarker: true })).factory);
      expect(r.steps[0]!.status).toBe('error');
      expect(r.steps[0]!.reason).toMatch(/never showed the end of request 1/);
    });
  });

  describe('errors belong to the phase that raised them', () => {
    const prepareThrowing =
      (e: unknown): Prepare =>
      async () => {
        throw e;
      };
    it.each([
      [new KharnessError('BUILD', 'make failed'), 'build-failure'],
      [new KharnessError('INFRA', 'apt-get download failed'), 'infra-failure'],
      [new TypeError('x is undefined'), 'internal-error'],
    ])('prepare throwing %s ends the target as %s, every step recorded', async (e, want) => {
      const r = await run([plain('a'), crashing], fakeFleet(kernelLike).factory, { prepare: prepareThrowing(e) });
      expect(r.status).toBe(want);
      expect(r.steps).toHaveLength(3);
      expect(r.steps.every((s) => s.status === 'error')).toBe(true);
    });
  });

  it('an interrupted run records the step in flight and the rest as not run, and closes the machine', async () => {
    const ac = new AbortController();
    const f = fakeFleet(() => ({ reply: OK_ALLOC, delayMs: 100 }));
    setTimeout(() => ac.abort(), 150);
    const r = await run([plain('a', 3), plain('b', 1)], f.factory, { signal: ac.signal });
    expect(r.status).toBe('interrupted');
    expect(r.steps.map((s) => [s.scenario, s.status])).toEqual([
      ['a', 'pass'],
      ['a', 'skip'],
      ['a', 'skip'],
      ['b', 'skip'],
    ]);
    expect(r.steps.slice(1).every((s) => s.reason === 'not run: interrupted')).toBe(true);
    expect(r.steps.some((s) => s.status === 'fail')).toBe(false);
    expect(f.open()).toBe(0);
  });

  it('Ctrl-C while the harness waits for a lost guest records no spurious failure', async () => {
    const ac = new AbortController();
    const f = fakeFleet(() => ({ drop: true }));
    setTimeout(() => ac.abort(), 60);
    const r = await run([plain('a', 2)], f.factory, { signal: ac.signal, timeouts: { crashMs: 2000 } });
    expect(r.status).toBe('interrupted');
    expect(r.steps.map((s) => [s.status, s.reason])).toEqual([
      ['skip', 'not run: interrupted'],
      ['skip', 'not run: interrupted'],
    ]);
    expect(f.open()).toBe(0);
  });

  it('a machine that fails between steps (meminfo refused) records the step as an error and reboots for the next scenario', async () => {
    const leak = scenario(
      'leak',
      `  - name: leak
    alloc: { api: vmalloc, size: 4096, hold: l }
    expect: { meminfo: { VmallocUsed: { ge: 0 } } }
  - name: after
    unfragment: true
`,
    );
    const f = fakeFleet(kernelLike, { meminfoFails: (boot) => boot === 1 });
    const r = await run([leak, plain('next', 1)], f.factory);
    expect(r.status).toBe('ok');
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ['leak', 'error'],
      ['after', 'skip'],
      ['s1', 'pass'],
    ]);
    expect(r.steps[0]!.reason).toBe('reading /proc/meminfo before the step failed: Not connected');
    expect(f.open()).toBe(0);
  });

  it("a GFP flag the target's kernel lacks skips that step there, before anything boots", async () => {
    const atomic = scenario('atomic', '  - name: old flag\n    alloc: { api: kmalloc, size: 64, gfp: [GFP_KERNEL, __GFP_ATOMIC] }\n');
    const f = fakeFleet(kernelLike);
    const newer: Prepare = async () => ({ key: 'k', release: '6.12.117', config: new Map(), boot: f.factory });
    const r = await run([atomic], f.factory, { prepare: newer });
    expect(r.steps[0]).toMatchObject({
      status: 'skip',
      reason: 'needs __GFP_ATOMIC, which kernels from 6.3 on do not have (target is 6.12.117)',
    });
    expect(f.machines).toEqual([]);
  });
});
