/**
 * Every series of Debian's archive built from its own source, on both arches:
 * 5.10 (bullseye-security), 6.1 and 6.12 (the host's linux-source packages),
 * 7.2 (sid) and 7.3 (trixie-backports), each with Debian's allocator options of
 * that version and DEBUG_ATOMIC_SLEEP, which Debian's prebuilt kernels lack.
 * Every shipped scenario runs on all ten targets, and the claims table across
 * series names where the article's claims change. Cost: up to ten kernel
 * builds (about 15 minutes each on two cores, a few minutes each from ccache;
 * the nightly keeps both), then about a minute per target. npm test covers the
 * series on Debian's prebuilt 7.2 and 5.10 (test/e2e/series.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { claimsBySeries } from '../../harness/report/claims-series.ts';
import type { ResultRecord, StepRecord } from '../../harness/results/records.ts';
import { cli, qemusUnder, results, steps, tempDir } from '../e2e/helpers.ts';

const SERIES = ['5.10', '6.1', '6.12', '7.2', '7.3'];
const ARCHES = ['x86_64', 'arm64'];

describe('every series from source, x86_64 and arm64', () => {
  const out = tempDir();
  let exitCode: number | undefined;
  let output = '';
  let records: ResultRecord[] = [];
  let s: StepRecord[] = [];

  beforeAll(async () => {
    const r = await cli(
      [
        'run',
        '--kernel',
        SERIES.join(','),
        '--arch',
        ARCHES.join(','),
        '--jobs',
        '2',
        '--reporter',
        'default,versions,versions-text',
        '--out',
        out,
      ],
      { timeoutMs: 4 * 3600_000 },
    );
    exitCode = r.exitCode;
    output = r.all ?? '';
    records = results(out);
    s = steps(records);
  }, 4 * 3600_000);

  it('runs on all ten targets, each its own series, with nothing failed or in error', () => {
    for (const arch of ARCHES)
      for (const series of SERIES) {
        const mine = s.filter((x) => x.target.arch === arch && x.target.kernel === series);
        expect(mine.length, `${arch}/${series}`).toBeGreaterThan(100);
        expect(mine[0]!.target.release, `${arch}/${series}`).toMatch(new RegExp(`^${series.replace('.', '\\.')}\\.\\d+`));
      }
    expect(
      s
        .filter((x) => x.status === 'fail' || x.status === 'error')
        .map((x) => `${x.target.arch}/${x.target.kernel} ${x.scenario} › ${x.name}`),
    ).toEqual([]);
    expect(exitCode, output.slice(-3000)).toBe(0);
  });

  it('says per arch where vmalloc stops being only a sleeping allocator: 7.2 (GFP_ATOMIC in atomic context works; hard IRQ still BUGs)', async () => {
    const table = claimsBySeries(records);
    expect(table.map((a) => a.arch).sort()).toEqual([...ARCHES].sort());
    for (const a of table) {
      expect(a.series).toEqual(SERIES);
      const row = a.rows.find((r) => r.id === 'vmalloc-may-sleep')!;
      for (const old of ['5.10', '6.1', '6.12']) expect(row.cells[old]?.verdict, `${a.arch} ${old}`).toBe('holds');
      for (const now of ['7.2', '7.3']) expect(row.cells[now]?.verdict, `${a.arch} ${now}`).toBe('depends');
      expect(row.change).toMatchObject({ before: '6.12', after: '7.2' });
    }
    expect(await qemusUnder(out)).toEqual([]);
  });
});
