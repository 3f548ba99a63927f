/**
 * `ptbench export`: a results file in the formats other tools consume.
 *   --format github-action-benchmark   two files for benchmark-action/github-action-benchmark:
 *       bigger-is-better.json   (tool: customBiggerIsBetter)   measured operations/s per task
 *       smaller-is-better.json  (tool: customSmallerIsBetter)  simulated page-table bytes per scenario
 */
import { join, resolve } from 'node:path';
import { loadResults, resultsFileArg } from '../harness/load.js';
import { checkWritable, writeJsonAtomic } from '../harness/write.js';
import { UsageError } from '../lib/errors.js';
import { toGithubActionBenchmark } from '../harness/export.js';
import { parseOptions } from '../lib/cli_args.js';

export const EXPORT_HELP = `usage: ptbench export [RESULTS.json] --format github-action-benchmark [--out-dir DIR]

Writes DIR/bigger-is-better.json (measured operations/s; the action's tool customBiggerIsBetter) and
DIR/smaller-is-better.json (simulated page-table bytes; tool customSmallerIsBetter). RESULTS.json
defaults to the latest file in results/; DIR defaults to results/export.
`;

export function exportMain(argv: string[]): number {
  const { values, positionals } = parseOptions({
    args: argv, strict: true, allowPositionals: true,
    options: {
      format: { type: 'string' },
      'out-dir': { type: 'string', default: join('results', 'export') },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(EXPORT_HELP);
    return 0;
  }
  if (values.format !== 'github-action-benchmark') throw new UsageError(`--format: '${values.format ?? ''}' is not a known format; formats: github-action-benchmark`);
  const path = resultsFileArg(positionals);
  const { bigger, smaller } = toGithubActionBenchmark(loadResults(path));
  const dir = resolve(values['out-dir']);
  checkWritable(join(dir, 'bigger-is-better.json'), '--out-dir');
  writeJsonAtomic(join(dir, 'bigger-is-better.json'), bigger);
  writeJsonAtomic(join(dir, 'smaller-is-better.json'), smaller);
  process.stdout.write(`wrote ${bigger.length} measured entries to ${join(dir, 'bigger-is-better.json')} and ${smaller.length} simulated entries to ${join(dir, 'smaller-is-better.json')}\n`);
  return 0;
}
