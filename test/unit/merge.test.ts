/**
 * `report merge` over CI shards: one target per shard, a shard re-run after a
 * failure (both attempts' artifacts present), every kept shard's console and
 * kernel logs copied beside the merged results. Built from the recorded
 * x86_64/6.1 run (test/fixtures/results-6.1-x86_64.jsonl), re-targeted.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../harness/paths.ts';
import { runOutcome } from '../../harness/results/outcome.ts';
import { parseResults, type ResultRecord } from '../../harness/results/records.ts';
import { mergeRuns } from '../../harness/run/merge.ts';

const recorded = parseResults(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'results-6.1-x86_64.jsonl'), 'utf8'));

/** The outcome of merging named runs (in the order given) into /o. */
function mergedOutcome(runs: Record<string, ResultRecord[]>, planned?: Parameters<typeof mergeRuns>[2]) {
  return runOutcome(
    mergeRuns(
      Object.entries(runs).map(([name, records]) => ({ name, records })),
      '/o',
      planned,
    ).records,
  );
}

/** The recorded run as if run on another target, begun at `at`, in `dir`; `fail` makes its first step fail. */
function run(arch: string, kernel: string, at: string, dir: string, fail = false): ResultRecord[] {
  let first = true;
  return recorded.map((r) => {
    const x = { ...r } as ResultRecord;
    if ('target' in x) x.target = { ...x.target, arch, kernel };
    if (x.type === 'run-begin') x.at = at;
    if (x.type === 'guest') x.consoleLog = join(dir, `${arch}-${kernel.replace(/:/g, '_')}`, x.consoleLog.split('/').pop()!);
    if (x.type === 'step' && fail && first) {
      first = false;
      return { ...x, status: 'fail', failures: [{ what: 'ok', expected: 'false', observed: 'true' }] };
    }
    if (x.type === 'run-end' && fail) return { ...x, outcome: 'failed' };
    return x;
  });
}
const steps = (rs: ResultRecord[]) => rs.filter((r) => r.type === 'step');

describe('merging shards', () => {
  const a = run('x86_64', 'debian:6.1.0-41-cloud', '2026-12-01T02:17:00.000Z', '/s/a');
  const b1 = run('arm64', 'debian:6.1.0-41-cloud', '2026-12-01T02:17:05.000Z', '/s/b1', true);
  const b2 = run('arm64', 'debian:6.1.0-41-cloud', '2026-12-01T06:40:00.000Z', '/s/b2');

  it('joins one target per shard into one run with every step', () => {
    const m = mergeRuns(
      [
        { name: 'a', records: a },
        { name: 'b', records: b2 },
      ],
      '/out',
    );
    expect(steps(m.records).length).toBe(2 * steps(recorded).length);
    expect(m.records.filter((r) => r.type === 'run-begin' || r.type === 'run-end').length).toBe(2);
    expect(m.notes).toEqual([]);
    expect(runOutcome(m.records)).toBe('passed');
    expect(m.copies).toEqual([
      { run: 0, from: 'x86_64-debian_6.1.0-41-cloud', to: 'x86_64-debian_6.1.0-41-cloud' },
      { run: 1, from: 'arm64-debian_6.1.0-41-cloud', to: 'arm64-debian_6.1.0-41-cloud' },
    ]);
    // Console logs are named where the merged run keeps them.
    const logs = m.records.flatMap((r) => (r.type === 'guest' ? [r.consoleLog] : []));
    expect(logs).toContain('/out/arm64-debian_6.1.0-41-cloud/console-1.log');
    expect(logs).toContain('/out/x86_64-debian_6.1.0-41-cloud/console-1.log');
  });

  it('keeps the latest of two attempts of one target, whatever the argument order, and says so', () => {
    for (const order of [
      [b1, a, b2],
      [b2, a, b1],
    ]) {
      const names = order.map((r) => (r === b1 ? 'results-arm64-1' : r === b2 ? 'results-arm64-2' : 'results-x86_64-1'));
      const m = mergeRuns(
        order.map((records, i) => ({ name: names[i]!, records })),
        '/out',
      );
      expect(steps(m.records).length).toBe(2 * steps(recorded).length);
      // The failed first attempt is not counted: the re-run passed.
      expect(runOutcome(m.records)).toBe('passed');
      expect(m.notes).toEqual([
        'arm64/debian:6.1.0-41-cloud is in 2 runs: kept results-arm64-2 (begun 2026-12-01T06:40:00.000Z), the latest; left out results-arm64-1',
      ]);
      expect(m.copies.find((c) => c.to.startsWith('arm64'))?.run).toBe(order.indexOf(b2));
    }
  });

  it('is incomplete when a kept shard never ended, not when only a superseded attempt did', () => {
    const cut = b1.filter((r) => r.type !== 'run-end');
    expect(mergedOutcome({ a, b1: cut })).toBe('incomplete');
    const m = mergeRuns(
      [
        { name: 'b1', records: cut },
        { name: 'a', records: a },
        { name: 'b2', records: b2 },
      ],
      '/o',
    );
    expect(runOutcome(m.records)).toBe('passed');
  });

  it('is incomplete, naming it, when a planned target is in no run (its job died before uploading)', () => {
    const planned = [
      { arch: 'x86_64', kernel: 'debian:6.1.0-41-cloud' },
      { arch: 'arm64', kernel: 'debian:6.1.0-41-cloud' },
    ];
    const m = mergeRuns([{ name: 'a', records: a }], '/o', planned);
    expect(runOutcome(m.records)).toBe('incomplete');
    expect(m.notes).toEqual(['no run has arm64/debian:6.1.0-41-cloud: the merged run is incomplete']);
    expect(mergedOutcome({ a, b: b2 }, planned)).toBe('passed');
  });

  it('fails the merged run when a kept shard failed', () => {
    expect(mergedOutcome({ a, b1 })).toBe('failed');
  });
});

