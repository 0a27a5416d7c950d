/**
 * A repeated command's kept launch (run/launch.ts): which command lines share
 * one, and that a launch started ahead is adopted only by the very plan it
 * was kept for, killed otherwise, and never started from a damaged record.
 * Real processes: a kept launch of `sleep` stands in for QEMU.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adoptLaunch, launchDir, launchKeys, speculate } from '../../harness/run/launch.ts';
import { keepLaunch, LAUNCHES_KEPT } from '../../harness/run/launch-keep.ts';

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
  const [key] = launchKeys(argv, process.cwd(), CODE, env);
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
  it("belongs to the command line less its output folder, else to its target's; in one folder, by one compiled code", () => {
    const [line, target] = launchKeys(argv, '/w', CODE, {});
    const keys = (a: string[], cwd = '/w', code = CODE, e: NodeJS.ProcessEnv = {}) => launchKeys(a, cwd, code, e);
    expect(keys([...argv.slice(0, -2), '--out=/tmp/b'])).toEqual([line, target]);
    expect(keys(argv.slice(0, -2))).toEqual([line, target]);
    // Another scenario on the same target: its own line, the same target.
    expect(keys(['run', 'scenarios/kmalloc-basic.yaml', '--kernel=6.1', '--out', 'x'])).toEqual([expect.not.stringMatching(line!), target]);
    expect(keys([...argv.slice(0, -2), '--kernel', '6.12'])[1]).not.toBe(target);
    expect(keys(['run', 'scenarios/kernel-test-slub.yaml', '--kernel', '6.1', '--arch', 'arm64'])[1]).not.toBe(target);
    expect(keys(['shell', '--kernel', '6.1'])[1]).not.toBe(target);
    for (const other of [keys(argv, '/elsewhere'), keys(argv, '/w', 'code-2'), keys(argv, '/w', CODE, { KHARNESS_ACCEL: 'tcg' })]) {
      expect(other[0]).not.toBe(line);
      expect(other[1]).not.toBe(target);
    }
    // After `--`, nothing is an option: an argument named --out there is the user's.
    expect(keys(['shell', '--', '--out', 'x'])[0]).not.toBe(keys(['shell', '--'])[0]);
    // Commands that boot nothing keep nothing.
    expect(keys(['schema'])).toEqual([]);
  });

  it("a command line with no launch of its own starts its target's", async () => {
    const other = await instance('target');
    mkdirSync(launchDir(env), { recursive: true });
    const initrd = join(root, 'initrd.cpio');
    writeFileSync(initrd, 'cpio');
    const [, target] = launchKeys(argv, process.cwd(), CODE, env);
    writeFileSync(join(launchDir(env), `${target}.json`), JSON.stringify({ planKey: 'p', cmd: 'sleep', args: ['42.5'], initrd }));
    other.speculate(['run', 'scenarios/other.yaml', '--kernel', '6.1', '--out', 'y'], CODE, env);
    const r = other.adoptLaunch('p');
    expect(r.early?.record.args).toEqual(['42.5']);
    r.early!.child.kill('SIGKILL');
    await exited(r.early!);
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
    writeFileSync(join(launchDir(env), `${launchKeys(argv, process.cwd(), CODE, env)[0]}.json`), '{"planKey": 1, "cmd": "sleep"');
    fresh.speculate(argv, CODE, env);
    expect(fresh.adoptLaunch('plan-a')).toEqual({ keep: true });
    const other = await instance('code');
    keep('plan-a');
    other.speculate(argv, 'code-2', env);
    other.speculate(['run', 'other.yaml'], CODE, env);
    expect(other.adoptLaunch('plan-a')).toEqual({ keep: true });
  });

  it('a kept launch points its spawn at its own copy of the initramfs, readable by its owner only, for its line and its target', async () => {
    const initrd = join(root, 'tmp-initrd.cpio');
    writeFileSync(initrd, 'cpio');
    const saved = process.argv;
    process.argv = ['node', 'kharness', ...argv];
    try {
      await keepLaunch(CODE, { planKey: 'p', cmd: 'qemu', args: ['-initrd', initrd, '-m', '512'], initrd }, env);
    } finally {
      process.argv = saved;
    }
    for (const key of launchKeys(argv, process.cwd(), CODE, env)) {
      const rec = JSON.parse(readFileSync(join(launchDir(env), `${key}.json`), 'utf8'));
      expect(rec.initrd).toMatch(/\.cpio$/);
      expect(rec.args).toEqual(['-initrd', rec.initrd, '-m', '512']);
      expect(readFileSync(rec.initrd, 'utf8')).toBe('cpio');
      expect(statSync(rec.initrd).mode & 0o777).toBe(0o600);
    }
  });

  it('keeps the most recent records only, and no initramfs that no record names', async () => {
    const initrd = join(root, 'tmp-initrd.cpio');
    writeFileSync(initrd, 'cpio');
    const saved = process.argv;
    try {
      for (let i = 0; i < LAUNCHES_KEPT; i++) {
        process.argv = ['node', 'kharness', 'run', `s${i}.yaml`, '--kernel', `k${i}`];
        await keepLaunch(CODE, { planKey: `p${i}`, cmd: 'qemu', args: [], initrd }, env);
      }
    } finally {
      process.argv = saved;
    }
    const left = readdirSync(launchDir(env));
    expect(left.filter((n) => n.endsWith('.json'))).toHaveLength(LAUNCHES_KEPT);
    // Two records (line, target) per launch: the newest LAUNCHES_KEPT / 2 launches' initramfs files are left.
    expect(left.filter((n) => n.endsWith('.cpio'))).toHaveLength(LAUNCHES_KEPT / 2);
  });
});
