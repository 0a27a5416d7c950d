/**
 * A probe step with `inject` on a fake machine: the knobs are armed before
 * the request and reset after it, the request carries inject=N, and the
 * record's facts come from the fail-nth readback, the times counters and
 * the injection's stack.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../harness/analysis/kconfig.ts';
import { DEFAULT_TIMEOUTS } from '../../harness/run/machine.ts';
import type { StepEnv } from '../../harness/run/steps/kind.ts';
import { probeStep } from '../../harness/run/steps/probe.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import type { ResolvedStep } from '../../harness/scenario/resolve.ts';
import type { ProbeStep } from '../../harness/scenario/types.ts';
import { FakeMachine, type Script } from './fake-machine.ts';

/** Records every exec and request in order; the times counters drop by `injected` between arming and reset. */
class InjectMachine extends FakeMachine {
  readonly events: string[] = [];
  private timesRead = 0;
  constructor(
    script: Script,
    private readonly slabInjections: number,
    private readonly knobFails = false,
  ) {
    super(
      1,
      (line, seq, boot) => {
        this.events.push(`request ${line}`);
        return script(line, seq, boot);
      },
      {},
    );
  }
  override async exec(command: string, opts: { timeoutMs: number }): Promise<{ code: number | null; stdout: string }> {
    this.events.push(`exec ${command.split('\n')[0]}`);
    if (this.knobFails) return { code: 1, stdout: 'kharness-knob-failed /sys/kernel/debug/failslab/ignore-gfp-wait\n' };
    if (command.includes('/times)')) {
      const slab = 1_000_000 - (this.timesRead++ > 0 ? this.slabInjections : 0);
      return { code: 0, stdout: `failslab times=${slab}\nfail_page_alloc times=1000000\n` };
    }
    return super.exec(command, opts);
  }
}

const FI = parseConfig('CONFIG_FAULT_INJECTION=y\nCONFIG_FAULT_INJECTION_DEBUG_FS=y\nCONFIG_FAILSLAB=y\nCONFIG_FAIL_PAGE_ALLOC=y\n');
const env = (): StepEnv => {
  let seq = 0;
  return {
    facts: { arch: 'arm64', release: '6.1.192', config: FI },
    constants: {},
    timeouts: { ...DEFAULT_TIMEOUTS, stepMs: 2000, silenceMs: 1000 },
    nextSeq: () => ++seq,
  };
};
const step = parseScenario('name: t\nsteps:\n  - alloc: { api: kmalloc, size: 64 }\n    inject: { nth: 1, kind: slab }\n', 'x.yaml')
  .steps[0] as ProbeStep;

/** The failed kmalloc(64) as the probe reports it (the response's form; inject= and fail_nth_left= are the new keys). */
const FAILED =
  'status=ok api=kmalloc size=64 order=0 gfp=0xcc0 ctx=process success=0 in_hardirq=0 in_serving_softirq=0 in_atomic=0 ' +
  'irqs_disabled=0 preempt_count=0x0 alloc_ns=900 inject=1 fail_nth_left=0 zero_size_ptr=0';
/** An injection report (constructed: see test/unit/injection.test.ts). */
const REPORT = [
  'FAULT_INJECTION: forcing a failure.',
  'name failslab, interval 1, probability 0, space 0, times 1000000',
  'CPU: 1 PID: 61 Comm: sh Not tainted 6.1.192 #1',
  'Call trace:',
  ' dump_stack+0x14/0x2c',
  ' should_fail_ex+0x1d0/0x214',
  ' should_failslab+0xc/0x18',
  ' kmem_cache_alloc_trace+0x68/0x2a4',
  ' kp_do_alloc+0xc8/0x140 [kalloc_probe]',
];

describe('a probe step with inject', () => {
  it('arms the knobs, sends inject=N, then reads the counters and resets; the facts prove the injection', async () => {
    const m = new InjectMachine(() => ({ reply: FAILED, kmsg: REPORT }), 1);
    const g = env();
    const [inst] = (await probeStep.resolve(step, g)) as ResolvedStep[];
    const obs = await probeStep.observe(m, step, inst!, g);
    expect(m.events).toEqual([
      'exec echo 0 > /sys/kernel/debug/failslab/probability || { echo "kharness-knob-failed /sys/kernel/debug/failslab/probability"; exit 1; }',
      'request cmd=alloc seq=1 api=kmalloc size=64 gfp=GFP_KERNEL ctx=process inject=1',
      'exec echo "failslab times=$(cat /sys/kernel/debug/failslab/times)"',
    ]);
    expect(obs.facts).toMatchObject({
      ok: false,
      inject_nth: 1,
      fail_nth_left: 0,
      injected: true,
      injections: 1,
      inject_kind: 'slab',
      inject_site: 'kp_do_alloc+0xc8 [kalloc_probe]',
      inject_api: 'kmalloc',
    });
    // The report is the step's, and informational: the step can pass.
    expect(obs.splats.map((s) => s.kind)).toEqual(['fault-injection']);
    const [record] = probeStep.judge(step, inst!, obs, g);
    expect(record!.status).toBe('pass');
  });

  it("a knob that cannot be written is the step's error, and nothing is sent", async () => {
    const m = new InjectMachine(() => ({ reply: FAILED }), 0, true);
    const g = env();
    const [inst] = (await probeStep.resolve(step, g)) as ResolvedStep[];
    const obs = await probeStep.observe(m, step, inst!, g);
    expect(obs.error).toBe('could not arm fault injection: cannot write /sys/kernel/debug/failslab/ignore-gfp-wait');
    expect(m.events.filter((e) => e.startsWith('request'))).toEqual([]);
  });
});
