import { rm } from 'node:fs/promises';
import { type CacheEntry, listCache, selectPrunable, withLock } from '../cache/store.ts';
import { UsageError } from '../errors.ts';
import { GUEST_CACHE } from '../guest/rootfs.ts';
import { KERNEL_CACHE } from '../kernel/entry.ts';
import { SOURCE_CACHE, SOURCE_DEB_CACHE } from '../kernel/source.ts';
import { MODULE_CACHE } from '../module/build.ts';
import { cacheRoot } from '../paths.ts';
import { pruneParsed } from '../util/parsed.ts';

const KINDS = [KERNEL_CACHE, MODULE_CACHE, GUEST_CACHE, SOURCE_CACHE, SOURCE_DEB_CACHE];

import { join } from 'node:path';
import type { Outcome } from './exit.ts';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

function table(entries: CacheEntry[]): string {
  return entries
    .map(
      (e) =>
        `${e.kind.padEnd(8)} ${e.key.padEnd(36)} ${mib(e.bytes).padStart(11)}  ` +
        `${e.lastUsed.toISOString().slice(0, 16)}  ${e.complete ? '' : '(incomplete) '}${e.label}`,
    )
    .join('\n');
}

export async function cacheCommand(v: Record<string, unknown>, positionals: string[]): Promise<Outcome> {
  const root = cacheRoot();
  const entries = await listCache(root, KINDS);
  const sub = positionals[0];
  if (sub === 'ls' || sub === undefined) {
    process.stdout.write(`${root}\n${table(entries)}\n${entries.length} entries, ${mib(entries.reduce((a, e) => a + e.bytes, 0))}\n`);
    return 'done';
  }
  if (sub !== 'prune') throw new UsageError(`unknown cache command "${sub}"`, 'Use `kharness cache ls` or `kharness cache prune`.');
  const days = Number(v['older-than']);
  if (!(days >= 0)) throw new UsageError(`--older-than takes a number of days, not "${String(v['older-than'])}"`);
  const maxAge = days * 86_400_000;
  const candidates = v.all ? entries : selectPrunable(entries, maxAge);
  const doomed: CacheEntry[] = [];
  for (const e of candidates) {
    if (v['dry-run']) {
      doomed.push(e);
      continue;
    }
    // Under the entry's lock: an "incomplete" entry may be a build in progress, which we
    // wait for; once it is done and fresh, it stays.
    await withLock(join(root, 'locks'), `${e.kind}-${e.key}`, async () => {
      const now = (await listCache(root, KINDS)).find((x) => x.dir === e.dir);
      if (!now || (!v.all && selectPrunable([now], maxAge).length === 0)) return;
      await rm(e.dir, { recursive: true, force: true });
      doomed.push(e);
    });
  }
  // Parsed documents are small and derived: those not written for as long go too (a next run parses them again).
  const documents = v['dry-run'] ? 0 : await pruneParsed(root, v.all ? -1 : maxAge);
  const also = documents ? `and ${documents} parsed documents\n` : '';
  process.stdout.write(
    `${v['dry-run'] ? 'would remove' : 'removed'} ${doomed.length} entries, ${mib(doomed.reduce((a, e) => a + e.bytes, 0))}\n${table(doomed)}\n${also}`,
  );
  return 'done';
}
