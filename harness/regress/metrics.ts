/**
 * The metrics of a run: numeric facts with a direction that counts as
 * better, one sample per run. Which facts are metrics is data: the probe's
 * vocabulary marks its own (`better:`), the kernel-test catalogue marks its
 * modules' facts, and the boot's phases are listed here. Other numeric facts
 * (addresses, page counts, meminfo changes) keep their distributions in the
 * step records, but have no better side, so nothing calls them a regression.
 * Pure.
 */
import { type Distribution, distribution } from '../analysis/stats.ts';
import { KERNEL_TESTS } from '../ktest/catalog.ts';
import { FACTS } from '../probe/vocabulary.ts';
import type { BootInfo, ResultRecord, StepRecord, TargetRef } from '../results/records.ts';
import { foldRepeats } from '../results/repeats.ts';

export type Better = 'lower' | 'higher';

export interface Metric {
  target: TargetRef;
  /** The metric's name within its target: `scenario › step › fact`, or `boot › phase`. */
  name: string;
  scenario?: string;
  step?: string;
  fact: string;
  better: Better;
  unit: string;
  dist: Distribution;
}

/** The boot's phases as metrics: time from QEMU's start (the guest's own uptime for kernel_ms). */
export const BOOT_METRICS: Readonly<Record<string, { of: (b: BootInfo) => number | undefined; doc: string }>> = {
  ready_ms: { of: (b) => b.sshMs, doc: 'QEMU start until ssh, the probe and the constants were ready' },
  marker_ms: { of: (b) => b.phases?.markerMs ?? b.bootMs, doc: 'QEMU start until the readiness marker on the console' },
  kernel_ms: { of: (b) => b.phases?.uptimeAtMarkerMs, doc: "the guest's own uptime at the marker" },
};

/** Which way a step fact is better, if it is a metric. */
export function factDirection(s: Pick<StepRecord, 'kernelTest'>, fact: string): Better | undefined {
  if (s.kernelTest) return KERNEL_TESTS[s.kernelTest.module]?.metrics?.[fact];
  return FACTS[fact]?.better;
}

const unitOf = (fact: string) => (/_ns(_|$)/.test(fact) ? 'ns' : /usec/.test(fact) ? 'µs' : /_ms$/.test(fact) ? 'ms' : '');

const targetKey = (t: TargetRef) => `${t.arch}\u0000${t.kernel}`;

/** Every metric of a run (repeats folded), per target. */
export function metricsOf(records: readonly ResultRecord[]): Metric[] {
  const out: Metric[] = [];
  for (const r of foldRepeats(records)) {
    if (r.type !== 'step' || r.status === 'skip' || r.status === 'error') continue;
    for (const [fact, v] of Object.entries(r.facts)) {
      const better = factDirection(r, fact);
      if (!better || typeof v !== 'number') continue;
      const dist = r.stats?.[fact] ?? distribution([v]);
      out.push({
        target: r.target,
        name: `${r.scenario} › ${r.name} › ${fact}`,
        scenario: r.scenario,
        step: r.name,
        fact,
        better,
        unit: unitOf(fact),
        dist,
      });
    }
  }
  // Boots, grouped by target and by the command line a scenario added (each its own metric).
  const boots = new Map<string, { target: TargetRef; label: string; samples: Record<string, number[]> }>();
  for (const r of records) {
    if (r.type !== 'guest') continue;
    const extra = r.extraCmdline?.join(' ') ?? '';
    const k = `${targetKey(r.target)}\u0000${extra}`;
    if (!boots.has(k)) boots.set(k, { target: r.target, label: extra ? `boot (${extra})` : 'boot', samples: {} });
    const b = boots.get(k)!;
    for (const [m, spec] of Object.entries(BOOT_METRICS)) {
      const v = spec.of(r);
      if (v === undefined) continue;
      b.samples[m] = [...(b.samples[m] ?? []), v];
    }
  }
  for (const b of boots.values())
    for (const [m, xs] of Object.entries(b.samples))
      out.push({ target: b.target, name: `${b.label} › ${m}`, fact: m, better: 'lower', unit: 'ms', dist: distribution(xs) });
  return out;
}
