/**
 * Faults on real guests: each ends in a named error of the run (exit 2) or an
 * interrupt (130), never a test failure, with every finished result on disk
 * and no QEMU left behind.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { describe, expect, it } from 'vitest';
import { cli, qemusUnder, results, steps, tempDir } from './helpers.ts';

const target = ['--arch', 'x86_64', '--kernel', '6.1'];

/** A step that keeps the guest busy for many seconds under TCG (10,000 × vmalloc(16 MiB) + vfree, about 25 s under TCG), then a quick one. */
function longScenario(dir: string): string {
  const f = join(dir, 'long.yaml');
  writeFileSync(
    f,
    `name: long
steps:
  - name: quick
    alloc: { api: kmalloc, size: 64 }
  - name: busy
    time: { api: vmalloc, size: 16MiB, repeat: 10000 }
  - name: after
    alloc: { api: kmalloc, size: 64 }
`,
  );
  return f;
}

async function waitForOutput(p: ResultPromise, re: RegExp, timeoutMs: number): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${re} in output:\n${seen}`)), timeoutMs);
    const on = (b: Buffer) => {
      seen += b.toString();
      if (re.test(seen)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout?.on('data', on);
    p.stderr?.on('data', on);
  });
}

/** Runs the long scenario and does something to it once the busy step is under way. */
async function faulted(extra: string[], act: (dir: string, p: ResultPromise) => Promise<void>) {
  const dir = tempDir();
  const p = cli(['run', longScenario(dir), ...target, '--out', join(dir, 'out'), ...extra]);
  await waitForOutput(p, /✓ quick/, 20 * 60_000);
  await sleep(500);
  await act(dir, p);
  const r = await p;
  const s = steps(results(join(dir, 'out')));
  return { r, s, dir, byName: (n: string) => s.find((x) => x.name === n) };
}

describe('faults on a real guest', () => {
  it('a step timeout is an error of the run that names it, not a test failure', async () => {
    const { r, byName, dir } = await faulted(['--step-timeout', '2'], async () => {});
    expect(r.exitCode, r.all).toBe(2);
    expect(byName('busy')).toMatchObject({ status: 'error', reason: 'step timed out after 2 s' });
    expect(byName('after')).toMatchObject({ status: 'skip', reason: 'not run: step timed out after 2 s in step "busy"' });
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('QEMU killed from outside mid-step is an error naming the signal', async () => {
    const { r, byName, dir } = await faulted([], async (d) => {
      await execa('pkill', ['-KILL', '-f', `qemu-system.*${d}`]);
    });
    expect(r.exitCode, r.all).toBe(2);
    expect(byName('busy')).toMatchObject({ status: 'error', reason: 'QEMU killed by SIGKILL (from outside the harness)' });
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('a stopped QEMU (nothing printed, nothing answered) is "console silent", and is killed', async () => {
    const { r, byName, dir } = await faulted(['--silence-timeout', '3'], async (d) => {
      await execa('pkill', ['-STOP', '-f', `qemu-system.*${d}`]);
    });
    expect(r.exitCode, r.all).toBe(2);
    expect(byName('busy')).toMatchObject({
      status: 'error',
      reason: 'console silent for 3 s: the guest printed nothing and did not answer',
    });
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('an ssh connection dropped mid-step (the guest still up) is an error, found in seconds', async () => {
    const t0 = Date.now();
    const { r, byName, dir } = await faulted([], async (d) => {
      // The harness's connection to the guest is the one to QEMU's forwarded port: cut it from the host.
      const q = (await execa('pgrep', ['-af', `qemu-system.*${d}`])).stdout;
      const port = /hostfwd=tcp:127\.0\.0\.1:(\d+)-:22/.exec(q)?.[1];
      expect(port).toBeDefined();
      await execa('ss', ['-K', 'dst', '127.0.0.1', 'dport', '=', `:${port}`]);
    });
    expect(r.exitCode, r.all).toBe(2);
    expect(byName('busy')?.status).toBe('error');
    expect(byName('busy')?.reason).toMatch(/^the ssh connection to the guest dropped during the step/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('SIGTERM mid-step stops with 130, records the step in flight as not run, and leaves no QEMU', async () => {
    const { r, s, dir } = await faulted([], async (_d, p) => {
      p.kill('SIGTERM');
    });
    expect(r.exitCode, r.all).toBe(130);
    expect(s.map((x) => [x.name, x.status])).toEqual([
      ['quick', 'pass'],
      ['busy', 'skip'],
      ['after', 'skip'],
    ]);
    expect(s[1]!.reason).toBe('not run: interrupted');
    const recs = results(join(dir, 'out'));
    expect(recs[recs.length - 1]).toMatchObject({ type: 'run-end', outcome: 'interrupted' });
    expect(await qemusUnder(dir)).toEqual([]);
  });
});
