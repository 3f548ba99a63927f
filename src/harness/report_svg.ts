/**
 * Inline SVG charts for the HTML pages (`report --html`, `chart --html`): no script, no network.
 * Every design has one colour, marker and dash in every chart (DESIGN_STYLE), each line is named at
 * its right end, and every point carries a <title> (its value on hover). Lines that coincide stay
 * distinguishable by their markers; end labels of lines that meet are merged ("private = hugetlb-pmd").
 */
import { iec } from '../lib/format.js';
import type { ScenarioSeries } from './chart.js';

export interface SeriesStyle { color: string; marker: 'circle' | 'square' | 'triangle' | 'diamond' | 'cross' | 'star' | 'x'; dash: string }

/** One style per design, the same in every chart. */
export const DESIGN_STYLE: Record<string, SeriesStyle> = {
  private: { color: '#1f77b4', marker: 'circle', dash: '' },
  'hugetlb-pmd': { color: '#ff7f0e', marker: 'square', dash: '7 4' },
  ptshare: { color: '#2ca02c', marker: 'triangle', dash: '' },
  mshare: { color: '#d62728', marker: 'diamond', dash: '' },
  'mshare-protect-all': { color: '#9467bd', marker: 'cross', dash: '3 3' },
  'file-pt': { color: '#8c564b', marker: 'star', dash: '' },
  threads: { color: '#7f7f7f', marker: 'x', dash: '' },
};

const FALLBACK: SeriesStyle = { color: '#17becf', marker: 'circle', dash: '2 2' };

export function styleOf(name: string): SeriesStyle {
  return DESIGN_STYLE[name] ?? FALLBACK;
}

export function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

function marker(m: SeriesStyle['marker'], x: number, y: number, color: string, title: string): string {
  const t = `<title>${esc(title)}</title>`;
  const r = 4;
  switch (m) {
    case 'circle': return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${color}">${t}</circle>`;
    case 'square': return `<rect x="${(x - r).toFixed(1)}" y="${(y - r).toFixed(1)}" width="${2 * r}" height="${2 * r}" fill="none" stroke="${color}" stroke-width="2">${t}</rect>`;
    case 'triangle': return `<path d="M${x.toFixed(1)},${(y - r - 1).toFixed(1)}l${r + 1},${2 * r + 1}h${-2 * r - 2}z" fill="${color}">${t}</path>`;
    case 'diamond': return `<path d="M${x.toFixed(1)},${(y - r - 1).toFixed(1)}l${r + 1},${r + 1}l${-r - 1},${r + 1}l${-r - 1},${-r - 1}z" fill="${color}">${t}</path>`;
    case 'cross': return `<path d="M${(x - r).toFixed(1)},${y.toFixed(1)}h${2 * r}M${x.toFixed(1)},${(y - r).toFixed(1)}v${2 * r}" stroke="${color}" stroke-width="2.5">${t}</path>`;
    case 'star': return `<path d="M${x.toFixed(1)},${(y - r - 1).toFixed(1)}l1.5,3.5h3.5l-2.8,2.3 1,3.7-3.2,-2.2-3.2,2.2 1,-3.7-2.8,-2.3h3.5z" fill="${color}">${t}</path>`;
    default: return `<path d="M${(x - r).toFixed(1)},${(y - r).toFixed(1)}l${2 * r},${2 * r}M${(x + r).toFixed(1)},${(y - r).toFixed(1)}l${-2 * r},${2 * r}" stroke="${color}" stroke-width="2">${t}</path>`;
  }
}

export interface LineSeries {
  name: string;
  style: SeriesStyle;
  points: Array<{ x: number; y: number; label: string }>;
  /** Optional band (lo, hi per point), drawn under the line. */
  band?: Array<{ lo: number; hi: number }>;
  /** Indices of points to flag (change points): a red triangle under the point. */
  flags?: Array<{ i: number; title: string }>;
}

export interface ChartSpec {
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** x tick labels at the points' x values. */
  xTicks: Array<{ x: number; label: string }>;
  logY: boolean;
  formatY: (v: number) => string;
  series: LineSeries[];
}

