/** `ptbench history`: every results file over git history, per task, with the steps compare would call. */
import asciichart from 'asciichart';
import { parseOptions, useColor } from '../lib/cli_args.js';
import { formatP, rate, plainTable, shortCommit as short } from '../lib/format.js';
import { buildHistory, loadHistoryRuns, type History, type HistorySeries, type TaskHistory } from '../harness/history.js';
import { UsageError } from '../lib/errors.js';

export const HISTORY_HELP = `usage: ptbench history [options]

Every results file in results/ and results/reference/, in git history order (the commits of
'git log', then the time of each run), split into series that may be compared: the same machine,
kernel profile, and quick or full runs. Per task: its operations/s over the commits (measured; the
line is the median, the band the spread of its processes), the steps between consecutive commits
that 'ptbench compare' finds significant and above the noise floor (marked ▲), and the commits
where a deterministic count (simulated) changed.

  --task TEXT     only tasks whose name contains TEXT (e.g. fork/anon-1GiB)
  --since REF     only runs of REF and the commits after it
  --height N      chart height in rows (default 8)
  --json          the series as JSON
`;

/** A commit subject cut to 72 characters (older subjects ran long). */
const subj = (s: string | null) => (s === null ? '' : s.length > 72 ? `${s.slice(0, 71)}…` : s);

/** One task's chart: median and band over commits, change points marked under the x axis. */
export function renderTaskChart(t: TaskHistory, height: number, color: boolean): string {
  const n = t.points.length;
  const w = Math.max(1, Math.min(8, Math.floor(64 / n)));
  const spread = (f: (p: TaskHistory['points'][number]) => number) => t.points.flatMap((p) => Array<number>(w).fill(f(p)));
  const series = [spread((p) => p.lo), spread((p) => p.hi), spread((p) => p.median)];
  const plot = asciichart.plot(series, {
    height,
    format: (v: number) => rate(v).padStart(9),
    colors: color ? [asciichart.lightgray, asciichart.lightgray, asciichart.blue] : undefined,
  });
  const lines = plot.split('\n');
  // eslint-disable-next-line no-control-regex -- strips the SGR colour codes asciichart wrote
  const width = lines[lines.length - 1]!.replace(/\x1b\[[0-9;]*m/g, '').length;
  const lead = width - n * w;
  const marks = new Array<string>(n * w).fill(' ');
  const labels = new Array<string>(n * w).fill(' ');
  t.points.forEach((p, i) => {
    const at = i * w;
    const idx = String(p.index + 1);
    for (let k = 0; k < idx.length && at + k < labels.length; k++) labels[at + k] = idx[k]!;
    if (t.steps.some((s) => s.to === p.commit)) marks[at] = '▲';
  });
  return [
    `${t.key}: ${t.unit}/s (measured) over ${n} commit${n === 1 ? '' : 's'}; line = median, band = spread of its processes`,
    ...lines,
    `${' '.repeat(lead)}${labels.join('').trimEnd()}   commit # (table below)`,
    ...(t.steps.length > 0 ? [`${' '.repeat(lead)}${marks.join('').trimEnd()}   ▲ step found by compare's test`] : []),
  ].join('\n');
}

function renderSeries(s: HistorySeries, height: number, color: boolean): string {
  const out: string[] = [`series: ${s.machine} · kernel ${s.kernel} · ${s.mode} runs · ${s.commits.length} commit${s.commits.length === 1 ? '' : 's'}`];
  const ct = plainTable(['#', 'commit', 'runs', 'subject'], ['right', 'left', 'right', 'left']);
  s.commits.forEach((c, i) => ct.push([String(i + 1), short(c.commit), String(c.files.length), c.subject !== null ? subj(c.subject) : c.commit === null ? '' : '(not in this history)']));
  out.push(ct.toString());
  for (const t of s.tasks) {
    out.push('');
    if (t.points.length < 2) {
      out.push(`${t.key}: one commit only (${rate(t.points[0]!.median)} ${t.unit}/s, measured); nothing to chart`);
      continue;
    }
    out.push(renderTaskChart(t, height, color));
    if (t.steps.length > 0) {
      const st = plainTable(['from', 'to', 'B/A [95% CI]', 'p', '', 'subject'], ['left', 'left', 'right', 'right', 'left', 'left']);
      for (const x of t.steps) st.push([short(x.from), short(x.to), `${x.ratio.toFixed(3)} [${x.lo.toFixed(3)}, ${x.hi.toFixed(3)}]`, formatP(x.p), x.verdict, subj(x.subject)]);
      out.push(st.toString());
    } else {
      out.push('no step between consecutive commits is significant and above the noise floor');
    }
  }
  out.push('');
  if (s.countChanges.length === 0) {
    out.push('deterministic counts (simulated): no change between consecutive commits');
  } else {
    out.push(`deterministic counts (simulated) changed at ${s.countChanges.length} commit${s.countChanges.length === 1 ? '' : 's'}:`);
    for (const c of s.countChanges) {
      out.push(`  ${short(c.from)} -> ${short(c.to)} ${subj(c.subject)}: ${c.changes.length} value${c.changes.length === 1 ? '' : 's'}`);
      for (const ch of c.changes.slice(0, 8)) out.push(`    ${ch.where} ${ch.field}: ${ch.a ?? 'absent'} -> ${ch.b ?? 'absent'}`);
      if (c.changes.length > 8) out.push(`    ... ${c.changes.length - 8} more (--json lists all)`);
    }
  }
  return out.join('\n');
}

export function renderHistory(h: History, height: number, color: boolean): string {
  const out: string[] = [`ptbench history: ${h.series.length} series (runs from different machines, kernel profiles or quick/full are never mixed)`];
  for (const s of h.series) out.push('', renderSeries(s, height, color));
  for (const x of h.skipped) out.push(`skipped ${x.file}: ${x.why}`);
  return out.join('\n');
}

export async function historyMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: { task: { type: 'string' }, since: { type: 'string' }, height: { type: 'string', default: '8' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(HISTORY_HELP);
    return 0;
  }
  const height = Number(values.height);
  if (!Number.isInteger(height) || height < 2 || height > 40) throw new UsageError(`--height: '${values.height}' is not a whole number from 2 to 40`);
  const { runs, skipped } = loadHistoryRuns(process.cwd(), values.since);
  if (runs.length === 0) throw new UsageError(`no results files${values.since ? ` of ${values.since} or later` : ''} in results/ or results/reference/; run 'npm run bench' first`);
  const h = buildHistory(runs, skipped, values.task);
  if (values.task !== undefined && h.series.every((s) => s.tasks.length === 0)) {
    const all = [...new Set(runs.flatMap((r) => r.results.tasks.map((t) => t.name)))];
    throw new UsageError(`--task: no task name contains '${values.task}'; tasks: ${all.join(', ')}`);
  }
  process.stdout.write(values.json ? `${JSON.stringify(h)}\n` : `${renderHistory(h, height, useColor())}\n`);
  return 0;
}
