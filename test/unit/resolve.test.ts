import { describe, expect, it } from 'vitest';
import { activeExpect, evaluate, stepEnv } from '../../harness/scenario/expect.ts';
import { parseScenario } from '../../harness/scenario/load.ts';
import { MAX_SWEEP_STEPS, resolveStep } from '../../harness/scenario/resolve.ts';
import type { ProbeStep } from '../../harness/scenario/types.ts';

const C = {
  PAGE_SIZE: 4096,
  KMALLOC_MAX_SIZE: 4194304,
  KMALLOC_MAX_CACHE_SIZE: 8192,
  KMALLOC_MIN_SIZE: 8,
  TOTALRAM_SIZE: 1 << 29,
  INIT_ON_ALLOC: 0,
};

const s = parseScenario(
  `name: t
steps:
  - name: sweep
    sweep: { size: { from: 1MiB, to: 2 * KMALLOC_MAX_SIZE } }
    alloc: { api: kmalloc, gfp: [GFP_KERNEL, __GFP_NOWARN] }
    expect:
      - when: size <= KMALLOC_MAX_SIZE
        ok: true
        phys_runs: 1
      - when: size > KMALLOC_MAX_SIZE
        ok: false
  - name: list
    sweep: { size: [KMALLOC_MAX_SIZE + 1, 64, 64] }
    time: { api: kmalloc, vs: vmalloc }
    expect: { alloc_ns_median: { lt: vs_alloc_ns_median } }
  - name: guarded by a fact
    alloc: { api: kmalloc, size: 2MiB }
    expect:
      - when: ok == 1
        phys_runs: 1
`,
  't.yaml',
);

describe('size sweeps', () => {
  it('expands a range against the guest constants, doubling up to and including "to"', () => {
    const inst = resolveStep(s.steps[0] as ProbeStep, C);
    expect(inst.map((i) => i.size)).toEqual([1 << 20, 2 << 20, 4 << 20, 8 << 20]);
    expect(inst[3]!.name).toBe('sweep [8 MiB]');
    // Numbers only from here on: the request is formatted from this, nothing is evaluated twice.
    expect(inst[3]!.action).toEqual({
      kind: 'alloc',
      api: 'kmalloc',
      size: 8 << 20,
      gfp: ['GFP_KERNEL', '__GFP_NOWARN'],
      ctx: 'process',
      hold: undefined,
      fill: undefined,
    });
    // The same scenario on a 64K-page guest sweeps further.
    expect(resolveStep(s.steps[0] as ProbeStep, { ...C, KMALLOC_MAX_SIZE: 512 << 20 }).length).toBe(11);
  });

  it('sorts and deduplicates a list', () => {
    expect(resolveStep(s.steps[1] as ProbeStep, C).map((i) => i.size)).toEqual([64, 4194305]);
  });

  it('refuses sizes that are negative, not whole, or a sweep that would not end', () => {
    const bad = parseScenario(
      `name: b
steps:
  - alloc: { api: kmalloc, size: PAGE_SIZE - 8KiB }
  - sweep: { size: { from: 1, to: 2 * TOTALRAM_SIZE } }
    alloc: { api: kmalloc }
  - sweep: { size: { from: 1, to: KMALLOC_MAX_SIZE } }
    alloc: { api: kmalloc }
`,
      'b.yaml',
    );
    expect(() => resolveStep(bad.steps[0] as ProbeStep, C)).toThrow(/below zero/);
    expect(() => resolveStep(bad.steps[1] as ProbeStep, { ...C, TOTALRAM_SIZE: Number.POSITIVE_INFINITY })).toThrow(/not a whole number/);
    const factor2 = resolveStep(bad.steps[2] as ProbeStep, { ...C, KMALLOC_MAX_SIZE: 2 ** 52 });
    expect(factor2.length).toBeLessThanOrEqual(MAX_SWEEP_STEPS);
  });
});

describe('guarded expectations', () => {
  it('applies the block whose condition holds for the size', () => {
    const small = activeExpect(s.steps[0]!.expect, { ...C, size: 4 << 20 });
    expect(Object.keys(small.facts)).toEqual(['ok', 'phys_runs']);
    const big = activeExpect(s.steps[0]!.expect, { ...C, size: 8 << 20 });
    expect(big.facts.ok!.matcher).toBe(false);
    expect(big.facts.phys_runs).toBeUndefined();
  });

  it('compares one fact of a step with another', () => {
    const facts = { alloc_ns_median: 391, vs_alloc_ns_median: 2675 };
    const env = stepEnv(C, 64, facts);
    expect(evaluate(activeExpect(s.steps[1]!.expect, env), { facts, splats: [], crashed: false }, env)).toEqual([]);
    const slower = { alloc_ns_median: 3000, vs_alloc_ns_median: 2675 };
    const env2 = stepEnv(C, 64, slower);
    expect(evaluate(activeExpect(s.steps[1]!.expect, env2), { facts: slower, splats: [], crashed: false }, env2)).toEqual([
      { what: 'alloc_ns_median', expected: '< 2675', observed: '3000', pos: { file: 't.yaml', line: 15, column: 15 } },
    ]);
  });

  it('guards on a reported fact, and fails loudly when the fact is missing', () => {
    const failed = { ok: false };
    expect(activeExpect(s.steps[2]!.expect, stepEnv(C, 2 << 20, failed)).facts).toEqual({});
    const missing = activeExpect(s.steps[2]!.expect, stepEnv(C, 2 << 20, {}));
    expect(missing.guardErrors?.[0]).toMatch(/when "ok == 1": the guest did not report ok/);
    expect(evaluate(missing, { facts: {}, splats: [], crashed: false }, C)[0]!.what).toBe('when');
  });
});