/** A line chart as one <svg>: `data-chart` names it, each series is a `g.series[data-series]`. */
/** Pixels a 12 px label takes per character (a conservative average for the page's sans-serif). */
const LABEL_CHAR_PX = 7.2;
const LABEL_LINE_PX = 14;

/** The end labels' text lines: the names of lines that meet, joined, or one a line when that is long. */
function labelLines(names: string[]): string[] {
  const joined = names.join(' = ');
  return joined.length <= 26 ? [joined] : names.map((n, i) => (i < names.length - 1 ? `${n} =` : n));
}

/**
 * Place end labels (each `lines.length` lines tall, wanted at `y`) so that none overlaps another or
 * leaves [top, bottom]: pushed down in order, then, where the last went past the bottom, up again.
 */
export function placeLabels(ends: Array<{ y: number; lines: string[] }>, top: number, bottom: number): void {
  const h = (e: { lines: string[] }) => e.lines.length * LABEL_LINE_PX;
  ends.sort((a, b) => a.y - b.y);
  for (let i = 0; i < ends.length; i++) {
    const min = i === 0 ? top : ends[i - 1]!.y + h(ends[i - 1]!);
    if (ends[i]!.y < min) ends[i]!.y = min;
  }
  for (let i = ends.length - 1; i >= 0; i--) {
    const max = i === ends.length - 1 ? bottom - h(ends[i]!) : ends[i + 1]!.y - h(ends[i]!);
    if (ends[i]!.y > max) ends[i]!.y = max;
  }
}

