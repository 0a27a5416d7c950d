/**
 * A user module that does not behave, on the fake machine: an init that
 * returns an error, a module that cannot be unloaded, a guest that dies
 * loading it. Each phase's record says what happened in words (insmod's or
 * rmmod's own message), and the phases that cannot mean anything after it
 * (unloading what never loaded, loading what is still loaded) are skipped
 * with that reason, never run or passed.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SWEEP_DEATHS_MAX } from '../../harness/inject/sweep.ts';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { ResultsWriter } from '../../harness/results/writer.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/run/machine.ts';
import type { Prepare } from '../../harness/run/phases.ts';
import { runTarget } from '../../harness/run/target.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import type { Scenario } from '../../harness/scenario/types.ts';
import { capturedSection, fakeFleet, type Script } from './fake-machine.ts';

const FAST = { ...DEFAULT_TIMEOUTS, stepMs: 300, silenceMs: 150, crashMs: 200, loadMs: 200, bootMs: 200, sshMs: 200 };
const CYCLES = parseScenario('name: faults\nmodule: m\nsteps:\n  - name: kh\n    module_cycles: { count: 2 }\n', 'faults.yaml');
const ok = { reply: 'kharness-rc=0' };
/** A module's BUG() in init on Debian's arm64 6.12 (a real capture), its kernel lines without their timestamps. */
const BUG_ON_LOAD = capturedSection('console-debian-6.12.118-cloud-arm64-module-bug-on-load.log', 1).map((l) =>
  l.replace(/^\[[^\]]*\]\s*/, ''),
);

async function run(
  script: Script,
  o: { scenarios?: Scenario[]; config?: Map<string, string>; files?: (command: string) => string | undefined } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'kharness-module-faults-'));
  const ko = join(dir, 'kh.ko');
  writeFileSync(ko, 'not really a module');
  const fleet = fakeFleet(script, { files: o.files });
  const records: ResultRecord[] = [];
  const prepare: Prepare = async () => ({
    key: 'k',
    release: '6.12.57',
    config: o.config ?? new Map([['CONFIG_SLUB', 'y']]),
    boot: fleet.factory,
    userModule: async () => ({ ok: true, name: 'kh', ko, buildLog: '' }),
    failnth: async () => ko,
  });
  await runTarget({
    arch: 'arm64',
    kernel: 'debian:6.12-cloud',
    scenarios: o.scenarios ?? [CYCLES],
    outDir: dir,
    writer: new ResultsWriter(join(dir, 'results.jsonl'), [(r) => records.push(r)]),
    log: { verbose: false, info: () => {}, warn: () => {} },
    settings: { memoryMb: 512, smp: 2, accel: 'tcg', timeouts: FAST },
    prepare,
  });
  const steps = records.filter((r): r is StepRecord => r.type === 'step');
  return {
    rows: steps.map((s) => [s.name, s.status, s.reason ?? '']),
    boots: steps.map((s) => s.boot),
    requests: fleet.machines.flatMap((m) => m.requests),
    machines: fleet.machines.length,
    open: fleet.open(),
  };
}

