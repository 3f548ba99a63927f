/**
 * `ptbench report --html`: one self-contained page (inline SVG and CSS, no script, no network) with
 * the memory of every scenario against processes (log axis, one colour and marker per design), the
 * savings, every task's history over commits with its band and change points, the latest
 * comparison, and the machine and kernel profile of each run.
 */
import { basename } from 'node:path';
import { formatP, rate, shortCommit as short } from '../lib/format.js';
import { seriesOf as memorySeriesOf } from './chart.js';
import { compareResults, DEFAULT_COMPARE } from './compare.js';
import { seriesIdOf, type History, type HistoryRun, type TaskHistory } from './history.js';
import { esc, lineChart, memoryChart, savingBars, styleOf } from './report_svg.js';


function taskChart(seriesIndex: number, t: TaskHistory): string {
  const design = /\[([^\]]+)\]$/.exec(t.key)?.[1] ?? '';
  const stepAt = new Map(t.steps.map((s) => [s.to, s]));
  return lineChart({
    id: `history:${seriesIndex}:${t.key}`,
    title: `${t.key} over commits`,
    xLabel: 'commit (oldest first)',
    yLabel: `${t.unit}/s (measured)`,
    xTicks: t.points.map((p, i) => ({ x: i, label: short(p.commit).slice(0, 7) })),
    logY: false,
    formatY: rate,
    series: [{
      name: t.key, style: styleOf(design),
      points: t.points.map((p, i) => ({ x: i, y: p.median, label: `${short(p.commit)}: ${rate(p.median)} ${t.unit}/s (${p.n} samples; spread ${rate(p.lo)}..${rate(p.hi)})` })),
      band: t.points.map((p) => ({ lo: p.lo, hi: p.hi })),
      flags: t.points.flatMap((p, i) => {
        const s = stepAt.get(p.commit);
        return s === undefined ? [] : [{ i, title: `${s.verdict}: B/A ${s.ratio.toFixed(3)} [${s.lo.toFixed(3)}, ${s.hi.toFixed(3)}], p ${formatP(s.p)} (${short(s.from)} -> ${short(s.to)})` }];
      }),
    }],
  });
}

/** The run the memory section draws: the newest run that has memory scenarios (undefined: none has). */
export function memoryRun(runs: readonly HistoryRun[]): HistoryRun | undefined {
  return [...runs].reverse().find((r) => r.results.memory.length > 0);
}

