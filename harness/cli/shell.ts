import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { archSpec } from '../arch/arches.ts';
import { UsageError } from '../errors.ts';
import { loadCatalog } from '../kernel/catalog.ts';
import { findKernel } from '../kernel/names.ts';
import { prepareReal } from '../run/target.ts';
import { consoleLog } from '../util/log.ts';
import { kernelNames, parseMachineFlags } from './args.ts';
import type { Outcome } from './exit.ts';

export async function shellCommand(v: Record<string, unknown>, _positionals: string[], signal: AbortSignal): Promise<Outcome> {
  const settings = parseMachineFlags(v);
  const log = consoleLog(Boolean(v.verbose));
  const arch = archSpec(String(v.arch)).name;
  const names = (await kernelNames(v.kernel, arch, log)) ?? [];
  if (names.length !== 1) throw new UsageError('shell takes one kernel', 'Give one name, e.g. --kernel 6.1 or --kernel debian:6.12-cloud.');
  const kernel = names[0]!;
  if (!findKernel(kernel, await loadCatalog()).arches.includes(arch)) throw new UsageError(`kernel ${kernel} does not run on ${arch}`);
  const command = v.exec === undefined ? undefined : String(v.exec);
  if (command === '') throw new UsageError('--exec needs a command', "For example: --exec 'cat /proc/meminfo'");
  const interactive = command === undefined;
  if (interactive && !process.stdin.isTTY)
    throw new UsageError('an interactive shell needs a terminal', "Run a command instead: --exec 'CMD'");
  const dir = await mkdtemp(join(tmpdir(), 'kharness-shell-'));
  const prepared = await prepareReal({ arch, kernel, dir, settings, log, buildSlot: (fn) => fn(), phase: () => {}, signal });
  const machine = await prepared.boot(1);
  try {
    log.info(
      `${arch}/${kernel}: ${prepared.release}, ready in ${(machine.info.sshMs / 1000).toFixed(2)} s; ` +
        `probe at /sys/kernel/debug/kalloc_probe/ctl; logs in ${dir}`,
    );
    if (interactive) process.stdin.setRawMode?.(true);
    const code = await machine.attach(command, {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      columns: process.stdout.columns,
      rows: process.stdout.rows,
    });
    return { guest: code };
  } finally {
    if (interactive) process.stdin.setRawMode?.(false);
    process.stdin.pause();
    await machine.close();
  }
}