describe("a user module's faults, each phase on record in words", () => {
  it("an init that returns an error: each load fails with insmod's message, each unload is skipped (nothing to unload)", async () => {
    const enodev = "insmod: can't insert '/proc/self/fd/0': No such device";
    const r = await run((req) => (/phase=load/.test(req) ? { reply: `${enodev}\nkharness-rc=19` } : ok));
    expect(r.rows).toEqual([
      ['kh: cycle 1 load', 'fail', `kh's init failed (exit 19): ${enodev}`],
      ['kh: cycle 1 unload', 'skip', `kh is not loaded: its load in cycle 1 failed (${enodev})`],
      ['kh: cycle 2 load', 'fail', `kh's init failed (exit 19): ${enodev}`],
      ['kh: cycle 2 unload', 'skip', `kh is not loaded: its load in cycle 2 failed (${enodev})`],
    ]);
    // rmmod never ran.
    expect(r.requests.filter((q) => /phase=unload/.test(q))).toEqual([]);
  });

  it("a module that cannot be unloaded: the unload fails with rmmod's message, the next load is skipped (it is still loaded)", async () => {
    const busy = "rmmod: can't unload module 'kh': Resource temporarily unavailable";
    const r = await run((req) => (/phase=unload/.test(req) ? { reply: `${busy}\nkharness-rc=1` } : ok));
    expect(r.rows).toEqual([
      ['kh: cycle 1 load', 'pass', ''],
      ['kh: cycle 1 unload', 'fail', `kh could not be unloaded (exit 1): ${busy}`],
      ['kh: cycle 2 load', 'skip', `kh is still loaded: its unload in cycle 1 failed (${busy})`],
      ['kh: cycle 2 unload', 'fail', `kh could not be unloaded (exit 1): ${busy}`],
    ]);
  });

  it('a guest that dies loading it (a real captured death): the load is a crash on record, the rest not run, no machine left', async () => {
    const death = capturedSection('console-6.1-arm64-vmalloc-hardirq.log', 69);
    const r = await run((req) => (/phase=load/.test(req) ? { die: death } : ok));
    expect(r.rows.map(([name, status]) => [name, status])).toEqual([
      ['kh: cycle 1 load', 'fail'],
      ['kh: cycle 1 unload', 'skip'],
      ['kh: cycle 2 load', 'skip'],
      ['kh: cycle 2 unload', 'skip'],
    ]);
    expect(r.rows[1]![2]).toMatch(/^not run: the guest died in step "kh: cycle 1 load" \(load of kh\)/);
    expect(r.open).toBe(0);
  });
  it('an init that never returns: the load fails saying so (a finding, not a harness error), the rest not run', async () => {
    const r = await run((req) => (/phase=load/.test(req) ? { hang: 'busy' } : ok));
    expect(r.rows[0]).toEqual(['kh: cycle 1 load', 'fail', "insmod never returned: kh's init hangs: step timed out after 0.3 s"]);
    expect(r.rows.slice(1).map(([, status]) => status)).toEqual(['skip', 'skip', 'skip']);
    expect(r.open).toBe(0);
  });

  it('an init that oopses (BUG(), a real arm64 capture): the kernel lives, but the guest is not used again', async () => {
    const r = await run((req) => (/phase=load/.test(req) ? { reply: 'kharness-rc=139', kmsg: BUG_ON_LOAD } : ok));
    expect(r.rows[0]!.slice(0, 2)).toEqual(['kh: cycle 1 load', 'fail']);
    expect(r.rows.slice(1).map(([, status, reason]) => [status, reason])).toEqual(
      Array(3).fill(['skip', 'not run: the kernel oopsed in step "kh: cycle 1 load" (load of kh), so the guest is not used again']),
    );
    expect(r.open).toBe(0);
  });
});

