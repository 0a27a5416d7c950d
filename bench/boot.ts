/**
 * Boot speed, phase by phase, side by side: every target booted several
 * times in one run, interleaved (round-robin), so a busy moment of the host
 * hits all targets alike. Not a timed test: it prints figures.
 *
 *   npm run bench:boot [-- --boots N] [-- --targets x86_64/6.1,arm64/6.12,...]
 *                      [-- --variant 'retain_initrd' [--variant '...']]
 *
 * A variant is a lever under test: kernel parameters added to the target's
 * command line (space-separated). Each variant of a target boots in the same
 * round as the target as it is, so the two rows compare under the same host
 * load; its row is the target's label followed by `+` and the parameters.
 *
 * Per target, medians (and min–max) in seconds from QEMU's start:
 *   first   the kernel's first console line: from boots of their own,
 *           interleaved with the others, whose command line adds an early
 *           console and KERN_NOTICE (the arch table's bannerCmdline), so the
 *           banner shows the moment the kernel starts; quiet boots print
 *           nothing before init;
 *   kernel  when the kernel's clock started (marker time less the guest's
 *           uptime at the marker): firmware and decompression before it;
 *   uptime  the guest's own uptime when init printed the readiness marker;
 *   marker  the readiness marker on the console (sshd listening);
 *   banner  sshd's first bytes (the connection up, the session's process started);
 *   kex     the ssh key exchange done;
 *   ssh     ssh connected (authenticated);
 *   probe   the probe's channel open (init loaded the module before the marker);
 *   ready   the probe's constants read: where a scenario can start;
 *   ready/uptime  how much of the wait is the kernel's own time.
 * Source-built kernels and Debian's prebuilt ones (bzImage/Image as shipped)
 * are listed separately. The accelerator each used is printed (KVM only where
 * /dev/kvm is real hardware virtualisation).
 */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { archSpec } from '../harness/arch/arches.ts';
import { killAll } from '../harness/guest/processes.ts';
import type { BootPhases } from '../harness/results/records.ts';
import { DEFAULT_TIMEOUTS } from '../harness/run/machine.ts';
import type { Prepared } from '../harness/run/phases.ts';
import { prepareReal } from '../harness/run/target.ts';

