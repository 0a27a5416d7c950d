/**
 * PREEMPT_RT from source: 6.12 with Debian's rt allocator options, PREEMPT_RT
 * and DEBUG_ATOMIC_SLEEP (catalog 6.12-rt), so the kernel reports what it
 * refuses; beside it the non-RT 6.12, so the claims table can say "depends".
 * Its own build takes minutes: this is the slow tier. (npm test runs the same
 * scenarios on Debian's prebuilt rt flavour, which cannot report.)
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCENARIOS_DIR } from '../../harness/paths.ts';
import { claimsTable } from '../../harness/report/claims.ts';
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
      '6.12-rt,6.12',
      '--out',
      out,
    ]);
    expect(r.exitCode, r.all).toBe(0);
    const recs = results(out);
    const s = steps(recs);
    const rt = s.filter((x) => x.scenario === 'gfp-atomic-rt' && x.target.kernel === '6.12-rt');
    expect(rt.map((x) => `${x.name}: ${x.status}`)).toEqual([
      'spin_lock_irqsave leaves the context preemptible: pass',
      'GFP_ATOMIC, 64 KiB, under a raw spinlock is reported: pass',
      'let the rate limit pass: pass',
      'GFP_ATOMIC, 64 KiB, in hard IRQ is reported: pass',
      'let the rate limit pass again: pass',
      'GFP_KERNEL under spin_lock_irqsave is reported too: pass',
    ]);
    const raw = rt.find((x) => x.name === 'GFP_ATOMIC, 64 KiB, under a raw spinlock is reported')!;
    expect(raw.splats.map((x) => x.title).join('\n')).toMatch(
      /sleeping function called from invalid context at kernel\/locking\/spinlock_rt\.c/,
    );
    // The non-RT scenario is skipped as a whole on RT, with the reason; the RT one on the non-RT kernel.
    const skipped = (scenario: string, kernel: string) => s.filter((x) => x.scenario === scenario && x.target.kernel === kernel);
    expect(
      skipped('gfp-atomic-irq', '6.12-rt').every((x) => x.status === 'skip' && x.reason === 'kernel config has CONFIG_PREEMPT_RT'),
    ).toBe(true);
    expect(skipped('gfp-atomic-rt', '6.12').every((x) => x.status === 'skip' && x.reason === 'kernel config lacks CONFIG_PREEMPT_RT')).toBe(
      true,
    );
    // The article's GFP_ATOMIC advice depends on the preemption model, with the kernel's own report as evidence.
    const row = (id: string) => claimsTable(recs).rows.find((x) => x.id === id)!;
    for (const id of ['gfp-atomic-context', 'kmalloc-can-be-atomic']) {
      expect(row(id).overall).toBe('depends');
      expect(row(id).cells['x86_64/6.12-rt']!.says).toMatch(/^fails — .*sleeping function called from invalid context/);
      expect(row(id).cells['x86_64/6.12']!.says).toMatch(/^holds — /);
    }
    expect(await qemusUnder(out)).toEqual([]);
  });
});
