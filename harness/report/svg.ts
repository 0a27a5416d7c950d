/** Small self-contained SVG charts for the HTML report: no library, no network. */

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function fmt(n: number): string {
  if (n >= 2 ** 20 && n % 2 ** 20 === 0) return `${n / 2 ** 20}M`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}K`;
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return String(n);
}

/** A log-log line chart (x: bytes, y: nanoseconds, say). */
export function lineChart(title: string, xLabel: string, yLabel: string, series: Series[], w = 640, h = 340): string {
  const pts = series.flatMap((s) => s.points).filter((p) => p.x > 0 && p.y > 0);
  if (!pts.length) return `<p class="empty">${esc(title)}: no data</p>`;
  const m = { l: 64, r: 170, t: 28, b: 44 };
  const [x0, x1] = [Math.min(...pts.map((p) => p.x)), Math.max(...pts.map((p) => p.x))];
  const [y0, y1] = [Math.min(...pts.map((p) => p.y)), Math.max(...pts.map((p) => p.y))];
  const lx = (v: number) => Math.log10(v);
  const sx = (v: number) => m.l + ((lx(v) - lx(x0)) / Math.max(1e-9, lx(x1) - lx(x0))) * (w - m.l - m.r);
  const sy = (v: number) => h - m.b - ((lx(v) - lx(y0 / 1.5)) / Math.max(1e-9, lx(y1 * 1.5) - lx(y0 / 1.5))) * (h - m.t - m.b);
  const parts: string[] = [];
  parts.push(`<text x="${w / 2 - m.r / 2}" y="18" text-anchor="middle" class="title">${esc(title)}</text>`);
  for (const t of logTicks(y0 / 1.5, y1 * 1.5)) {
    if (t < y0 / 1.5 || t > y1 * 1.5) continue;
    parts.push(
      `<line x1="${m.l}" x2="${w - m.r}" y1="${sy(t)}" y2="${sy(t)}" class="grid"/><text x="${m.l - 6}" y="${sy(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  const xs = [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
  for (const x of xs) parts.push(`<text x="${sx(x)}" y="${h - m.b + 16}" text-anchor="middle">${fmt(x)}</text>`);
  parts.push(`<text x="${(m.l + w - m.r) / 2}" y="${h - 6}" text-anchor="middle">${esc(xLabel)}</text>`);
  parts.push(
    `<text x="14" y="${(m.t + h - m.b) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.t + h - m.b) / 2})">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length];
    const sp = s.points.filter((p) => p.x > 0 && p.y > 0).sort((a, b) => a.x - b.x);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const points = sp.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline class="series" data-series="${esc(s.name)}" fill="none" stroke="${c}" stroke-width="2"${dash} points="${points}"/>`,
    );
    for (const p of sp) {
      const tip = `<title>${esc(`${s.name}: ${fmt(p.x)} → ${p.y}`)}</title>`;
      parts.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3" fill="${c}">${tip}</circle>`);
    }
    const ly = m.t + 14 + i * 18;
    parts.push(`<line x1="${w - m.r + 12}" x2="${w - m.r + 32}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${w - m.r + 38}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  return svg(title, w, h, parts);
}

function svg(title: string, w: number, h: number, parts: string[]): string {
  const attrs = `class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}"`;
  return `<svg ${attrs} xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** Horizontal bars, one per label (values may be negative). */
export function barChart(title: string, unit: string, bars: { label: string; value: number }[], w = 640): string {
  if (!bars.length) return `<p class="empty">${esc(title)}: no data</p>`;
  const rowH = 22;
  const m = { l: 300, r: 90, t: 28 };
  const h = m.t + bars.length * rowH + 10;
  const max = Math.max(...bars.map((b) => Math.abs(b.value)), 1);
  const hasNeg = bars.some((b) => b.value < 0);
  const zero = hasNeg ? m.l + (w - m.l - m.r) / 2 : m.l;
  const span = hasNeg ? (w - m.l - m.r) / 2 : w - m.l - m.r;
  const parts = [`<text x="${w / 2}" y="18" text-anchor="middle" class="title">${esc(title)}</text>`];
  bars.forEach((b, i) => {
    const y = m.t + i * rowH;
    const len = (Math.abs(b.value) / max) * span;
    const x = b.value < 0 ? zero - len : zero;
    parts.push(`<text x="${m.l - 6}" y="${y + 15}" text-anchor="end">${esc(b.label)}</text>`);
    const fill = b.value < 0 ? '#d62728' : '#1f77b4';
    const tip = `<title>${esc(`${b.label}: ${b.value} ${unit}`)}</title>`;
    parts.push(
      `<rect class="bar" x="${x.toFixed(1)}" y="${y + 3}" width="${Math.max(1, len).toFixed(1)}" height="${rowH - 6}" fill="${fill}">${tip}</rect>`,
    );
    parts.push(`<text x="${(b.value < 0 ? zero : x + len) + 4}" y="${y + 15}">${esc(`${b.value} ${unit}`)}</text>`);
  });
  return svg(title, w, h, parts);
}

/**
 * Samples as dots, one row per group on a shared linear axis, each row's
 * median a vertical tick and its range a line: two runs' distributions side
 * by side.
 */
export function stripChart(title: string, unit: string, groups: { name: string; samples: number[] }[], w = 640): string {
  const all = groups.flatMap((g) => g.samples);
  if (!all.length) return `<p class="empty">${esc(title)}: no data</p>`;
  const rowH = 34;
  const m = { l: 90, r: 24, t: 28, b: 36 };
  const h = m.t + groups.length * rowH + m.b;
  const [lo, hi] = [Math.min(0, ...all), Math.max(...all)];
  const sx = (v: number) => m.l + ((v - lo) / Math.max(1e-9, hi - lo)) * (w - m.l - m.r);
  const parts = [`<text x="${w / 2}" y="18" text-anchor="middle" class="title">${esc(title)}</text>`];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    parts.push(`<line x1="${sx(v)}" x2="${sx(v)}" y1="${m.t}" y2="${h - m.b}" class="grid"/>`);
    parts.push(`<text x="${sx(v)}" y="${h - m.b + 14}" text-anchor="middle">${esc(fmt(Math.round(v)))}</text>`);
  }
  parts.push(`<text x="${(m.l + w - m.r) / 2}" y="${h - 6}" text-anchor="middle">${esc(unit)}</text>`);
  groups.forEach((g, i) => {
    const c = PALETTE[i % PALETTE.length];
    const y = m.t + i * rowH + rowH / 2;
    parts.push(`<text x="${m.l - 8}" y="${y + 4}" text-anchor="end">${esc(g.name)}</text>`);
    if (!g.samples.length) return;
    const s = [...g.samples].sort((a, b) => a - b);
    const med = s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    parts.push(`<line x1="${sx(s[0]!)}" x2="${sx(s[s.length - 1]!)}" y1="${y}" y2="${y}" stroke="${c}" stroke-width="1"/>`);
    parts.push(`<line class="median" x1="${sx(med)}" x2="${sx(med)}" y1="${y - 10}" y2="${y + 10}" stroke="${c}" stroke-width="3"/>`);
    for (const v of s) {
      const tip = `<title>${esc(`${g.name}: ${v} ${unit}`)}</title>`;
      parts.push(
        `<circle class="sample" data-group="${esc(g.name)}" cx="${sx(v).toFixed(1)}" cy="${y}" r="4" fill="${c}" fill-opacity="0.6">${tip}</circle>`,
      );
    }
  });
  return svg(title, w, h, parts);
}

/** A metric over runs: the median as a line, each run's range as a bar; x is the run, oldest first. */
export function trendChart(
  title: string,
  unit: string,
  points: { run: string; median: number; min: number; max: number }[],
  w = 640,
  h = 220,
): string {
  if (!points.length) return `<p class="empty">${esc(title)}: no data</p>`;
  const m = { l: 70, r: 24, t: 28, b: 40 };
  const lo = Math.min(...points.map((p) => p.min));
  const hi = Math.max(...points.map((p) => p.max));
  const pad = (hi - lo || Math.abs(hi) || 1) * 0.1;
  const [y0, y1] = [lo - pad, hi + pad];
  const sx = (i: number) => m.l + (points.length > 1 ? (i / (points.length - 1)) * (w - m.l - m.r) : (w - m.l - m.r) / 2);
  const sy = (v: number) => h - m.b - ((v - y0) / Math.max(1e-9, y1 - y0)) * (h - m.t - m.b);
  const parts = [`<text x="${w / 2}" y="18" text-anchor="middle" class="title">${esc(title)}</text>`];
  for (let i = 0; i <= 3; i++) {
    const v = y0 + ((y1 - y0) * i) / 3;
    parts.push(`<line x1="${m.l}" x2="${w - m.r}" y1="${sy(v)}" y2="${sy(v)}" class="grid"/>`);
    parts.push(`<text x="${m.l - 6}" y="${sy(v) + 4}" text-anchor="end">${esc(fmt(Math.round(v)))}</text>`);
  }
  parts.push(
    `<text x="14" y="${(m.t + h - m.b) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(m.t + h - m.b) / 2})">${esc(unit)}</text>`,
  );
  points.forEach((p, i) => {
    parts.push(`<line x1="${sx(i)}" x2="${sx(i)}" y1="${sy(p.min)}" y2="${sy(p.max)}" stroke="#9ecae1" stroke-width="6"/>`);
    parts.push(`<text x="${sx(i)}" y="${h - m.b + 14}" text-anchor="middle">${esc(String(i + 1))}</text>`);
  });
  const line = points.map((p, i) => `${sx(i).toFixed(1)},${sy(p.median).toFixed(1)}`).join(' ');
  parts.push(`<polyline class="trend" fill="none" stroke="${PALETTE[0]}" stroke-width="2" points="${line}"/>`);
  for (const [i, p] of points.entries()) {
    const tip = `<title>${esc(`${p.run}: median ${p.median} [${p.min}–${p.max}] ${unit}`)}</title>`;
    parts.push(`<circle cx="${sx(i).toFixed(1)}" cy="${sy(p.median).toFixed(1)}" r="3" fill="${PALETTE[0]}">${tip}</circle>`);
  }
  return svg(title, w, h, parts);
}
