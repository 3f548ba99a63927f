/** `ptbench reclaim`: reclaim of shared shmem pages and pagemap of the swapped pages, per design and variant. */
import { int, plainTable } from '../lib/format.js';
import { parseSize, posInt, procsCount } from '../lib/size.js';
import { SHMEM_SWAP_REPORTS, type ShmemSwapReport } from '../mm/machine_types.js';
import { DESIGNS, designByName } from '../share/index.js';
import { runReclaimExperiment, type ReclaimReport } from '../workload/reclaim.js';
import { UsageError } from '../lib/errors.js';
import { parseOptions } from '../lib/cli_args.js';
import { describeKernel } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';

export const RECLAIM_HELP = `usage: ptbench reclaim [options]    (npm run reclaim -- ...)

N processes map a shmem region the design's way and write all of it; the first --pages pages are
reclaimed (rmap walk over i_mmap, entries cleared, TLB flushes, swap-out); process 0 then reads its
pagemap over them and reads them back (swap-in). Every figure is simulated and exact.

  --design NAME|all    sharing design (default all: ${DESIGNS.map((d) => d.name).join(', ')};
                       hugetlb-pmd shares only hugetlb tables, so shmem is private under it)
  --procs N            processes (default 128)
  --size SIZE          shmem region (default 2MiB)
  --pages N            pages reclaimed from the start (default 512)
  --variant NAME|all   how pagemap reports swapped shmem: ${SHMEM_SWAP_REPORTS.join(' | ')} (default all)
${kernelHelp()}
  --json               machine-readable output
`;

export async function reclaimMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      design: { type: 'string', default: 'all' },
      procs: { type: 'string' },
      size: { type: 'string', default: '2MiB' },
      pages: { type: 'string' },
      variant: { type: 'string', default: 'all' },
      json: { type: 'boolean', default: false },
      ...KERNEL_OPTIONS,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(RECLAIM_HELP);
    return 0;
  }
  const designs = values.design === 'all' ? [...DESIGNS].filter((d) => d.name !== 'hugetlb-pmd') : [designByName(values.design)];
  if (values.variant !== 'all' && !(SHMEM_SWAP_REPORTS as readonly string[]).includes(values.variant)) {
    throw new UsageError(`--variant: unknown variant '${values.variant}'; variants: ${SHMEM_SWAP_REPORTS.join(', ')}, all`);
  }
  const variants = values.variant === 'all' ? [...SHMEM_SWAP_REPORTS] : [values.variant as ShmemSwapReport];
  const procs = (values.procs === undefined ? 128 : procsCount(values.procs));
  const size = parseSize(values.size, '--size');
  if (size % 4096 !== 0) throw new UsageError(`--size: ${values.size} is not a multiple of 4 KiB`);
  const pages = posInt(values.pages, '--pages', Math.min(512, size / 4096));
  const reports: ReclaimReport[] = [];
  const kernel = kernelFromOptions(values);
  for (const design of designs) for (const v of variants) reports.push(runReclaimExperiment({ design, procs, size, pages, shmemSwapReport: v, kernel }));
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ kernel, procs, size, pages, reports }, null, 2)}\n`);
    return 0;
  }
  const first = reports.filter((r) => r.variant === variants[0]);
  const rt = plainTable(['design', 'pages reclaimed', 'rmap VMAs visited', 'tables visited', 'entries cleared', 'TLB flushes', 'IPIs', 'entries cleared per page'], ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
  for (const r of first) {
    const x = r.reclaim;
    rt.push([r.design, int(x.pagesReclaimed), int(x.vmasVisited), int(x.tablesVisited), int(x.entriesCleared), int(x.flushes), int(x.ipis), (x.entriesCleared / x.pagesReclaimed).toFixed(2)]);
  }
  const pt = plainTable(['design', 'variant', 'entries read', 'reported swapped', 'extra lookups', 'lookups per entry', 'markers left at reclaim', 'swap-ins', 'marker faults'], ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right']);
  for (const r of reports) {
    pt.push([r.design, r.variant, int(r.pagemap.entries), int(r.pagemap.reportedSwapped), int(r.pagemap.lookups), (r.pagemap.lookups / r.pagemap.entries).toFixed(2), int(r.reclaim.markers),
      int(r.refault.swapIns), int(r.refault.markerFaults)]);
  }
  const out = [
    `kernel ${describeKernel(kernel)}`,
    `Reclaim (simulated): ${int(procs)} processes x ${values.size} of shmem, all written; the first ${int(pages)} pages reclaimed`,
    rt.toString(),
    '',
    `pagemap of process 0 over the reclaimed pages, then process 0 reads them back (simulated)`,
    pt.toString(),
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
