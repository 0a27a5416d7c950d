/**
 * The claims table in words, on a recorded run of 6.1 with 4 KiB pages
 * (x86_64, arm64) and 64 KiB pages (arm64): each cell states its deciding
 * observation with the target's own numbers, says what is missing instead of
 * inventing it, and the summary names the axis a difference follows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { marked, type Tokens } from 'marked';
import { describe, expect, it } from 'vitest';
import { claimsTable } from '../../harness/report/claims.ts';
import { renderMarkdown } from '../../harness/report/markdown.ts';
import { claimsSummary } from '../../harness/report/summary.ts';
import { parseResults, type ResultRecord, type StepRecord } from '../../harness/results/records.ts';

const recorded = parseResults(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'results-claims-4k-64k.jsonl'), 'utf8'));
const says = (records: ResultRecord[], claim: string, target: string) =>
  claimsTable(records).rows.find((r) => r.id === claim)!.cells[target]!.says;

/** The recorded run with some step records changed. */
function edited(change: (s: StepRecord) => StepRecord | undefined): ResultRecord[] {
  return recorded.map((r) => (r.type === 'step' ? (change(r) ?? r) : r));
}

describe('claim cells state the deciding observation', () => {
  it('with each target’s own numbers: 4 MiB with 4 KiB pages, 512 MiB with 64 KiB', () => {
    expect(says(recorded, 'kmalloc-128k-limit', 'x86_64/6.1')).toBe("fails — KMALLOC_MAX_SIZE = 4 MiB (32× the article's 128 KiB)");
    expect(says(recorded, 'kmalloc-128k-limit', 'arm64/6.1-64k')).toBe("fails — KMALLOC_MAX_SIZE = 512 MiB (4096× the article's 128 KiB)");
    expect(says(recorded, 'kmalloc-phys-contiguous', 'arm64/6.1-64k')).toBe(
      'holds — kmalloc(512 MiB) in 1 physical run, one compound page of order 13',
    );
    expect(says(recorded, 'zones-32bit-layout', 'x86_64/6.1')).toBe('fails — zones DMA|DMA32, no HIGHMEM; ZONE_DMA ends at 16 MiB');
    expect(says(recorded, 'vmalloc-may-sleep', 'arm64/6.1')).toBe('holds — vmalloc in hard IRQ: kernel BUG at mm/vmalloc.c:2554!');
  });

  it('a failing run is inconclusive, with the failed expectation and its YAML line', () => {
    const failed = edited((s) =>
      s.target.arch === 'x86_64' && s.name === 'KMALLOC_MAX_SIZE, the real limit'
        ? {
            ...s,
            status: 'fail',
            failures: [
              {
                what: 'ok',
                expected: 'true',
                observed: 'false',
                pos: { file: 'scenarios/kmalloc-size-limits.yaml', line: 30, column: 15 },
              },
            ],
          }
        : undefined,
    );
    expect(says(failed, 'kmalloc-128k-limit', 'x86_64/6.1')).toBe(
      'inconclusive — scenarios/kmalloc-size-limits.yaml:30:15: ok: expected true, observed false',
    );
  });

  it('a skipped scenario is untested, with the reason', () => {
    const skipped = edited((s) =>
      s.target.kernel === '6.1-64k' && s.scenario === 'kmalloc-size-limits'
        ? { ...s, status: 'skip', reason: 'kernel config lacks CONFIG_SLUB' }
        : undefined,
    );
    expect(says(skipped, 'kmalloc-128k-limit', 'arm64/6.1-64k')).toBe('untested — kernel config lacks CONFIG_SLUB');
  });

  it('a scenario cut short (a step not run) proves nothing either way', () => {
    const cut = edited((s) =>
      s.target.arch === 'arm64' && s.target.kernel === '6.1' && s.name === 'vmalloc in hard IRQ kills the kernel'
        ? { ...s, status: 'skip', reason: 'not run: interrupted', facts: {}, splats: [] }
        : undefined,
    );
    expect(says(cut, 'vmalloc-may-sleep', 'arm64/6.1')).toBe(
      'inconclusive — step "vmalloc in hard IRQ kills the kernel" did not run (not run: interrupted)',
    );
  });

  it('a fact the target did not report is said to be missing, never invented', () => {
    const missing = edited((s) => {
      if (s.target.arch !== 'arm64' || s.name !== 'KMALLOC_MAX_SIZE, the real limit') return undefined;
      const { phys_runs: _gone, ...facts } = s.facts;
      return { ...s, facts };
    });
    expect(says(missing, 'kmalloc-phys-contiguous', 'arm64/6.1')).toBe(
      'holds — kmalloc(4 MiB) in (phys_runs not reported) physical run, one compound page of order 10',
    );
  });
});

