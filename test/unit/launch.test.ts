/**
 * A repeated command's kept launch (run/launch.ts): which command lines share
 * one, and that a launch started ahead is adopted only by the very plan it
 * was kept for, killed otherwise, and never started from a damaged record.
 * Real processes: a kept launch of `sleep` stands in for QEMU.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adoptLaunch, launchDir, launchKey, speculate } from '../../harness/run/launch.ts';
import { keepLaunch } from '../../harness/run/launch-keep.ts';

let root: string;
let env: NodeJS.ProcessEnv;
const CODE = 'code-1';
const argv = ['run', 'scenarios/kernel-test-slub.yaml', '--kernel', '6.1', '--out', '/tmp/a'];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kharness-launch-'));
  env = { KHARNESS_CACHE: root };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function keep(planKey: string, args = ['30']) {
  mkdirSync(launchDir(env), { recursive: true });
  const initrd = join(root, 'initrd.cpio');
  writeFileSync(initrd, 'cpio');
  const key = launchKey(argv, process.cwd(), CODE, env)!;
  writeFileSync(join(launchDir(env), `${key}.json`), JSON.stringify({ planKey, cmd: 'sleep', args, initrd }));
}

type Launch = typeof import('../../harness/run/launch.ts');
/** Another instance of the module: a process that has not booted yet. */
const instance = (tag: string): Promise<Launch> => import(/* @vite-ignore */ `../../harness/run/launch.ts?${tag}`);

/** Whether a process with this exact command line runs (the kept launch's stand-in). */
function running(cmdline: string): boolean {
  return execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .some((l) => l.trim().endsWith(cmdline) && !l.trim().startsWith('Z'));
}

const exited = (p: { child: { exitCode: number | null; signalCode: string | null } }) =>
  new Promise<void>((done) => {
    const t = setInterval(() => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) {
        clearInterval(t);
        done();
      }
    }, 10);
  });

describe('a kept launch', () => {
  it('belongs to the command line less its output folder, in one folder, by one compiled code', () => {
    const k = launchKey(argv, '/w', CODE, {});
    expect(launchKey([...argv.slice(0, -2), '--out=/tmp/b'], '/w', CODE, {})).toBe(k);
    expect(launchKey(argv.slice(0, -2), '/w', CODE, {})).toBe(k);
    expect(launchKey([...argv.slice(0, -2), '--kernel', '6.12'], '/w', CODE, {})).not.toBe(k);
    expect(launchKey(argv, '/elsewhere', CODE, {})).not.toBe(k);
    expect(launchKey(argv, '/w', 'code-2', {})).not.toBe(k);
    expect(launchKey(argv, '/w', CODE, { KHARNESS_ACCEL: 'tcg' })).not.toBe(k);
    // After `--`, nothing is an option: an argument named --out there is the user's.
    expect(launchKey(['shell', '--', '--out', 'x'], '/w', CODE, {})).not.toBe(launchKey(['shell', '--'], '/w', CODE, {}));
    // Commands that boot nothing keep nothing.
    expect(launchKey(['schema'], '/w', CODE, {})).toBeUndefined();
  });

  it('started ahead, is adopted by the plan it was kept for, once', async () => {
    keep('plan-a');
    speculate(argv, CODE, env);
    const first = adoptLaunch('plan-a');
    expect(first.early?.child.pid).toBeGreaterThan(0);
    expect(first.keep).toBe(false);
    expect(first.early?.spawnedPerfMs).toBeGreaterThan(0);
    first.early!.child.kill('SIGKILL');
    await exited(first.early!);
    // A later boot of the same process spawns its own and keeps nothing.
    expect(adoptLaunch('plan-a')).toEqual({ keep: false });
  });
});

describe('a kept launch of another plan, or a damaged one', () => {
  it('is killed, never adopted: the run spawns its own and keeps it', async () => {
    // A new module instance: this process has not booted yet.
    const fresh = await instance('mismatch');
    keep('plan-a', ['41.25']);
    fresh.speculate(argv, CODE, env);
    expect(running('sleep 41.25')).toBe(true);
    const r = fresh.adoptLaunch('plan-b');
    expect(r).toEqual({ keep: true });
    await new Promise((done) => setTimeout(done, 200));
    expect(running('sleep 41.25')).toBe(false);
  });

  it('starts nothing from a record that is not one, or whose code or command line differ', async () => {
    const fresh = await instance('damaged');
    mkdirSync(launchDir(env), { recursive: true });
    writeFileSync(join(launchDir(env), `${launchKey(argv, process.cwd(), CODE, env)}.json`), '{"planKey": 1, "cmd": "sleep"');
    fresh.speculate(argv, CODE, env);
    expect(fresh.adoptLaunch('plan-a')).toEqual({ keep: true });
    const other = await instance('code');
    keep('plan-a');
    other.speculate(argv, 'code-2', env);
    other.speculate(['run', 'other.yaml'], CODE, env);
    expect(other.adoptLaunch('plan-a')).toEqual({ keep: true });
  });

  it('a kept launch points its spawn at its own copy of the initramfs, readable by its owner only', async () => {
    const initrd = join(root, 'tmp-initrd.cpio');
    writeFileSync(initrd, 'cpio');
    const saved = process.argv;
    process.argv = ['node', 'kharness', ...argv];
    try {
      await keepLaunch(CODE, { planKey: 'p', cmd: 'qemu', args: ['-initrd', initrd, '-m', '512'], initrd }, env);
    } finally {
      process.argv = saved;
    }
    const key = launchKey(argv, process.cwd(), CODE, env)!;
    const { readFileSync, statSync } = await import('node:fs');
    const rec = JSON.parse(readFileSync(join(launchDir(env), `${key}.json`), 'utf8'));
    expect(rec.initrd).toBe(join(launchDir(env), `${key}.cpio`));
    expect(rec.args).toEqual(['-initrd', rec.initrd, '-m', '512']);
    expect(readFileSync(rec.initrd, 'utf8')).toBe('cpio');
    expect(statSync(rec.initrd).mode & 0o777).toBe(0o600);
  });
});
