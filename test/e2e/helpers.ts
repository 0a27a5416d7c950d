/** Running the real CLI, as a user would, and looking for leftover QEMU processes. */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { cacheRoot, PROJECT_ROOT, SCENARIOS_DIR } from '../../harness/paths.ts';
import type { Facts } from '../../harness/probe/vocabulary.ts';
import { parseResults, type ResultRecord, type StepRecord } from '../../harness/results/records.ts';

export const CLI = join(PROJECT_ROOT, 'bin', 'kharness.js');

export function tempDir(prefix = 'kharness-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function cli(args: string[], opts: { timeoutMs?: number } = {}): ResultPromise<{ reject: false; all: true }> {
  return execa('node', [CLI, ...args], {
    cwd: PROJECT_ROOT,
    reject: false,
    all: true,
    env: { CI: 'true', NO_COLOR: '1' },
    timeout: opts.timeoutMs ?? 30 * 60_000,
  }) as unknown as ResultPromise<{ reject: false; all: true }>;
}

export function results(outDir: string): ResultRecord[] {
  return parseResults(readFileSync(join(outDir, 'results.jsonl'), 'utf8'));
}

/** A shipped scenario's file, by name. */
export function shipped(name: string): string {
  return join(SCENARIOS_DIR, `${name}.yaml`);
}

/** The guest constants a run recorded: of the first boot, or of the first boot of one kernel. */
export function guestConstants(records: ResultRecord[], kernel?: string): Facts {
  const g = records.find((r) => r.type === 'guest' && (kernel === undefined || r.target.kernel === kernel));
  return g?.type === 'guest' ? g.constants : {};
}

export function steps(records: ResultRecord[]): StepRecord[] {
  return records.filter((r): r is StepRecord => r.type === 'step');
}

/** QEMU processes whose command line mentions this path (each run's initrd lives under its out dir). */
export async function qemusUnder(path: string): Promise<string[]> {
  const r = await execa('pgrep', ['-af', 'qemu-system'], { reject: false });
  // pgrep exits 1 when nothing matches; anything else (missing pgrep, a bad option) must not read as "no QEMU".
  if (r.exitCode !== 0 && r.exitCode !== 1)
    throw new Error(`pgrep failed (${r.exitCode ?? r.code}): cannot look for leftover QEMU processes`);
  return r.stdout.split('\n').filter((l) => l.includes(path));
}

/** The real kernel git history the git, incremental and bisect tests use; made once, kept in the cache. */
export const FIXTURE_REPO = join(cacheRoot(), 'fixtures', 'linux-6.1-history');

export async function ensureFixtureRepo(): Promise<string> {
  await execa('bash', [join(PROJECT_ROOT, 'test', 'fixtures', 'make-kernel-history.sh'), FIXTURE_REPO], { timeout: 20 * 60_000 });
  return FIXTURE_REPO;
}

/**
 * The O= directory of a kernel build, from the boot image `kharness build`
 * printed: the nearest directory above it with a .config (the image is
 * arch/x86/boot/bzImage, arch/arm64/boot/Image or, with a PVH entry, vmlinux).
 */
export function kernelBuildDir(image: string): string {
  for (let d = dirname(image); d !== dirname(d); d = dirname(d)) if (existsSync(join(d, '.config'))) return d;
  throw new Error(`no .config above ${image}`);
}