describe('the summary', () => {
  it('counts per target, and names the axis a difference follows', () => {
    const plain = claimsSummary(recorded);
    expect(plain.counts['arm64/6.1-64k']).toMatchObject({ holds: 4, fails: 2 });
    expect(plain.differences).toEqual([]);
    // Suppose passing meant "holds" on the 64K kernel: the verdict then follows the page size.
    const split = edited((s) =>
      s.target.kernel === '6.1-64k' && s.scenario === 'kmalloc-size-limits'
        ? { ...s, claims: s.claims.map((c) => (c.id === 'kmalloc-128k-limit' ? { ...c, ifPasses: 'holds' as const } : c)) }
        : undefined,
    );
    expect(claimsSummary(split).differences).toEqual([
      {
        id: 'kmalloc-128k-limit',
        axis: 'page size',
        detail: 'fails on 4 KiB pages (x86_64/6.1, arm64/6.1); holds on 64 KiB pages (arm64/6.1-64k)',
      },
    ]);
  });
});

describe('the Markdown summary', () => {
  it('is a table with a row per tested claim and a column per target, as a Markdown parser reads it', () => {
    const md = renderMarkdown(recorded);
    const tables = marked.lexer(md).filter((t): t is Tokens.Table => t.type === 'table');
    const claims = tables.find((t) => t.header[0]!.text === 'claim')!;
    expect(claims.header.map((h) => h.text)).toEqual(['claim', 'x86_64/6.1', 'arm64/6.1', 'arm64/6.1-64k']);
    const tested = claimsTable(recorded).rows.filter((r) => r.overall !== 'untested');
    expect(claims.rows.map((r) => r[0]!.text)).toEqual(tested.map((r) => r.id));
    // A "|" inside a cell (zone names) stays inside it.
    const zones = claims.rows.find((r) => r[0]!.text === 'zones-32bit-layout')!;
    expect(zones[1]!.text).toBe('fails — zones DMA|DMA32, no HIGHMEM; ZONE_DMA ends at 16 MiB');
    expect(zones).toHaveLength(4);
    // Links to the artifacts, relative to the run directory.
    const links = marked
      .lexer(md)
      .flatMap((t) => (t.type === 'paragraph' ? (t.tokens ?? []) : []))
      .filter((t) => t.type === 'link');
    expect(links.map((l) => (l as Tokens.Link).href)).toEqual(
      expect.arrayContaining(['results.jsonl', 'report.html', 'x86_64-6.1/console-1.log']),
    );
  });

  it('lists failures with expected vs observed and their YAML line', () => {
    const failed = edited((s) =>
      s.name === 'KMALLOC_MAX_SIZE, the real limit' && s.target.arch === 'x86_64'
        ? {
            ...s,
            status: 'fail',
            failures: [{ what: 'phys_runs', expected: '1', observed: '3', pos: { file: 's.yaml', line: 17, column: 9 } }],
          }
        : undefined,
    );
    expect(renderMarkdown(failed)).toContain(
      '- **fail** x86_64/6.1 › kmalloc-size-limits › KMALLOC\\_MAX\\_SIZE, the real limit: ` s.yaml:17:9: phys_runs: expected 1, observed 3 `',
    );
  });
});
