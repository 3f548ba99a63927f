/**
 * Charts of page-table memory against process count per design: asciichart in the terminal, bars of
 * the savings, and a static HTML page with inline SVG. Every figure charted is simulated.
 */
import asciichart from 'asciichart';
import { iec } from '../lib/format.js';
import type { MemorySource } from './load.js';
import type { ResultsFile } from './types.js';
import { esc, memoryChart, savingBars } from './report_svg.js';

const COLORS = [asciichart.blue, asciichart.red, asciichart.green, asciichart.magenta, asciichart.cyan, asciichart.yellow];

export interface ScenarioSeries {
  scenario: string;
  procs: number[];
  designs: Array<{ name: string; bytes: number[]; saving: number[] }>;
}

export function seriesOf(r: Pick<ResultsFile, 'memory'>): ScenarioSeries[] {
  const out: ScenarioSeries[] = [];
  for (const scenario of [...new Set(r.memory.map((m) => m.scenario))]) {
    const rows = r.memory.filter((m) => m.scenario === scenario);
    const procs = [...new Set(rows.map((m) => m.procs))].sort((a, b) => a - b);
    const designs = [...new Set(rows.map((m) => m.design))].map((name) => ({
      name,
      bytes: procs.map((p) => rows.find((m) => m.design === name && m.procs === p)?.pageTableBytes ?? NaN),
      saving: procs.map((p) => rows.find((m) => m.design === name && m.procs === p)?.savingVsPrivate ?? NaN),
    }));
    out.push({ scenario, procs, designs });
  }
  return out;
}

/** Columns of each x point on a log2(procs) axis of `width` columns. */
function xColumns(procs: number[], width: number): number[] {
  const lo = Math.log2(procs[0]!);
  const hi = Math.log2(procs[procs.length - 1]!);
  return procs.map((p) => (hi === lo ? 0 : Math.round(((Math.log2(p) - lo) / (hi - lo)) * (width - 1))));
}

/** Resample a series onto `width` columns, interpolating linearly between its points. */
function resample(values: number[], cols: number[], width: number): number[] {
  const out = new Array<number>(width);
  for (let x = 0; x < width; x++) {
    let k = 0;
    while (k < cols.length - 2 && x > cols[k + 1]!) k++;
    const x0 = cols[k]!;
    const x1 = cols[Math.min(k + 1, cols.length - 1)]!;
    const t = x1 === x0 ? 0 : (x - x0) / (x1 - x0);
    out[x] = values[k]! + (values[Math.min(k + 1, values.length - 1)]! - values[k]!) * Math.max(0, Math.min(1, t));
  }
  return out;
}

// eslint-disable-next-line no-control-regex -- strips the SGR colour codes asciichart wrote
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

export function renderAscii(s: ScenarioSeries, o: { height: number; width: number; log: boolean; color: boolean }): string {
  const cols = xColumns(s.procs, o.width);
  const tf = (v: number) => (o.log ? Math.log10(Math.max(v, 1)) : v / 2 ** 20);
  const series = s.designs.map((d) => resample(d.bytes.map(tf), cols, o.width));
  const label = (v: number) => iec(o.log ? 10 ** v : v * 2 ** 20).padStart(10);
  const plot = asciichart.plot(series, {
    height: o.height,
    format: label,
    colors: o.color ? s.designs.map((_, i) => COLORS[i % COLORS.length]!) : undefined,
  });
  const lines = plot.split('\n');
  // Name each line at its right end (asciichart draws every series with the same glyphs): the row of
  // a value is the one asciichart picks, round((v - min) * rows / range) counted from the bottom.
  const all = series.flat();
  const min = Math.min(...all);
  const max = Math.max(...all);
  const rows = lines.length - 1;
  const ends = new Map<number, string[]>();
  series.forEach((v, i) => {
    const row = rows - (max === min ? 0 : Math.round(((v[v.length - 1]! - min) * rows) / (max - min)));
    ends.set(row, [...(ends.get(row) ?? []), s.designs[i]!.name]);
  });
  for (const [row, names] of ends) lines[row] = `${lines[row]} ${names.join(', ')}`;
  // Hand-drawn x axis: asciichart has none. Find the plot's first data column from the y axis glyph.
  const first = stripAnsi(lines[lines.length - 1]!);
  const axis = Math.max(first.indexOf('┼'), first.indexOf('┤'));
  const xl = new Array<string>(axis + 1 + o.width + 8).fill(' ');
  // Placed from the right, so the largest count always shows; a label that would run into the one
  // on its right is left out.
  let limit = Infinity;
  for (let i = s.procs.length - 1; i >= 0; i--) {
    const text = String(s.procs[i]);
    const at = Math.max(0, axis + 1 + cols[i]! - Math.floor(text.length / 2));
    if (at + text.length >= limit) continue;
    for (let k = 0; k < text.length; k++) xl[at + k] = text[k]!;
    limit = at;
  }
  const legend = s.designs.map((d, i) => `${o.color ? `${COLORS[i % COLORS.length]}──${asciichart.reset}` : '──'} ${d.name}`).join('   ');
  const title = `${s.scenario}: page-table bytes (simulated) against processes${o.log ? ' (log scale)' : ''}`;
  return [title, lines.join('\n'), `${xl.join('').trimEnd()}   processes (log2 axis)`, `${' '.repeat(axis + 1)}${legend}   (each line is named at its right end)`].join('\n');
}

export function renderBars(s: ScenarioSeries, width = 40): string {
  const last = s.procs.length - 1;
  const n = s.procs[last]!;
  const privateBytes = s.designs.find((d) => d.name === 'private')?.bytes[last];
  const rows = s.designs.map((d) => ({ name: d.name, saving: d.saving[last]!, bytes: d.bytes[last]! })).sort((a, b) => b.saving - a.saving);
  const partial = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
  const nameW = Math.max(...rows.map((r) => r.name.length));
  const lines = [`${s.scenario} x${n}: saving against private (simulated)${privateBytes !== undefined ? `, private = ${iec(privateBytes)}` : ''}`];
  for (const r of rows) {
    const cells = Math.max(0, r.saving) * width;
    const full = Math.floor(cells);
    const bar = '█'.repeat(full) + partial[Math.floor((cells - full) * 8)]!;
    lines.push(`  ${r.name.padEnd(nameW)} ${bar.padEnd(width + 1)} ${(r.saving * 100).toFixed(1).padStart(5)} %  (${iec(r.bytes)})`);
  }
  return lines.join('\n');
}

/** The memory charts as a self-contained page (chart --html; `report --html` holds the same charts and more). */
export function renderHtml(r: MemorySource, all: ScenarioSeries[], log: boolean): string {
  const parts = all.map((s) => `<h2>${esc(s.scenario)}</h2><p>Page-table bytes (simulated, exact) against processes${log ? ', log scale' : ''}.</p>${memoryChart(s, log)}${savingBars(s)}`);
  const g = r.git;
  return `<!doctype html><html><head><meta charset="utf-8"><title>ptbench: page-table memory</title><style>body{font-family:sans-serif;max-width:760px;margin:2em auto}td{padding:2px 8px}</style></head><body><h1>ptbench: page-table memory by design</h1><p>From the run of ${esc(r.date)} (commit ${esc(g.commit ?? 'unknown')}${g.dirty ? ', dirty' : ''}). All figures are simulated.</p>${parts.join('')}</body></html>\n`;
}