describe('kharness report merge', () => {
  it('copies every kept shard’s console and kernel logs, none overwriting another, and names the attempt it left out', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kharness-merge-'));
    const shards: [string, ResultRecord[]][] = [
      ['results-x86_64-1', run('x86_64', 'debian:6.1.0-41-cloud', '2026-12-01T02:17:00.000Z', join(root, 'results-x86_64-1'))],
      ['results-arm64-1', run('arm64', 'debian:6.1.0-41-cloud', '2026-12-01T02:17:05.000Z', join(root, 'results-arm64-1'), true)],
      ['results-arm64-2', run('arm64', 'debian:6.1.0-41-cloud', '2026-12-01T06:40:00.000Z', join(root, 'results-arm64-2'))],
    ];
    for (const [name, records] of shards) {
      const target = records.find((r) => r.type === 'target-begin')!;
      const tdir = join(root, name, `${'target' in target ? target.target.arch : ''}-debian_6.1.0-41-cloud`);
      mkdirSync(tdir, { recursive: true });
      writeFileSync(join(root, name, 'results.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
      for (const n of [1, 2]) {
        writeFileSync(join(tdir, `console-${n}.log`), `console ${n} of ${name}\n`);
        writeFileSync(join(tdir, `dmesg-${n}.log`), `dmesg ${n} of ${name}\n`);
      }
    }
    const out = join(root, 'merged');
    const r = await execa(
      'node',
      [join(PROJECT_ROOT, 'bin', 'kharness.js'), 'report', 'merge', out, ...shards.map(([n]) => join(root, n)), '--reporter', 'junit'],
      { reject: false, env: { CI: 'true', NO_COLOR: '1' }, cwd: root },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /report merge: arm64\/debian:6\.1\.0-41-cloud is in 2 runs: kept .*results-arm64-2 .*left out .*results-arm64-1/,
    );
    for (const [t, from] of [
      ['x86_64', 'results-x86_64-1'],
      ['arm64', 'results-arm64-2'],
    ])
      for (const n of [1, 2]) {
        expect(readFileSync(join(out, `${t}-debian_6.1.0-41-cloud`, `console-${n}.log`), 'utf8')).toBe(`console ${n} of ${from}\n`);
        expect(readFileSync(join(out, `${t}-debian_6.1.0-41-cloud`, `dmesg-${n}.log`), 'utf8')).toBe(`dmesg ${n} of ${from}\n`);
      }
    expect(existsSync(join(out, 'junit.xml'))).toBe(true);
    // The planned targets, as `kharness matrix` prints them: one missing is exit 2, named.
    const cli = join(PROJECT_ROOT, 'bin', 'kharness.js');
    const dirs = shards.map(([n]) => join(root, n));
    const missing = await execa(
      'node',
      [
        cli,
        'report',
        'merge',
        join(root, 'm2'),
        ...dirs.slice(0, 1),
        '--expect',
        'x86_64/debian:6.1.0-41-cloud\narm64/debian:6.1.0-41-cloud',
      ],
      {
        reject: false,
        env: { CI: 'true', NO_COLOR: '1' },
      },
    );
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no run has arm64/debian:6.1.0-41-cloud: the merged run is incomplete');
    const bad = await execa('node', [cli, 'report', 'merge', join(root, 'm3'), ...dirs, '--expect', 'x86_64'], { reject: false });
    expect([bad.exitCode, bad.stderr]).toEqual([
      2,
      'kharness: bad --expect target "x86_64"\nGive ARCH/KERNEL targets, e.g. --expect x86_64/6.1,arm64/6.1.',
    ]);
    const merged = parseResults(readFileSync(join(out, 'results.jsonl'), 'utf8'));
    expect(steps(merged).length).toBe(2 * steps(recorded).length);
  });
});