const { values: flags } = parseArgs({
  options: {
    boots: { type: 'string', default: '5' },
    targets: {
      type: 'string',
      default: 'x86_64/6.1,x86_64/6.12,arm64/6.1,arm64/6.12,x86_64/debian:6.12.117-cloud,arm64/debian:6.12.117-cloud',
    },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
/** The command lines each target boots with: as it is, then each variant's added parameters. */
const variants: string[][] = [[], ...(flags.variant ?? []).map((v) => v.split(/\s+/).filter(Boolean))];
for (const v of variants.slice(1)) {
  const bad = v.find((p) => !/^[\w.-]+(=[\w.,:=/-]*)?$/.test(p));
  if (!v.length || bad !== undefined) {
    process.stderr.write(`bench:boot: --variant takes kernel parameters like "retain_initrd" or "a=1 b", not "${bad ?? ''}"\n`);
    process.exit(2);
  }
}
const boots = Number(flags.boots);
if (!Number.isInteger(boots) || boots < 1) {
  process.stderr.write(`bench:boot: --boots must be a positive whole number, not "${flags.boots}"\n`);
  process.exit(2);
}
const targets = String(flags.targets)
  .split(',')
  .map((t) => {
    const [arch, ...k] = t.split('/');
    return { arch: arch!, kernel: k.join('/') };
  });

const log = { verbose: false, info: () => {}, warn: (m: string) => process.stderr.write(`warning: ${m}\n`) };
const settings = { memoryMb: 512, smp: 2, accel: 'auto' as const, timeouts: DEFAULT_TIMEOUTS };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number) => (ms / 1000).toFixed(2);

/** The console logs of every boot: removed at the end. */
const dirs: string[] = [];

async function main(): Promise<void> {
  const prepared = new Map<string, Prepared>();
  for (const t of targets) {
    const label = `${t.arch}/${t.kernel}`;
    process.stderr.write(`preparing ${label}\n`);
    const dir = mkdtempSync(join(tmpdir(), 'kharness-bench-boot-'));
    dirs.push(dir);
    prepared.set(
      label,
      await prepareReal({
        ...t,
        dir,
        settings,
        log,
        buildSlot: (fn) => fn(),
        phase: () => {},
      }),
    );
  }
  const samples = new Map<string, BootPhases[]>();
  const firstLines = new Map<string, number[]>();
  const accel = new Map<string, string>();
  const failed = new Map<string, string[]>();
  for (let i = 1; i <= boots; i++) {
    for (const [target, p] of prepared) {
      for (const extra of variants) {
        const label = extra.length ? `${target} +${extra.join(' ')}` : target;
        // One boot that fails is reported with the others, not the end of the bench.
        const m = await p.boot(i, extra.length ? extra : undefined).catch((e: Error) => {
          failed.set(label, [...(failed.get(label) ?? []), e.message]);
          return undefined;
        });
        if (!m) continue;
        try {
          if (m.info.phases) samples.set(label, [...(samples.get(label) ?? []), m.info.phases]);
          accel.set(label, m.info.accel);
        } finally {
          await m.close();
        }
        // The banner boot: the same kernel and parameters, its first line printed at once.
        const bannerCmdline = [...archSpec(target.split('/')[0]!).bannerCmdline, ...extra];
        const banner = await p.boot(boots + i, bannerCmdline).catch((e: Error) => {
          failed.set(label, [...(failed.get(label) ?? []), `banner boot: ${e.message}`]);
          return undefined;
        });
        if (!banner) continue;
        const first = banner.info.phases?.firstLineMs;
        if (first !== undefined) firstLines.set(label, [...(firstLines.get(label) ?? []), first]);
        await banner.close();
      }
    }
    process.stderr.write(`round ${i}/${boots} done\n`);
  }
  const cols = ['first', 'kernel', 'uptime', 'marker', 'banner', 'kex', 'ssh', 'probe', 'ready'] as const;
  const pick: Record<Exclude<(typeof cols)[number], 'first'>, (p: BootPhases) => number | undefined> = {
    kernel: (p) => p.kernelStartMs,
    uptime: (p) => p.uptimeAtMarkerMs,
    marker: (p) => p.markerMs,
    banner: (p) => p.sshBannerMs,
    kex: (p) => p.sshKeyExchangeMs,
    ssh: (p) => p.sshMs,
    probe: (p) => p.moduleMs,
    ready: (p) => p.readyMs,
  };
  const rows = [...samples].map(([label, ps]) => {
    const cells = cols.map((c) => {
      const xs = c === 'first' ? (firstLines.get(label) ?? []) : ps.map(pick[c]).filter((x): x is number => x !== undefined);
      return xs.length ? `${sec(median(xs))} (${sec(Math.min(...xs))}-${sec(Math.max(...xs))})` : '-';
    });
    const ratios = ps.flatMap((p) => (p.uptimeAtMarkerMs ? [p.readyMs / p.uptimeAtMarkerMs] : []));
    return [label, ...cells, ratios.length ? median(ratios).toFixed(2) : '-'];
  });
  const head = ['target', ...cols, 'ready/uptime'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => x.padEnd(widths[i]!)).join('  ');
  const prebuilt = (r: string[]) => r[0]!.includes('debian:');
  console.log(`boot phases, seconds from QEMU start, median (min-max) of ${boots} boots, interleaved`);
  console.log(line(head));
  for (const r of rows.filter((x) => !prebuilt(x))) console.log(line(r));
  if (rows.some(prebuilt)) {
    console.log("Debian's prebuilt kernels, as shipped:");
    for (const r of rows.filter(prebuilt)) console.log(line(r));
  }
  for (const [label, a] of accel) console.log(`accelerator ${label}: ${a}`);
  for (const [label, errs] of failed) console.log(`${label}: ${errs.length} of ${boots} boots failed: ${errs[0]}`);
}

main()
  .catch((e) => {
    process.stderr.write(`bench:boot: ${(e as Error).message}\n`);
    process.exitCode = 2;
  })
  .finally(async () => {
    killAll();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