export function renderReport(h: History, runs: HistoryRun[], generated: string): string {
  const parts: string[] = [];
  const memRun = memoryRun(runs);
  parts.push('<section id="memory"><h2>Page-table memory by design (simulated)</h2>');
  if (memRun === undefined) {
    parts.push('<p>No run with memory scenarios yet.</p>');
  } else {
    const newest = runs[runs.length - 1]!;
    const older = newest !== memRun ? ` The newest run, ${esc(basename(newest.file))} (suite ${esc(newest.results.config.suite)}), has no memory scenarios; this is the newest run that has them.` : '';
    parts.push(`<p>From ${esc(basename(memRun.file))} (commit ${esc(short(memRun.commit))}, ${esc(memRun.results.date)}).${older} Every figure is simulated and exact. The y axes are logarithmic. Each design keeps its colour and marker in every chart; lines that coincide share an end label.</p>`);
    // A scenario run at one process count (the scenario library's) has no line to draw: its bars only.
    for (const s of memorySeriesOf(memRun.results)) parts.push(`<h3>${esc(s.scenario)}</h3>${s.procs.length >= 2 ? memoryChart(s) : ''}${savingBars(s)}`);
  }
  parts.push('</section>');

  parts.push('<section id="history"><h2>Timings over commits (measured)</h2><p>Each chart is one task: the line is its median of process medians (operations/s; the median call with one process), as bench and compare print it, at each commit; the band is the spread of its processes; a red triangle marks a step that <code>ptbench compare</code>\'s test finds significant and above the noise floor. Runs from different machines, kernel profiles or quick/full runs are separate series.</p>');
  h.series.forEach((s, si) => {
    parts.push(`<h3>Series ${si + 1}: ${esc(s.machine)} · kernel ${esc(s.kernel)} · ${s.mode} runs (${s.commits.length} commits)</h3>`);
    const charted = s.tasks.filter((t) => t.points.length >= 2);
    if (charted.length === 0) parts.push('<p>Fewer than two commits: nothing to chart yet.</p>');
    for (const t of charted) {
      parts.push(`<h4>${esc(t.key)}</h4>${taskChart(si, t)}`);
      if (t.steps.length > 0) {
        parts.push(`<table class="steps"><tr><th>from</th><th>to</th><th>B/A [95% CI]</th><th>p</th><th></th><th>subject</th></tr>${t.steps.map((x) => `<tr><td>${esc(short(x.from))}</td><td>${esc(short(x.to))}</td><td>${x.ratio.toFixed(3)} [${x.lo.toFixed(3)}, ${x.hi.toFixed(3)}]</td><td>${formatP(x.p)}</td><td>${x.verdict}</td><td>${esc(x.subject ?? '')}</td></tr>`).join('')}</table>`);
      }
    }
    if (s.countChanges.length > 0) {
      parts.push(`<p>Deterministic counts (simulated) changed at ${s.countChanges.length} commit(s):</p><ul>${s.countChanges.map((c) => `<li>${esc(short(c.from))} → ${esc(short(c.to))} ${esc(c.subject ?? '')}: ${c.changes.length} value(s), e.g. ${esc(c.changes.slice(0, 3).map((x) => `${x.where} ${x.field} ${x.a ?? 'absent'} → ${x.b ?? 'absent'}`).join('; '))}</li>`).join('')}</ul>`);
    } else {
      parts.push('<p>Deterministic counts (simulated): no change between consecutive commits.</p>');
    }
  });
  parts.push('</section>');

  // The latest comparison: the newest run against the one before it in the same series.
  parts.push('<section id="comparison"><h2>Latest comparison</h2>');
  const newest = runs[runs.length - 1];
  const prev = newest === undefined ? undefined : [...runs].slice(0, -1).reverse().find((r) => seriesIdOf(r.results).key === seriesIdOf(newest.results).key);
  if (newest === undefined || prev === undefined) {
    parts.push('<p>Only one run in its series: nothing to compare yet.</p>');
  } else {
    const c = compareResults(prev.results, newest.results, DEFAULT_COMPARE);
    parts.push(`<p>A = ${esc(basename(prev.file))} (commit ${esc(short(prev.commit))}), B = ${esc(basename(newest.file))} (commit ${esc(short(newest.commit))}). Timings measured; '~' unless p &lt; ${DEFAULT_COMPARE.alpha} and the change exceeds ${DEFAULT_COMPARE.noise * 100} %.</p>`);
    parts.push(`<table class="comparison"><tr><th>task</th><th>A</th><th>B</th><th>B/A [95% CI]</th><th>p</th><th></th></tr>${c.rows.map((r) => `<tr><td>${esc(r.key)}</td><td>${rate(r.a)} ${esc(r.unit)}/s</td><td>${rate(r.b)} ${esc(r.unit)}/s</td><td>${r.ratio.toFixed(3)} [${r.lo.toFixed(3)}, ${r.hi.toFixed(3)}]</td><td>${formatP(r.p)}</td><td>${esc(r.verdict)}</td></tr>`).join('')}</table>`);
    parts.push(`<p>Deterministic counts (simulated): ${c.changes.length === 0 ? `identical (${c.countsCompared} values)` : `${c.changes.length} of ${c.countsCompared} values changed`}.</p>`);
  }
  parts.push('</section>');

  parts.push(`<section id="runs"><h2>Runs</h2><table class="runs"><tr><th>file</th><th>date</th><th>commit</th><th>machine</th><th>kernel profile</th><th>kind</th><th>tasks</th><th>memory records</th></tr>${runs.map((r) => {
    const id = seriesIdOf(r.results);
    return `<tr><td>${esc(basename(r.file))}</td><td>${esc(r.results.date)}</td><td>${esc(short(r.commit))}</td><td>${esc(id.machine)}</td><td>${esc(id.kernel)}</td><td>${id.mode}</td><td>${r.results.tasks.length}</td><td>${r.results.memory.length}</td></tr>`;
  }).join('')}</table></section>`);
  const css = 'body{font-family:sans-serif;max-width:960px;margin:1.5em auto;padding:0 1em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left;font-size:13px}svg{display:block;margin:.5em 0}h4{margin:1.2em 0 0}caption{text-align:left;font-size:13px;color:#555}nav a{margin-right:1em}';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ptbench report</title><style>${css}</style></head><body><h1>ptbench report</h1><p>Generated ${esc(generated)} from ${runs.length} results file(s) (${h.series.length} series).</p><nav><a href="#memory">memory</a><a href="#history">history</a><a href="#comparison">latest comparison</a><a href="#runs">runs</a></nav>${parts.join('')}</body></html>\n`;
}