export function lineChart(c: ChartSpec): string {
  const H = 320;
  // The right margin fits the longest end label, so none is clipped.
  const longest = Math.max(0, ...c.series.map((s) => s.name.length + 2));
  const M = { l: 88, r: Math.max(170, Math.ceil(longest * LABEL_CHAR_PX) + 16), t: 16, b: 44 };
  const W = 550 + M.r;
  // Log axes are in powers of two, so byte ticks read 1 MiB, 8 MiB, 64 MiB.
  const tf = (v: number) => (c.logY ? Math.log2(Math.max(v, 1e-9)) : v);
  const ys = c.series.flatMap((s) => [...s.points.map((p) => tf(p.y)), ...(s.band ?? []).flatMap((b) => [tf(b.lo), tf(b.hi)])]);
  const xs = c.series.flatMap((s) => s.points.map((p) => p.x));
  let y0 = Math.min(...ys);
  let y1 = Math.max(...ys);
  if (c.logY) {
    y0 = Math.floor(y0);
    y1 = Math.ceil(y1 + 1e-9);
  } else {
    const pad = (y1 - y0) * 0.08 || Math.abs(y1) * 0.05 || 1;
    y0 -= pad;
    y1 += pad;
  }
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  const px = (x: number) => M.l + ((x - x0) / (x1 - x0 || 1)) * (W - M.l - M.r);
  const py = (y: number) => H - M.b - ((tf(y) - y0) / (y1 - y0 || 1)) * (H - M.t - M.b);
  const out: string[] = [`<svg data-chart="${esc(c.id)}" data-expected-series="${c.series.length}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(c.title)}">`];
  out.push(`<rect x="${M.l}" y="${M.t}" width="${W - M.l - M.r}" height="${H - M.t - M.b}" fill="#fff" stroke="#bbb"/>`);
  // y grid: powers of two on a log axis (about six of them), five steps otherwise.
  const ticks: number[] = [];
  if (c.logY) for (let e = y0, step = Math.max(1, Math.ceil((y1 - y0) / 6)); e <= y1; e += step) ticks.push(2 ** e);
  else for (let k = 0; k <= 4; k++) ticks.push(y0 + ((y1 - y0) * k) / 4);
  for (const v of ticks) {
    const y = py(v);
    out.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#eee"/><text x="${M.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" font-size="11">${esc(c.formatY(v))}</text>`);
  }
  for (const t of c.xTicks) out.push(`<text x="${px(t.x).toFixed(1)}" y="${H - M.b + 16}" text-anchor="middle" font-size="11">${esc(t.label)}</text>`);
  out.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${esc(c.xLabel)}</text>`);
  out.push(`<text x="14" y="${(M.t + H - M.b) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(M.t + H - M.b) / 2})">${esc(c.yLabel)}</text>`);
  // End labels: lines ending at (nearly) the same height share one label; labels never overlap and
  // stay inside the chart's height (placeLabels).
  const ends: Array<{ y: number; names: string[]; lines: string[]; color: string }> = [];
  for (const s of c.series) {
    const last = s.points[s.points.length - 1]!;
    const y = py(last.y);
    const near = ends.find((e) => Math.abs(e.y - y) < 1);
    if (near) near.names.push(s.name);
    else ends.push({ y, names: [s.name], lines: [], color: s.style.color });
  }
  // Each label's box starts half a line above its line's end.
  for (const e of ends) {
    e.lines = labelLines(e.names);
    e.y -= LABEL_LINE_PX / 2;
  }
  placeLabels(ends, 2, H - 2);
  for (const s of c.series) {
    const st = s.style;
    const g: string[] = [`<g class="series" data-series="${esc(s.name)}" data-marker="${st.marker}">`];
    if (s.band && s.band.length === s.points.length) {
      const upper = s.points.map((p, i) => `${px(p.x).toFixed(1)},${py(s.band![i]!.hi).toFixed(1)}`);
      const lower = s.points.map((p, i) => `${px(p.x).toFixed(1)},${py(s.band![i]!.lo).toFixed(1)}`).reverse();
      g.push(`<polygon class="band" points="${[...upper, ...lower].join(' ')}" fill="${st.color}" fill-opacity="0.18" stroke="none"/>`);
    }
    const pts = s.points.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ');
    g.push(`<polyline class="line" fill="none" stroke="${st.color}" stroke-width="2" ${st.dash ? `stroke-dasharray="${st.dash}" ` : ''}points="${pts}"/>`);
    for (const p of s.points) g.push(marker(st.marker, px(p.x), py(p.y), st.color, `${s.name}: ${p.label}`));
    for (const f of s.flags ?? []) {
      const p = s.points[f.i]!;
      g.push(`<path class="flag" d="M${px(p.x).toFixed(1)},${(H - M.b - 12).toFixed(1)}l6,10h-12z" fill="#c00"><title>${esc(f.title)}</title></path>`);
    }
    g.push('</g>');
    out.push(g.join(''));
  }
  for (const e of ends) {
    const x = W - M.r + 8;
    const spans = e.lines.map((l, i) => `<tspan x="${x}" y="${(e.y + 11 + i * LABEL_LINE_PX).toFixed(1)}">${esc(l)}</tspan>`).join('');
    out.push(`<text class="end-label" x="${x}" y="${(e.y + 11).toFixed(1)}" font-size="12" fill="${e.color}">${spans}</text>`);
  }
  out.push('</svg>');
  return out.join('');
}

/** Memory against processes for one scenario: one series per design, log y, log2 x. */
export function memoryChart(s: ScenarioSeries, log = true): string {
  return lineChart({
    id: `memory:${s.scenario}`,
    title: `${s.scenario}: page-table bytes against processes`,
    xLabel: 'processes (log2 axis)',
    yLabel: `page-table bytes (simulated${log ? ', log axis' : ''})`,
    xTicks: s.procs.map((p) => ({ x: Math.log2(p), label: String(p) })),
    logY: log,
    formatY: iec,
    series: s.designs.map((d) => ({
      name: d.name, style: styleOf(d.name),
      points: s.procs.map((p, i) => ({ x: Math.log2(p), y: d.bytes[i]!, label: `${p} processes, ${iec(d.bytes[i]!)}` })).filter((p) => Number.isFinite(p.y)),
    })),
  });
}

/** Savings against private at the largest process count, as bars in each design's colour. */
export function savingBars(s: ScenarioSeries): string {
  const last = s.procs.length - 1;
  const rows = s.designs.map((d) => `<tr data-design="${esc(d.name)}"><td>${esc(d.name)}</td><td><div style="background:${styleOf(d.name).color};height:12px;width:${Math.max(0, d.saving[last]!) * 300}px"></div></td><td>${(d.saving[last]! * 100).toFixed(1)} %</td><td>${esc(iec(d.bytes[last]!))}</td></tr>`);
  return `<table class="bars"><caption>saving against private at ${s.procs[last]} processes (simulated)</caption>${rows.join('')}</table>`;
}

