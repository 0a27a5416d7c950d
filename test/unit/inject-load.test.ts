/** A step's `inject` in the scenario language: what it means, and the mistakes refused at load with file:line:col. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../harness/analysis/kconfig.ts';
import { ScenarioError } from '../../harness/errors.ts';
import { formatRequest, type ProbeAction } from '../../harness/probe/protocol.ts';
import { stepUnmetReason } from '../../harness/run/steps/index.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import { resolveStep } from '../../harness/scenario/resolve.ts';
import type { ProbeStep } from '../../harness/scenario/types.ts';

function errorOf(src: string): ScenarioError {
  try {
    parseScenario(src, 'x.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return e as ScenarioError;
  }
  throw new Error('expected an error');
}

const scenario = (step: string) => `name: t\nsteps:\n  - ${step}\n`;

describe('inject on a step', () => {
  it('an alloc step fails its Nth allocation, of any kind by default, and says so on the wire', () => {
    const s = parseScenario(scenario('alloc: { api: kmalloc, size: 64 }\n    inject: { nth: 2 }'), 'x.yaml');
    expect(s.steps[0]!.inject).toMatchObject({ nth: 2, kind: 'any' });
    const [r] = resolveStep(s.steps[0] as ProbeStep, {});
    expect(formatRequest(7, r!.action as ProbeAction)).toBe('cmd=alloc seq=7 api=kmalloc size=64 gfp=GFP_KERNEL ctx=process inject=2');
  });

  it('takes a kind', () => {
    const s = parseScenario(scenario('alloc: { api: kmalloc, size: 64KiB }\n    inject: { nth: 1, kind: page }'), 'x.yaml');
    expect(s.steps[0]!.inject?.kind).toBe('page');
  });

  it('refuses a step kind that makes no allocation of its own, at the inject key', () => {
    const e = errorOf(`name: t\nsteps:\n  - alloc: { api: kmalloc, size: 64, hold: a }\n  - free: a\n    inject: { nth: 1 }\n`);
    expect([e.line, e.column]).toEqual([5, 13]);
    expect(e.reason).toBe('a free step cannot take inject: only alloc steps make allocations of their own');
  });

  it('refuses an allocation in softirq or hardirq: fail-nth is read only in task context', () => {
    const e = errorOf(scenario('alloc: { api: kmalloc, size: 64, gfp: GFP_ATOMIC, ctx: hardirq }\n    inject: { nth: 1 }'));
    expect(e.line).toBe(4);
    expect(e.reason).toBe('inject needs task context: the kernel reads fail-nth only in_task(), not in hardirq');
  });

  it('refuses an index below 1 or above the cap, and an unknown kind, at the value', () => {
    const zero = errorOf(scenario('alloc: { api: kmalloc, size: 64 }\n    inject: { nth: 0 }'));
    expect([zero.line, zero.column]).toEqual([4, 20]);
    expect(zero.reason).toMatch(/>= 1/);
    const big = errorOf(scenario('alloc: { api: kmalloc, size: 64 }\n    inject: { nth: 10001 }'));
    expect(big.reason).toMatch(/<= 10000/);
    const kind = errorOf(scenario('alloc: { api: kmalloc, size: 64 }\n    inject: { nth: 1, kind: vmalloc }'));
    expect(kind.reason).toMatch(/must be one of: slab, page, any/);
  });

  it('is skipped before boot on a kernel without fault injection (Debian prebuilt), with the reason', () => {
    const s = parseScenario(scenario('alloc: { api: kmalloc, size: 64 }\n    inject: { nth: 1, kind: slab }'), 'x.yaml');
    const debian = { arch: 'x86_64', release: '6.1.0-41-cloud-amd64', config: parseConfig('# CONFIG_FAULT_INJECTION is not set\n') };
    expect(stepUnmetReason(s.steps[0]!, debian)).toMatch(/^fault injection \(slab\) needs CONFIG_FAULT_INJECTION/);
    const fi = parseConfig('CONFIG_FAULT_INJECTION=y\nCONFIG_FAULT_INJECTION_DEBUG_FS=y\nCONFIG_FAILSLAB=y\n');
    expect(stepUnmetReason(s.steps[0]!, { ...debian, config: fi })).toBeUndefined();
  });
});
