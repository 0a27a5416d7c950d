/**
 * The claims table across kernel versions: claim × series, per arch, over the
 * same per-target verdicts as the claims table (report/claims.ts), so a
 * kernel version is an axis like arch and page size. Each row names the first
 * series where its verdict changes, with the deciding observation on each
 * side ("vmalloc-may-sleep: holds through 6.12 (...), fails from 7.2 (...)").
 * A series is the release's major.minor (7.2.13+deb14-cloud-amd64 → 7.2);
 * targets of one arch and series (flavours, page sizes) combine as the claims
 * table combines scenarios: one definite verdict, or depends. Pure; rendered
 * as Markdown, HTML and terminal text.
 */
import type { ResultRecord } from '../results/records.ts';
import { resultsView } from '../results/view.ts';
import { type ClaimCell, claimsTable, type Verdict } from './claims.ts';
import { esc, htmlTable, page } from './htmlkit.ts';

export interface SeriesCell {
  verdict: Verdict;
  /** The deciding observations of the targets in this series, joined. */
  says: string;
}

export interface SeriesRow {
  id: string;
  cells: Record<string, SeriesCell>;
  /** The first series whose definite verdict differs from the definite verdict before it. */
  change?: { before: string; after: string; text: string };
}

export interface ArchSeries {
  arch: string;
  /** The targets of this arch in plan order, each with its series. */
  targets: { label: string; series: string }[];
  /** Oldest first. */
  series: string[];
  rows: SeriesRow[];
}

export function seriesOfRelease(release: string | undefined): string | undefined {
  return /^(\d+\.\d+)/.exec(release ?? '')?.[1];
}

function bySeries(a: string, b: string): number {
  const [x1 = 0, x2 = 0] = a.split('.').map(Number);
  const [y1 = 0, y2 = 0] = b.split('.').map(Number);
  return x1 - y1 || x2 - y2;
}

const definite = (v: Verdict) => v === 'holds' || v === 'fails' || v === 'depends';

function combine(cells: ClaimCell[]): SeriesCell {
  const vs = new Set(cells.map((c) => c.verdict).filter(definite));
  const verdict: Verdict =
    vs.size === 1 ? [...vs][0]! : vs.size > 1 ? 'depends' : cells.some((c) => c.verdict === 'inconclusive') ? 'inconclusive' : 'untested';
  const says = [...new Set(cells.filter((c) => !definite(verdict) || definite(c.verdict)).map((c) => c.says))].join(' | ');
  return { verdict, says: says || verdict };
}

/** Drops the verdict word a cell's text starts with ("holds — x" → "x"). */
const why = (c: SeriesCell) => c.says.replace(/^(holds|fails|depends|inconclusive|untested)( — )?/, '') || c.verdict;

export function claimsBySeries(records: readonly ResultRecord[]): ArchSeries[] {
  const view = resultsView(records);
  const table = claimsTable(records);
  const arches = [...new Set(view.targets.map((t) => t.ref.arch))];
  return arches.map((arch) => {
    const targets = view.targets.filter((t) => t.ref.arch === arch);
    const seriesOf = (t: (typeof targets)[number]) =>
      seriesOfRelease(t.ref.release ?? t.steps[0]?.target.release) ?? t.ref.kernel.replace(/^debian:/, '');
    const series = [...new Set(targets.map(seriesOf))].sort(bySeries);
    const rows = table.rows.map((r) => {
      const cells: Record<string, SeriesCell> = {};
      for (const s of series) cells[s] = combine(targets.filter((t) => seriesOf(t) === s).map((t) => r.cells[t.label]!));
      let last: string | undefined;
      let change: SeriesRow['change'];
      for (const s of series) {
        if (!definite(cells[s]!.verdict)) continue;
        if (last && cells[last]!.verdict !== cells[s]!.verdict && !change) {
          const a = cells[last]!;
          const b = cells[s]!;
          change = {
            before: last,
            after: s,
            text: `${r.id}: ${a.verdict} through ${last} (${why(a)}), ${b.verdict} from ${s} (${why(b)})`,
          };
        }
        last = s;
      }
      return { id: r.id, cells, ...(change ? { change } : {}) };
    });
    return { arch, targets: targets.map((t) => ({ label: t.label, series: seriesOf(t) })), series, rows };
  });
}

export function renderSeriesMarkdown(records: readonly ResultRecord[]): string {
  const out: string[] = ['# Claims across kernel versions', ''];
  for (const a of claimsBySeries(records)) {
    out.push(
      `## ${a.arch}`,
      '',
      `Targets: ${a.targets.map((t) => `${t.label} (${t.series})`).join(', ')}`,
      '',
      `| claim | ${a.series.join(' | ')} |`,
      `|---|${a.series.map(() => '---').join('|')}|`,
    );
    for (const r of a.rows) out.push(`| ${r.id} | ${a.series.map((s) => r.cells[s]!.verdict).join(' | ')} |`);
    const changes = a.rows.filter((r) => r.change);
    out.push('', changes.length ? 'Where a verdict changes:' : 'No verdict changes between these series.', '');
    for (const r of changes) out.push(`- ${r.change!.text.replace(/\|/g, '\\|')}`);
    out.push('');
  }
  return out.join('\n');
}

export function renderSeriesText(records: readonly ResultRecord[]): string {
  const out: string[] = [];
  for (const a of claimsBySeries(records)) {
    const w = Math.max(5, ...a.rows.map((r) => r.id.length));
    out.push(
      `${a.arch}: claims across kernel versions (${a.targets.map((t) => t.label).join(', ')})`,
      `  ${'claim'.padEnd(w)}  ${a.series.map((s) => s.padEnd(12)).join(' ')}`,
    );
    for (const r of a.rows) out.push(`  ${r.id.padEnd(w)}  ${a.series.map((s) => r.cells[s]!.verdict.padEnd(12)).join(' ')}`);
    for (const r of a.rows.filter((x) => x.change)) out.push(`  ${r.change!.text}`);
    out.push('');
  }
  return out.join('\n');
}

export function renderSeriesHtml(records: readonly ResultRecord[]): string {
  const body = claimsBySeries(records)
    .map((a) => {
      const rows = a.rows.map((r) => ({ cells: [r.id, ...a.series.map((s) => r.cells[s]!.verdict)] }));
      const changes = a.rows
        .filter((r) => r.change)
        .map((r) => `<li>${esc(r.change!.text)}</li>`)
        .join('');
      const targets = `<p>Targets: ${a.targets.map((t) => esc(`${t.label} (${t.series})`)).join(', ')}</p>`;
      return `<h2>${esc(a.arch)}</h2>${targets}${htmlTable(`series-${a.arch}`, ['claim', ...a.series], rows)}<ul>${changes}</ul>`;
    })
    .join('');
  return page('Claims across kernel versions', 'table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}', body);
}
