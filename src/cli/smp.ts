/**
 * `ptbench smp`: the database workload on 1, 2, ... simulated CPUs (piscina worker threads over the
 * same shared page tables), per design: measured accesses/s and speedup, with the simulated fault and
 * table counts and the lock statistics that explain them; every run is checked (page_table_check) and,
 * with --check, compared with the single-threaded run of the same accesses. `--out` writes the figures
 * as JSON atomically (nothing is written when a run fails).
 */


import { parseSize, posInt, procsCount } from '../lib/size.js';


import { designsByList } from '../share/index.js';
import { cpuCountsToMeasure } from '../smp/cpu_pool.js';



import { checkWritable, writeJsonAtomic } from '../harness/write.js';
import { RunFailed, UsageError } from '../lib/errors.js';
import { KernelError } from '../mm/errno.js';
import { renderScalingTable } from '../harness/table.js';
import { parseOptions } from '../lib/cli_args.js';
import { runSmpScaling } from '../harness/smp_scaling.js';
import { describeKernel } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';

export const SMP_HELP = `usage: ptbench smp [options]

The database workload on simulated CPUs in worker threads: N processes map one region and each
first-touches (writes) all of it in its own random order; each CPU takes the next process from a
run queue whenever it finishes one (a process runs on one CPU from start to end). Each
CPU count runs --rounds times, the CPU counts taking turns round by round; the median round is
reported, and the speedup is paired: the median over rounds of the 1-CPU round's time over the
N-CPU round's time in the same turn (the host's speed drifts, so rounds far apart compare badly).
Beside it, the host control: in each turn every pool's threads also run work that shares nothing
(random read-modify-writes over a private 8 MiB array each), and N threads doing N times one
thread's work in the same time is N x: what the host gave at the time, measured.
Times are measured (wall clock):
accesses/s from the CPUs' running time (the first CPU starting after the barrier to the last one
finishing), and apart from it the harness's own time (piscina dispatch and the results coming back).
Faults, tables and lock acquisitions are simulated counts (lock waits are measured).

  --design NAME|all    sharing design (default: private,ptshare,mshare,threads; all = every design)
  --cpus LIST          CPU counts, e.g. 1,2 (default: 1, 2, ... up to the ${cpuCountsToMeasure().at(-1)} cores)
  --procs N            processes (default 8)
  --kind KIND          shmem | anon | file | hugetlb (default shmem; hugetlb for hugetlb-pmd)
  --size SIZE          region (default 64MiB of 4 KiB shmem; 8GiB of 2 MiB hugetlb pages for hugetlb-pmd)
  --rounds N           rounds per CPU count (default 5)
  --seed N             seed of the access orders (default 1)
  --pt-pages N         page-table pool capacity in table pages (default: what the workload needs)
  --check              also run every round single-threaded and compare the accounting (not for
                       hugetlb-pmd: racing first faults may each allocate a PMD table, as in the kernel)
${kernelHelp()}
  --json               machine-readable output
  --out FILE           also write the JSON to FILE (atomically)
`;


export async function smpMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      design: { type: 'string', default: 'private,ptshare,mshare,threads' },
      cpus: { type: 'string' },
      procs: { type: 'string' },
      size: { type: 'string' },
      kind: { type: 'string' },
      rounds: { type: 'string' },
      seed: { type: 'string' },
      'pt-pages': { type: 'string' },
      check: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      ...KERNEL_OPTIONS,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(SMP_HELP);
    return 0;
  }
  const designs = designsByList(values.design);
  const cpuList = values.cpus === undefined ? cpuCountsToMeasure() : values.cpus.split(',').map((c) => posInt(c.trim(), '--cpus', 1));
  if (cpuList.some((c) => c > 64)) throw new UsageError(`--cpus: at most 64 simulated CPUs, got ${values.cpus}`);
  const procs = (values.procs === undefined ? 8 : procsCount(values.procs));
  const rounds = posInt(values.rounds, '--rounds', 5);
  const seed = posInt(values.seed, '--seed', 1, 0);
  const ptPages = values['pt-pages'] === undefined ? null : posInt(values['pt-pages'], '--pt-pages', 1);
  const size = values.size === undefined ? null : parseSize(values.size, '--size');
  const out = values.out === undefined ? null : checkWritable(values.out, '--out');

  const kernel = kernelFromOptions(values);
  const tooFew = (msg: string) => `${msg.replace(/\.$/, '')}; --pt-pages ${ptPages} is too few table pages for this run: raise it, or leave it out to size the pool from the workload`;
  const rows = await runSmpScaling({ designs, cpuList, procs, rounds, seed, ptPages, size, kind: values.kind, check: values.check, kernel }).catch((e: unknown) => {
    // A pool the user sized (--pt-pages) that runs out is their setting, said in their terms.
    if (ptPages !== null && e instanceof Error && /page-table pool: all \d+ table pages/.test(e.message)) {
      if (e instanceof KernelError) throw new UsageError(tooFew(e.message.replace(/^ENOMEM: /, '')), 'ENOMEM');
      if (e instanceof RunFailed) throw new RunFailed(tooFew(e.message));
    }
    throw e;
  });
  const doc = { kernel, procs, rounds, seed, rows };
  if (out !== null) writeJsonAtomic(out, doc);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`kernel ${describeKernel(kernel)}\n`);
  process.stdout.write(`ptbench smp: ${procs} processes, median of ${rounds} rounds; times measured (wall clock), faults and tables simulated; speedup paired with the 1-CPU round of the same turn; host control = N threads of work sharing nothing against 1, same turns (measured)\n`);
  process.stdout.write(`${renderScalingTable(rows)}\n`);
  process.stdout.write('how to read it: a design scales as well as this machine allows when its speedup is close to the host control on the same row (N threads that share nothing); a speedup well below it is contention in the model (see the hottest lock and its wait)\n');
  if (values.check) process.stdout.write(`single-threaded check: ${rows.map((r) => `${r.design}/${r.cpus}: ${r.equalsSingleThreaded === null ? '-' : r.equalsSingleThreaded ? 'equal' : 'DIFFERENT'}`).join(', ')}\n`);
  if (out !== null) process.stdout.write(`written to ${out}\n`);
  return 0;
}
