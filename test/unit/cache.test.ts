import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { getOrBuild, listCache, missingPaths, selectPrunable, withLock } from '../../harness/cache/store.ts';
import { PROJECT_ROOT } from '../../harness/paths.ts';

const script = join(PROJECT_ROOT, 'test', 'fixtures', 'bin', 'cache-build.mts');

describe('content-addressed cache', () => {
  it('builds an entry once when two processes ask for the same key at the same time', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kharness-cache-'));
    const marker = join(root, 'builders');
    const run = () => execa('npx', ['tsx', script, root, 'k1', marker], { cwd: PROJECT_ROOT });
    const [a, b] = await Promise.all([run(), run()]);
    const ra = JSON.parse(a.stdout) as { meta: { builtBy: number }; hit: boolean; me: number };
    const rb = JSON.parse(b.stdout) as { meta: { builtBy: number }; hit: boolean; me: number };
    expect(readFileSync(marker, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(ra.meta.builtBy).toBe(rb.meta.builtBy);
    expect([ra.hit, rb.hit].sort()).toEqual([false, true]);
    // The entry appeared whole: meta.json, no temporary names, no lock left.
    expect(readdirSync(join(root, 'kernels', 'k1')).sort()).toEqual(['.last-used', 'meta.json']);
    expect(readdirSync(join(root, 'locks'))).toEqual([]);
  }, 60_000);

  it('lists entries and picks stale or incomplete ones to prune', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kharness-cache-'));
    const marker = join(root, 'builders');
    await execa('npx', ['tsx', script, root, 'k2', marker], { cwd: PROJECT_ROOT });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(root, 'kernels', 'dead-build'), { recursive: true });
    const entries = await listCache(root, [{ kind: 'kernels', label: (_m, key) => key }]);
    expect(entries.map((e) => [e.key, e.complete])).toEqual([
      ['dead-build', false],
      ['k2', true],
    ]);
    expect(selectPrunable(entries, 86_400_000).map((e) => e.key)).toEqual(['dead-build']);
    expect(selectPrunable(entries, 86_400_000, Date.now() + 2 * 86_400_000).map((e) => e.key)).toEqual(['dead-build', 'k2']);
    expect(existsSync(join(root, 'kernels', 'k2', 'meta.json'))).toBe(true);
  }, 60_000);
});

describe('cache entries are checked when read', () => {
  const build = (root: string, log: string[]) =>
    getOrBuild<{ file: string }>(
      root,
      'things',
      'k',
      async (dir) => {
        log.push('built');
        writeFileSync(join(dir, 'payload'), 'x');
        return { file: join(dir, 'payload') };
      },
      { check: (m) => missingPaths({ payload: m.file }), onDamaged: (p) => log.push(`damaged: ${p}`) },
    );

  it('builds a damaged entry again instead of using it (a file gone, or a meta.json of {})', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kharness-cache-'));
    const log: string[] = [];
    await build(root, log);
    expect((await build(root, log)).hit).toBe(true);
    rmSync(join(root, 'things', 'k', 'payload'));
    expect((await build(root, log)).hit).toBe(false);
    writeFileSync(join(root, 'things', 'k', 'meta.json'), '{}');
    expect((await build(root, log)).hit).toBe(false);
    expect(log).toEqual([
      'built',
      `damaged: missing payload (${join(root, 'things', 'k', 'payload')})`,
      'built',
      'damaged: missing payload (not recorded)',
      'built',
    ]);
  });

  it("finds an old entry's own files in a moved cache, though its meta.json names the old place", async () => {
    const a = mkdtempSync(join(tmpdir(), 'kharness-cache-'));
    await build(a, []);
    const meta = join(a, 'things', 'k', 'meta.json');
    // As entries were written before paths were stored relative to the root.
    writeFileSync(meta, readFileSync(meta, 'utf8').replace('$CACHE', a));
    const b = `${a}-moved`;
    renameSync(a, b);
    const log: string[] = [];
    expect(await build(b, log)).toMatchObject({ hit: true, meta: { file: join(b, 'things', 'k', 'payload') } });
    expect(log).toEqual([]);
    // And it is stored relative to the root from then on.
    expect(readFileSync(join(b, 'things', 'k', 'meta.json'), 'utf8')).toContain('"$CACHE/things/k/payload"');
  });

  it('stores paths under the cache root relative to it: a moved cache uses its own files', async () => {
    const a = mkdtempSync(join(tmpdir(), 'kharness-cache-'));
    await build(a, []);
    expect(readFileSync(join(a, 'things', 'k', 'meta.json'), 'utf8')).toContain('"$CACHE/things/k/payload"');
    const b = `${a}-moved`;
    renameSync(a, b);
    const again = await build(b, []);
    expect(again).toMatchObject({ hit: true, meta: { file: join(b, 'things', 'k', 'payload') } });
  });
});

describe('a lock held by a live process', () => {
  it('says who holds it and for how long, and gives up at once when the harness stops', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kharness-lock-'));
    const holder = execa('sleep', ['30']);
    writeFileSync(join(dir, 'k.lock'), String(holder.pid));
    const told: [number, number][] = [];
    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const t0 = Date.now();
    await expect(
      withLock(
        dir,
        'k',
        async () => 'ran',
        (pid, ms) => told.push([pid, ms]),
        stop.signal,
      ),
    ).rejects.toThrow(/interrupted/);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(told).toHaveLength(1);
    expect(told[0]![0]).toBe(holder.pid);
    expect(told[0]![1]).toBeGreaterThanOrEqual(0);
    holder.kill();
    await holder.catch(() => undefined);
    // Its owner gone, the lock is stale and taken over.
    expect(await withLock(dir, 'k', async () => 'ran')).toBe('ran');
  });
});
