/** `ptbench report --html FILE`: the whole picture as one self-contained page. */
import { resolve } from 'node:path';
import { parseOptions } from '../lib/cli_args.js';
import { UsageError } from '../lib/errors.js';
import { buildHistory, loadHistoryRuns } from '../harness/history.js';
import { memoryRun, renderReport } from '../harness/report.js';
import { checkWritable, writeTextAtomic } from '../harness/write.js';

export const REPORT_HELP = `usage: ptbench report [--html FILE] [options]

Writes one self-contained HTML page (inline SVG, no script, no network) from every results file in
results/ and results/reference/: page-table memory against processes for every scenario of the newest
run with memory records (simulated; log axis; one colour and marker per design in every chart),
the savings, every task's operations/s over commits with its spread and the steps compare finds
(measured), the latest comparison, and the machine and kernel profile of each run.

  --html FILE     where to write the page (default results/report.html, ignored by git)
  --since REF     only runs of REF and the commits after it
`;

export async function reportMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: { html: { type: 'string', default: 'results/report.html' }, since: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(REPORT_HELP);
    return 0;
  }
  const out = resolve(values.html);
  checkWritable(out, '--html', 64 * 1024);
  const { runs, skipped } = loadHistoryRuns(process.cwd(), values.since);
  if (runs.length === 0) throw new UsageError("no results files in results/ or results/reference/; run 'npm run bench' first");
  const h = buildHistory(runs, skipped);
  writeTextAtomic(out, renderReport(h, runs, new Date().toISOString()));
  const memRun = memoryRun(runs);
  const newest = runs[runs.length - 1]!;
  process.stdout.write(`report written to ${out} (${runs.length} runs, ${h.series.length} series)\n`);
  process.stdout.write(memRun === undefined ? "memory: no run has memory scenarios (run 'npm run bench' with the default or mem suite)\n"
    : `memory: from ${memRun.file}${memRun !== newest ? ` (the newest run, ${newest.file}, suite ${newest.results.config.suite}, has none)` : ''}\n`);
  return 0;
}
