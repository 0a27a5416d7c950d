/**
 * Failure behaviour on a real guest: a failing expectation, a request the
 * probe refuses, a boot timeout, Ctrl-C and a SIGKILLed harness. (A YAML
 * error stops before anything is built: test/unit/cli-usage.test.ts.) Whatever happens, finished
 * results stay on disk and no QEMU survives.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cli, qemusUnder, results, steps, tempDir } from './helpers.ts';

const target = ['--arch', 'x86_64', '--kernel', '6.1'];

function scenario(dir: string, body: string): string {
  const f = join(dir, 'probe.yaml');
  writeFileSync(f, body);
  return f;
}

/** Waits until the process prints a line matching re. */
async function waitForOutput(p: ReturnType<typeof cli>, re: RegExp, timeoutMs: number): Promise<void> {
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const on = (b: Buffer) => {
      text += b.toString();
      if (re.test(text)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
  });
}

describe('failure behaviour', () => {
  it('exits 1 on a failed expectation and says expected vs observed, at its line in the YAML', async () => {
    const dir = tempDir();
    const f = scenario(
      dir,
      `name: wrong-belief
claims: [kmalloc-128k-limit]
steps:
  - name: the article's limit
    alloc: { api: kmalloc, size: 128KiB + 1, gfp: GFP_KERNEL }
    expect: { ok: false }
`,
    );
    const r = await cli(['run', f, ...target, '--out', join(dir, 'out'), '--reporter', 'default,junit']);
    expect(r.exitCode, r.all).toBe(1);
    // The expectation's own place: line 6, column 15 is the "ok" key of `expect: { ok: false }`.
    expect(r.all).toContain(`${f}:6:15: ok: expected false, observed true`);
    const s = steps(results(join(dir, 'out')));
    expect(s[0]).toMatchObject({
      status: 'fail',
      failures: [{ what: 'ok', expected: 'false', observed: 'true', pos: { file: f, line: 6, column: 15 } }],
    });
    // junit-10.xsd has no line attribute: the place starts the failure's message and text.
    expect(readFileSync(join(dir, 'out', 'junit.xml'), 'utf8')).toMatch(
      /<failure message="[^"]*:6:15: ok: expected false, observed true" type="expectation">at [^\n]*:6\n/,
    );
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('gets an error response, not a kernel warning, for a request the module refuses', async () => {
    const dir = tempDir();
    const f = scenario(
      dir,
      `name: refused
steps:
  - name: more pages than the machine has
    fragment: { pages: TOTALRAM_SIZE }
  - name: still fine after it
    alloc: { api: kmalloc, size: 64 }
    expect: { ok: true }
`,
    );
    const r = await cli(['run', f, ...target, '--out', join(dir, 'out')]);
    expect(r.exitCode, r.all).toBe(2);
    const s = steps(results(join(dir, 'out')));
    expect(s[0]).toMatchObject({ status: 'error', reason: 'probe error EINVAL: pages out of range', splats: [] });
    expect(s[1]).toMatchObject({ status: 'pass' });
  });

  it('names the phase that timed out and kills QEMU', async () => {
    const dir = tempDir();
    const f = scenario(dir, `name: quick\nsteps:\n  - alloc: { api: kmalloc, size: 8 }\n`);
    const r = await cli(['run', f, ...target, '--out', join(dir, 'out'), '--boot-timeout', '0.2']);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.all).toMatch(/boot-failure: timed out after 0\.2 s in phase "boot to console marker"/);
    const recs = results(join(dir, 'out'));
    expect(recs.find((x) => x.type === 'target-end')).toMatchObject({ status: 'boot-failure' });
    expect(steps(recs)[0]).toMatchObject({ status: 'error' });
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('stops on Ctrl-C with exit 130, keeps the results, and leaves no QEMU', async () => {
    const dir = tempDir();
    const f = scenario(
      dir,
      `name: long\nsteps:\n  - time: { api: vmalloc, size: 1MiB, repeat: 10000 }\n  - time: { api: vmalloc, size: 1MiB, repeat: 10000 }\n`,
    );
    const p = cli(['run', f, ...target, '--out', join(dir, 'out')]);
    await waitForOutput(p, /booting x86_64\/6\.1/, 20 * 60_000);
    await sleep(1500);
    p.kill('SIGINT');
    const r = await p;
    expect(r.exitCode, r.all).toBe(130);
    const recs = results(join(dir, 'out'));
    expect(recs[0]!.type).toBe('run-begin');
    expect(recs[recs.length - 1]).toMatchObject({ type: 'run-end', outcome: 'interrupted' });
    expect(await qemusUnder(dir)).toEqual([]);
  });

  it('leaves no QEMU even when the harness itself is SIGKILLed', async () => {
    const dir = tempDir();
    const f = scenario(dir, `name: long\nsteps:\n  - time: { api: vmalloc, size: 1MiB, repeat: 10000 }\n`);
    const p = cli(['run', f, ...target, '--out', join(dir, 'out')]);
    await waitForOutput(p, /ready in/, 20 * 60_000);
    expect((await qemusUnder(dir)).length).toBe(1);
    p.kill('SIGKILL');
    await p;
    for (let i = 0; i < 50 && (await qemusUnder(dir)).length; i++) await sleep(100);
    expect(await qemusUnder(dir)).toEqual([]);
  });
});
