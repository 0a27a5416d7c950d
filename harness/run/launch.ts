/**
 * A repeated command's QEMU, started before the rest of kharness has loaded.
 *
 * Loading the run's code and finding the kernel, the probe and the guest's
 * files in the cache take a tenth of a second or more before QEMU can be
 * spawned. When the same command line (less where its results go), or one
 * for the same target, ran before in the same folder with the same compiled
 * code, its first QEMU launch was kept: the command, and the initramfs it
 * read (with the ssh keys inside, for a guest reached over ssh).
 * bin/kharness.js starts that launch again at once (speculate), before it
 * loads the CLI.
 *
 * Nothing is trusted on the record's word. When the run reaches its first
 * boot it computes what it would launch (a plan key over QEMU's arguments
 * and the identities of the kernel image, modules, base initramfs and
 * at-boot scripts) and adopts the running QEMU only when the kept launch was
 * planned from the same (adoptLaunch); otherwise it kills it and spawns its
 * own, and keeps that launch for next time (launch-keep.ts). A launch nobody
 * adopts within a few seconds (the kernel had to be built, the command
 * failed early) is killed, and always at exit.
 *
 * bin/kharness.js imports this file on its own (dist/launch.js), so it
 * loads only node:child_process and node:fs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../paths.ts';
import { hash53 } from '../util/hash53.ts';

/** A kept launch: what to spawn, and what the guest it boots holds. */
export interface LaunchRecord {
  /** What the launch was planned from (qemu-machine.ts launchPlanKey): it is adopted only by the same plan. */
  planKey: string;
  cmd: string;
  args: string[];
  /** The initramfs QEMU reads, kept beside the record. */
  initrd: string;
  /** The host port forwarded to the guest's sshd, and the keys in the initramfs (none when the steps run at boot). */
  sshPort?: number;
  keys?: { clientPrivate: string; hostKeyBlob: string };
}

/** A speculative launch, running. */
export interface EarlyLaunch {
  child: ChildProcess;
  record: LaunchRecord;
  /** Date.now() and performance.now() right after the spawn. */
  spawnedAt: number;
  spawnedPerfMs: number;
}

/** The commands that boot a guest. */
const BOOTING = new Set(['run', 'shell', 'check-module']);
/** How long a speculative launch waits to be adopted before it is killed. */
const ADOPT_WITHIN_MS = 5000;

/** The environment a launch may depend on: kharness's own variables. */
function kharnessVars(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((k) => k.startsWith('KHARNESS_'))
    .sort()
    .map((k) => `${k}=${env[k]}`);
}

/** An option's values in a command line (`--kernel 6.1`, `--kernel=6.1`), up to `--`. */
function optionValues(argv: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length && argv[i] !== '--'; i++) {
    const a = argv[i]!;
    if (a === name && i + 1 < argv.length) out.push(argv[++i]!);
    else if (a.startsWith(`${name}=`)) out.push(a.slice(name.length + 1));
  }
  return out;
}

/**
 * The kept launches that may belong to this command line, most specific
 * first: its own (its arguments less `--out DIR`, a new folder per run being
 * the usual), then its target's (the command, --kernel and --arch: another
 * scenario on the same kernel often boots the very same guest). Both are
 * keyed on the working directory, the compiled code's identity and the
 * KHARNESS_* environment. None for a command that boots nothing. Pure.
 */
export function launchKeys(argv: readonly string[], cwd: string, code: string, env: NodeJS.ProcessEnv): string[] {
  if (!BOOTING.has(argv[0] ?? '')) return [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a === '--out') i++;
    else if (!a.startsWith('--out=')) args.push(a);
  }
  const vars = kharnessVars(env);
  const target = [argv[0], optionValues(argv, '--kernel'), optionValues(argv, '--arch')];
  return [hash53(JSON.stringify(['line', args, cwd, code, vars])), hash53(JSON.stringify(['target', target, cwd, code, vars]))];
}

export function launchDir(env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'launch');
}

function readRecord(file: string): LaunchRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<LaunchRecord>;
    const ok =
      typeof r.planKey === 'string' &&
      typeof r.cmd === 'string' &&
      Array.isArray(r.args) &&
      r.args.every((a) => typeof a === 'string') &&
      typeof r.initrd === 'string';
    return ok ? (r as LaunchRecord) : undefined;
  } catch {
    return undefined;
  }
}

let pending: EarlyLaunch | undefined;

function discard(p: EarlyLaunch): void {
  if (pending === p) pending = undefined;
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
}

/**
 * Starts this command line's kept launch, if it has one (bin/kharness.js,
 * before the CLI loads). Never throws: a missing or damaged record, or a
 * spawn that fails, only means the run spawns its own.
 */
export function speculate(argv: readonly string[], code: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (!code || env.KHARNESS_NO_EARLY_LAUNCH) return;
  const dir = launchDir(env);
  const record = launchKeys(argv, process.cwd(), code, env)
    .map((k) => readRecord(join(dir, `${k}.json`)))
    .find((r) => r !== undefined && existsSync(r.initrd));
  if (!record) return;
  try {
    const child = spawn(record.cmd, record.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const p: EarlyLaunch = { child, record, spawnedAt: Date.now(), spawnedPerfMs: performance.now() };
    // A spawn that failed (the binary is gone) reports it here; the run spawns its own.
    child.on('error', () => discard(p));
    setTimeout(() => discard(p), ADOPT_WITHIN_MS).unref();
    process.once('exit', () => discard(p));
    pending = p;
  } catch {
    // The run spawns its own.
  }
}

let asked = false;

/**
 * At each boot: the speculative launch, if it runs and was planned from
 * `planKey` (any other is killed), and whether this boot's own launch is
 * to be kept (the process's first boot, when nothing was adopted). Only the
 * first boot can adopt: a process's later boots spawn their own.
 */
export function adoptLaunch(planKey: string): { early?: EarlyLaunch; keep: boolean } {
  const first = !asked;
  asked = true;
  const p = pending;
  if (!p) return { keep: first };
  pending = undefined;
  if (first && p.record.planKey === planKey && p.child.exitCode === null && p.child.signalCode === null && p.child.pid !== undefined)
    return { early: p, keep: false };
  discard(p);
  return { keep: first };
}
