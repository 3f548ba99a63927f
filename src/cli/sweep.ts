/**
 * `ptbench sweep` (= `npm run sweep`): page-table memory of the database workload over a grid of
 * process counts and region sizes for every design, from the counting engine (exact, simulated; the
 * property test holds it to the materialized tables). Prints a table per size and an asciichart
 * chart; --json prints the sweep, --out writes it as a file `ptbench chart` reads.
 */
import { resolve } from 'node:path';
import { intInRange, parseSize, procsCount } from '../lib/size.js';
import { runEnvironment } from '../harness/env.js';
import { checkWritable, writeJsonAtomic } from '../harness/write.js';
import { designsByList } from '../share/index.js';
import { UsageError } from '../lib/errors.js';
import { SWEEP_DEFAULT_PROCS, SWEEP_DEFAULT_SIZES, type SweepFile, runSweep, renderSweep } from '../harness/sweep.js';
import { parseRegionShape } from '../workload/sga.js';
import { parseOptions, useColor } from '../lib/cli_args.js';
import { describeKernel } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';

export const SWEEP_HELP = `usage: ptbench sweep [options]      (npm run sweep -- ...)

Page-table memory (simulated, exact; counting engine) of N processes mapping one region, over a grid
of process counts and sizes, for every design: a table per size, a chart of the largest size.

  --procs LIST     process counts (default ${SWEEP_DEFAULT_PROCS.join(',')})
  --sizes LIST     region sizes (default ${SWEEP_DEFAULT_SIZES.join(',')}; GB = 10^9, GiB = 2^30)
  --design LIST    designs, or all (default all)
  --kind KIND      shmem | file | hugetlb | anon (default shmem)
  --page SIZE      4k | 2m | 1g (default 4k, or 2m for hugetlb)
  --levels 4|5     4-level or 5-level paging (default 4)
  --height N       chart height in rows (default 14)
${kernelHelp(19)}
  --json           print the sweep as JSON instead of tables
  --out FILE       also write the sweep to FILE (atomically); 'ptbench chart FILE' charts it
`;

function list(text: string, field: string): string[] {
  const parts = text.split(',').map((x) => x.trim());
  if (parts.some((x) => x === '')) throw new UsageError(`${field}: '${text}' has an empty item; give a comma-separated list`);
  return parts;
}

export function sweepMain(argv: string[]): number {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      procs: { type: 'string', default: SWEEP_DEFAULT_PROCS.join(',') },
      sizes: { type: 'string', default: SWEEP_DEFAULT_SIZES.join(',') },
      design: { type: 'string', default: 'all' },
      kind: { type: 'string', default: 'shmem' },
      page: { type: 'string' },
      levels: { type: 'string', default: '4' },
      height: { type: 'string', default: '14' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      ...KERNEL_OPTIONS,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SWEEP_HELP);
    return 0;
  }
  const procs = list(values.procs, '--procs').map((p) => procsCount(p));
  const sizes = list(values.sizes, '--sizes').map((text) => ({ text, bytes: parseSize(text, '--sizes') }));
  const designs = designsByList(list(values.design, '--design'));
  const { kind, page, levels } = parseRegionShape(values.kind, values.page, values.levels);
  const height = intInRange(values.height, '--height', 4, 100, 'rows');
  if (values.out !== undefined) checkWritable(values.out, '--out');
  const kernel = kernelFromOptions(values);
  const swept = runSweep({ procs, sizes, designs, kind, page, levels });
  // The counts follow the kernel's rules; none of the sweep's (map, touch) differs between the profiles yet.
  const s = { ...swept, config: { ...swept.config, kernel } };
  const file: SweepFile = { ...s, date: new Date().toISOString(), environment: runEnvironment(process.cwd()) };
  if (values.out !== undefined) writeJsonAtomic(resolve(values.out), file);
  const color = useColor();
  process.stdout.write(values.json ? `${JSON.stringify(file, null, 2)}\n` : `kernel ${describeKernel(kernel)}\n${renderSweep(s, height, color)}\n`);
  if (values.out !== undefined && !values.json) process.stdout.write(`\nsweep written to ${resolve(values.out)} ('ptbench chart ${values.out}' charts it)\n`);
  return 0;
}
