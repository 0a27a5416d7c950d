/**
 * PREEMPT_RT from source: 6.12 with Debian's allocator options, PREEMPT_RT
 * and DEBUG_ATOMIC_SLEEP (catalog 6.12-rt), so the kernel reports what it
 * refuses. Its own build takes minutes: this is the slow tier. (npm test runs
 * the same scenarios on Debian's prebuilt rt flavour, which cannot report.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '../../harness/paths.ts';
import { cli, qemusUnder, results, steps, tempDir } from '../e2e/helpers.ts';

describe('PREEMPT_RT 6.12 built from source', () => {
  it('reports GFP_ATOMIC from hard IRQ and under a raw spinlock, and shows spin_lock_irqsave is not atomic', async () => {
    const out = tempDir();
    const r = await cli([
      'run',
      join(SCENARIOS_DIR, 'gfp-atomic-rt.yaml'),
      join(SCENARIOS_DIR, 'gfp-atomic-irq.yaml'),
      '--arch',
      'x86_64',
      '--kernel',
      '6.12-rt',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const recs = results(out);
    const s = steps(recs);
    const rt = s.filter((x) => x.scenario === 'gfp-atomic-rt');
    expect(rt.map((x) => `${x.name}: ${x.status}`)).toEqual([
      'spin_lock_irqsave leaves the context preemptible: pass',
      'GFP_KERNEL under spin_lock_irqsave is fine there: pass',
      'GFP_ATOMIC, 64 KiB, in hard IRQ is reported: pass',
      'let the rate limit pass: pass',
      'GFP_ATOMIC, 64 KiB, under a raw spinlock is reported: pass',
    ]);
    const raw = rt.find((x) => x.name === 'GFP_ATOMIC, 64 KiB, under a raw spinlock is reported')!;
    expect(raw.splats.map((x) => x.title).join('\n')).toMatch(/sleeping function called from invalid context/);
    // The non-RT scenario is skipped as a whole, with the reason.
    expect(
      s
        .filter((x) => x.scenario === 'gfp-atomic-irq')
        .every((x) => x.status === 'skip' && x.reason === 'kernel config has CONFIG_PREEMPT_RT'),
    ).toBe(true);
    expect(r.stdout).toMatch(/gfp-atomic-context\n\s+x86_64\/6\.12-rt\s+fails — GFP_ATOMIC 64 KiB in hard IRQ on PREEMPT_RT/);
    expect(await qemusUnder(out)).toEqual([]);
  });
});
