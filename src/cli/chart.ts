/**
 * `ptbench chart` (= `npm run chart`): page-table memory against process count for every design
 * (asciichart line charts with an explicit height, a legend and hand-drawn x labels; --log for a log
 * scale), bars of the saving per design, and --html for the same charts as a self-contained page.
 * The data are the memory scenarios of a results file (simulated, exact).
 */
import { resolve } from 'node:path';
import { intInRange } from '../lib/size.js';
import { latestMemoryRun, loadMemorySource } from '../harness/load.js';
import { checkWritable, writeTextAtomic } from '../harness/write.js';
import { UsageError } from '../lib/errors.js';
import { seriesOf, renderAscii, renderBars, renderHtml } from '../harness/chart.js';
import { parseOptions, useColor } from '../lib/cli_args.js';

export const CHART_HELP = `usage: ptbench chart [RESULTS.json | SWEEP.json] [options]      (npm run chart -- ...)

Charts the memory scenarios of a results file (default: your newest run in results/ that has them,
else the newest reference run that has them, saying which) or of a sweep file
('ptbench sweep --out FILE'): page-table bytes
against process count for every design, and the saving against 'private' at the largest count.
All figures are simulated (exact).

  --scenario NAME   only this scenario (e.g. sga/shmem-4k-1GiB)
  --height N        chart height in rows (default 12)
  --width N         chart width in columns (default 60)
  --log             logarithmic y axis
  --html FILE       also write the charts as a self-contained HTML page
`;

export function chartMain(argv: string[]): number {
  const { values, positionals } = parseOptions({
    args: argv, strict: true, allowPositionals: true,
    options: {
      scenario: { type: 'string' },
      height: { type: 'string', default: '12' },
      width: { type: 'string', default: '60' },
      log: { type: 'boolean', default: false },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(CHART_HELP);
    return 0;
  }
  const height = intInRange(values.height, '--height', 4, 100, 'rows');
  const width = intInRange(values.width, '--width', 16, 400, 'columns');
  if (values.html !== undefined) checkWritable(values.html, '--html');
  if (positionals.length > 1) throw new UsageError(`expected at most one results file, got ${positionals.length}`);
  const picked = positionals[0] === undefined ? latestMemoryRun(process.cwd()) : { path: positionals[0], note: null };
  const path = picked.path;
  const r = loadMemorySource(path);
  let all = seriesOf(r);
  if (values.scenario !== undefined) {
    all = all.filter((s) => s.scenario === values.scenario);
    if (all.length === 0) throw new UsageError(`--scenario: no scenario '${values.scenario}' in ${path}; it has ${seriesOf(r).map((s) => s.scenario).join(', ') || 'no memory scenarios'}`);
  }
  if (all.length === 0) throw new UsageError(`${path} has no memory scenarios (run 'npm run bench' with the default or mem suite)`);
  const color = useColor();
  const out: string[] = [`ptbench chart: ${path}`, ...(picked.note === null ? [] : [picked.note])];
  for (const s of all) {
    out.push('', renderAscii(s, { height, width, log: values.log, color }), '', renderBars(s));
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (values.html !== undefined) {
    writeTextAtomic(resolve(values.html), renderHtml(r, all, values.log));
    process.stdout.write(`\nHTML report written to ${resolve(values.html)}\n`);
  }
  return 0;
}