describe('a sweep over the allocations of a module load (check-module --inject-sweep), on the fake machine', () => {
  const SWEEP = parseScenario('name: sweep\nmodule: m\nsteps:\n  - name: kh\n    module_cycles: { count: 1 }\n', 'sweep.yaml');
  const sweep = (cap: number): Scenario => ({
    ...SWEEP,
    steps: [{ ...SWEEP.steps[0]!, action: { kind: 'module-sweep', cap, inject: 'any', params: {} } }],
  });
  const FI = new Map([
    ['CONFIG_SLUB', 'y'],
    ['CONFIG_FAULT_INJECTION', 'y'],
    ['CONFIG_FAULT_INJECTION_DEBUG_FS', 'y'],
    ['CONFIG_FAILSLAB', 'y'],
    ['CONFIG_FAIL_PAGE_ALLOC', 'y'],
  ]);
  /** A load that makes three allocations; failing the 2nd makes its error path warn. */
  const threeAllocations: Script = (req) => {
    const nth = Number(/phase=load-nth=(\d+)/.exec(req)?.[1]);
    if (!nth) return ok;
    if (nth > 3) return { reply: 'kharness-failnth rc=0 fail_nth_left=1\nkharness-rc=0' };
    return {
      reply: 'kharness-failnth rc=-12 fail_nth_left=0\nkharness-rc=0',
      kmsg: nth === 2 ? ['WARNING: CPU: 0 PID: 97 at mm/slab_common.c:733 kh_init+0x40/0x80 [kh]'] : [],
    };
  };

  it('fails the 1st, 2nd, 3rd allocation, stops at the 4th (the load made fewer), and names the index that left a report', async () => {
    const r = await run(threeAllocations, { scenarios: [sweep(200)], config: FI });
    expect(r.rows).toEqual([
      ['kh', 'fail', '4 index(es), 1 left a leak, a report or a dead kernel'],
      ['kh: #1', 'pass', '#1 allocation in an unknown caller (__GFP_NOWARN or no stack): load returned -ENOMEM'],
      [
        'kh: #2',
        'fail',
        '#2 allocation in an unknown caller (__GFP_NOWARN or no stack): load returned -ENOMEM, ' +
          'report: WARNING: CPU: 0 PID: 97 at mm/slab_common.c:733 kh_init+0x40/0x80 [kh]',
      ],
      ['kh: #3', 'pass', '#3 allocation in an unknown caller (__GFP_NOWARN or no stack): load returned -ENOMEM'],
      ['kh: #4', 'pass', '#4 no allocation failed (the operation made fewer): loaded'],
    ]);
    // Only the load that succeeded was unloaded.
    expect(r.requests.filter((q) => /phase=unload/.test(q))).toHaveLength(1);
  });

  it('stops at the cap with an error (it proved nothing beyond), and is skipped before boot on a kernel without fault injection', async () => {
    const capped = await run(threeAllocations, { scenarios: [sweep(2)], config: FI });
    expect(capped.rows[0]).toEqual(['kh', 'error', 'stopped at the cap of 2: the load still had allocations left to fail']);
    const none = await run(threeAllocations, { scenarios: [sweep(200)] });
    expect(none.rows).toEqual([['kh', 'skip', expect.stringMatching(/FAULT_INJECTION|fault injection/)]]);
    expect(none.requests).toEqual([]);
  });

  it('names a leaked frame the failed load left as a bare address, from the symbols a successful load of the sweep had', async () => {
    // kmemleak's report after the sweep: index 2's loader (pid 202) leaked 64 B; the module was gone, so its frame is an address.
    const report = [
      'unreferenced object 0xffff000003a1c400 (size 64):',
      '  comm "kharness-failnt", pid 202, jiffies 4294893796',
      '  hex dump (first 32 bytes):',
      '    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................',
      '  backtrace (crc 0):',
      '    [<ffff80007a2b1064>] 0xffff80007a2b1064',
      '    [<ffff800080f3a2b4>] do_one_initcall+0x54/0x2a0',
    ].join('\n');
    const kallsyms = ['ffff80007a2b1000 t kh_setup\t[kh]', 'ffff80007a2b1100 t kh_init\t[kh]'].join('\n');
    const files = (c: string) =>
      /cat \/sys\/kernel\/debug\/kmemleak$/.test(c)
        ? report
        : /\/proc\/kallsyms/.test(c)
          ? `0xffff80007a2b1000\n---\n\n---\n${kallsyms}`
          : undefined;
    const pids: Script = (req, seq) => {
      const r = threeAllocations(req, seq, 1);
      const nth = Number(/phase=load-nth=(\d+)/.exec(req)?.[1]);
      return nth && 'reply' in r ? { ...r, reply: `${r.reply}\nkharness-pid=${200 + nth}` } : r;
    };
    const r = await run(pids, { scenarios: [sweep(200)], config: new Map([...FI, ['CONFIG_DEBUG_KMEMLEAK', 'y']]), files });
    expect(r.rows[2]).toEqual([
      'kh: #2',
      'fail',
      expect.stringContaining(
        '1 object (64 B) leaked from 0xffff80007a2b1064 = kh_setup+0x64 [kh] ' +
          '(named at the address a successful load of the sweep took)',
      ),
    ]);
  });

  it('over an exercise: loads once, sweeps the one write with the helper, and unloads after the last index', async () => {
    const poke = { op: 'write' as const, path: '/sys/module/kh/parameters/poke', data: '1\n' };
    const over: Scenario = {
      ...SWEEP,
      steps: [{ ...SWEEP.steps[0]!, action: { kind: 'module-sweep', cap: 200, inject: 'any', params: {}, exercise: poke } }],
    };
    const twoAllocations: Script = (req) => {
      const nth = Number(/phase=exercise-nth=(\d+)/.exec(req)?.[1]);
      if (!nth) return ok;
      if (nth > 2) return { reply: 'kharness-failnth rc=2 fail_nth_left=1\nkharness-rc=0' };
      return { reply: 'kharness-failnth rc=-12 fail_nth_left=0\nkharness-rc=0' };
    };
    const r = await run(twoAllocations, { scenarios: [over], config: FI });
    expect(r.rows).toEqual([
      ['kh', 'pass', '3 index(es), 0 left a leak, a report or a dead kernel'],
      ['kh: #1', 'pass', '#1 allocation in an unknown caller (__GFP_NOWARN or no stack): write returned -ENOMEM'],
      ['kh: #2', 'pass', '#2 allocation in an unknown caller (__GFP_NOWARN or no stack): write returned -ENOMEM'],
      ['kh: #3', 'pass', '#3 no allocation failed (the operation made fewer): wrote 2 bytes'],
    ]);
    const phases = r.requests.map((q) => /phase=(\S+)/.exec(q)?.[1]).filter(Boolean);
    expect(phases).toEqual(['load', 'exercise-nth=1', 'exercise-nth=2', 'exercise-nth=3', 'unload']);
    expect(r.requests.find((q) => /exercise-nth=1/.test(q))).toContain("--write '/sys/module/kh/parameters/poke' '1\n'");
  });

  it('an index that oopses the kernel (a real arm64 capture) is a finding; the next index runs on a fresh machine, to the end', async () => {
    const oopsAt2: Script = (req) => {
      const nth = Number(/phase=load-nth=(\d+)/.exec(req)?.[1]);
      return nth === 2 ? { reply: 'kharness-rc=139', kmsg: BUG_ON_LOAD } : threeAllocations(req, 0, 1);
    };
    const r = await run(oopsAt2, { scenarios: [sweep(200)], config: FI });
    expect(r.rows.map(([name, status]) => [name, status])).toEqual([
      ['kh', 'fail'],
      ['kh: #1', 'pass'],
      ['kh: #2', 'fail'],
      ['kh: #3', 'pass'],
      ['kh: #4', 'pass'],
    ]);
    expect(r.rows[0]![2]).toBe('4 index(es), 1 left a leak, a report or a dead kernel; 1 killed it');
    expect(r.rows[2]![2]).toMatch(/^#2 .*: an oops killed the load, report: .*, the machine is not used again$/);
    // #1 and #2 on the first machine, #3 and #4 on the one booted after the oops; none left running.
    expect(r.boots.slice(1)).toEqual([1, 1, 2, 2]);
    expect(r.machines).toBe(2);
    expect(r.open).toBe(0);
  });

  it('a machine that dies at an index (a real captured death) gets the same: the row says the kernel died, the sweep goes on', async () => {
    const death = capturedSection('console-6.1-arm64-vmalloc-hardirq.log', 69);
    const dieAt3: Script = (req) => (/phase=load-nth=3 /.test(req) ? { die: death } : threeAllocations(req, 0, 1));
    const r = await run(dieAt3, { scenarios: [sweep(200)], config: FI });
    expect(r.rows.map(([name, status]) => [name, status])).toEqual([
      ['kh', 'fail'],
      ['kh: #1', 'pass'],
      ['kh: #2', 'fail'],
      ['kh: #3', 'fail'],
      ['kh: #4', 'pass'],
    ]);
    expect(r.rows[3]![2]).toMatch(/^#3 allocation in .*: the kernel died, .*the machine is not used again$/);
    expect(r.boots.slice(1)).toEqual([1, 1, 1, 2]);
    expect(r.open).toBe(0);
  });

  it('stops after SWEEP_DEATHS_MAX deaths (exit 1), rather than boot a machine for every index up to the cap', async () => {
    const always: Script = (req) => (/phase=load-nth=/.test(req) ? { reply: 'kharness-rc=139', kmsg: BUG_ON_LOAD } : ok);
    const r = await run(always, { scenarios: [sweep(500)], config: FI });
    expect(r.rows[0]).toEqual([
      'kh',
      'fail',
      `stopped after ${SWEEP_DEATHS_MAX} indexes killed the kernel (${SWEEP_DEATHS_MAX} at most, each on a machine of its own)`,
    ]);
    expect(r.rows).toHaveLength(SWEEP_DEATHS_MAX + 1);
    expect(r.machines).toBe(SWEEP_DEATHS_MAX);
    expect(r.open).toBe(0);
  });

  it("over an exercise of a module that does not load: an error naming insmod's words, nothing swept", async () => {
    const poke = { op: 'read' as const, path: '/proc/kh' };
    const over: Scenario = {
      ...SWEEP,
      steps: [{ ...SWEEP.steps[0]!, action: { kind: 'module-sweep', cap: 200, inject: 'any', params: {}, exercise: poke } }],
    };
    const r = await run(
      (req) => (/phase=load /.test(req) ? { reply: 'insmod: ERROR: could not insert module: No such device\nkharness-rc=1' } : ok),
      {
        scenarios: [over],
        config: FI,
      },
    );
    expect(r.rows).toEqual([['kh', 'error', expect.stringMatching(/^kh did not load, so its exercise cannot be swept: insmod: ERROR/)]]);
    expect(r.requests.some((q) => /exercise-nth/.test(q))).toBe(false);
  });
});
