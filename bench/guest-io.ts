/**
 * What one exchange with a booted guest costs, with Nagle's algorithm on and
 * off the harness's ssh socket, side by side: two ssh sessions to the same
 * guest, their commands interleaved, so both see the same guest and host.
 * Not a timed test: it prints figures.
 *
 *   npm run bench:guest-io [-- --target x86_64/6.1] [-- --rounds 30]
 *
 * Per session, median and max milliseconds of:
 *   probe     one request to kalloc_probe over its relay channel (a step's round trip);
 *   meminfo   `cat /proc/meminfo` over a fresh ssh channel (what every
 *             scenario does before and after its steps);
 *   true      a command with no output;
 *   ping      an ssh global request (the liveness check; no process started).
 * Each session holds the probe's relay open, with the kernel log streaming on
 * it, as in a run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseConfig } from '../harness/analysis/kconfig.ts';
import { archSpec } from '../harness/arch/arches.ts';
import { generateRunKeys } from '../harness/guest/keys.ts';
import { killAll } from '../harness/guest/processes.ts';
import { configuresNetwork, freePort, Vm } from '../harness/guest/qemu.ts';
import { guestBase, writeGuestInitrd } from '../harness/guest/rootfs.ts';
import { GuestSession } from '../harness/guest/ssh.ts';
import { buildKernel } from '../harness/kernel/build.ts';
import { buildModule } from '../harness/module/build.ts';
import { ProbeClient } from '../harness/probe/client.ts';

const { values: flags } = parseArgs({
  options: {
    target: { type: 'string', default: 'x86_64/6.1' },
    rounds: { type: 'string', default: '30' },
  },
});
const rounds = Number(flags.rounds);
if (!Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(`bench:guest-io: --rounds must be a positive whole number, not "${flags.rounds}"\n`);
  process.exit(2);
}
const [archName, ...k] = String(flags.target).split('/');
const log = { verbose: false, info: () => {}, warn: (m: string) => process.stderr.write(`warning: ${m}\n`) };

async function main(): Promise<void> {
  const arch = archSpec(archName!);
  const kernel = await buildKernel(k.join('/'), arch.name, { log });
  const config = parseConfig(await readFile(kernel.configFile, 'utf8'));
  const base = await guestBase(arch, log);
  const keys = generateRunKeys();
  const dir = mkdtempSync(join(tmpdir(), 'kharness-bench-io-'));
  const initrd = join(dir, 'initrd.cpio');
  const probe = await buildModule(kernel, log);
  // As in a run: the prebuilt kernel's boot modules, then the probe, loaded by init before the marker.
  await writeGuestInitrd(initrd, base, keys, [...kernel.guestModules, probe.ko]);
  const port = await freePort();
  const vm = new Vm({
    arch,
    kernel: kernel.image,
    initrd,
    accel: 'tcg',
    memoryMb: 512,
    smp: 2,
    sshPort: port,
    consoleLog: join(dir, 'console.log'),
    kernelIpConfig: configuresNetwork(config),
  });
  try {
    vm.start();
    await vm.waitForLine(/KHARNESS-READY/, 60_000, 'boot to console marker');
    const connect = (noDelay: boolean) => GuestSession.connect(port, keys.clientPrivate, keys.hostKeyBlob, 30_000, { noDelay });
    const sessions = { 'Nagle off (kharness)': await connect(true), 'Nagle on (Node default)': await connect(false) };
    // As in a run: each session carries the probe's relay (with the kernel log streaming on it).
    const probes = new Map(await Promise.all(Object.values(sessions).map(async (s) => [s, await ProbeClient.open(s)] as const)));
    const ops: Record<string, (s: GuestSession) => Promise<unknown>> = {
      probe: (s) => probes.get(s)!.request('cmd=constants', 10_000),
      meminfo: (s) => s.run('cat /proc/meminfo', { timeoutMs: 10_000 }),
      true: (s) => s.run('true', { timeoutMs: 10_000 }),
      ping: (s) => s.ping(10_000),
    };
    const samples = new Map<string, number[]>();
    // Each session's exchanges back to back, as a scenario makes them; the sessions alternate by round.
    for (let i = 0; i < rounds; i++)
      for (const [name, s] of Object.entries(sessions))
        for (const [op, fn] of Object.entries(ops)) {
          const t0 = performance.now();
          await fn(s);
          const key = `${name}\t${op}`;
          samples.set(key, [...(samples.get(key) ?? []), performance.now() - t0]);
        }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    process.stdout.write(`${arch.name}/${kernel.kernel}, ${rounds} rounds, ms: median (max)\n`);
    for (const op of Object.keys(ops)) {
      const cells = Object.keys(sessions).map((name) => {
        const xs = samples.get(`${name}\t${op}`)!;
        return `${name}: ${median(xs).toFixed(1)} (${Math.max(...xs).toFixed(1)})`;
      });
      process.stdout.write(`${op.padEnd(8)} ${cells.join('   ')}\n`);
    }
    for (const [s, p] of probes) {
      p.close();
      s.close();
    }
  } finally {
    await vm.kill();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`bench:guest-io: ${e.message}\n`);
  process.exit(2);
});
