/** Small pieces shared by the HTML pages: escaping, a table, the page frame. Pure. */

export const esc = (s: unknown): string =>
  String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A table with a header row; each row may carry a class (its status, say). Cells are escaped. */
export function htmlTable(id: string, head: readonly string[], rows: readonly { cls?: string; cells: readonly unknown[] }[]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr${r.cls ? ` class="${esc(r.cls)}"` : ''}>${r.cells.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`);
  return `<table id="${esc(id)}"><tr>${th}</tr>${trs.join('')}</table>`;
}

const BASE_CSS = [
  'body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1100px}table{border-collapse:collapse;margin:8px 0}',
  'td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}',
  '.chart text{font:11px sans-serif;fill:#333}.chart .title{font-size:13px;font-weight:bold}.chart .grid{stroke:#eee}',
].join('\n');

export function page(title: string, css: string, body: string): string {
  const head = `<meta charset="utf-8"><title>${esc(title)}</title><style>${BASE_CSS}\n${css}</style>`;
  return `<!doctype html>\n<html lang="en"><head>${head}</head><body>\n${body}\n</body></html>\n`;
}
