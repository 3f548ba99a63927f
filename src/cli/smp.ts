/**
 * `ptbench smp`: the database workload on 1, 2, ... simulated CPUs (piscina worker threads over the
 * same shared page tables), per design: measured accesses/s and speedup, with the simulated fault and
 * table counts and the lock statistics that explain them; every run is checked (page_table_check) and,
 * with --check, compared with the single-threaded run of the same accesses. `--out` writes the figures
 * as JSON atomically (nothing is written when a run fails).
 */

import { median } from 'simple-statistics';
import { parseSize, posInt, procsCount } from '../lib/size.js';
import { Machine } from '../mm/machine.js';
import { machineAccounting, totalTables } from '../mm/accounting.js';
import { designsByList } from '../share/index.js';
import { CpuPool, cpuCountsToMeasure } from '../smp/cpu_pool.js';
import { hostSpeedup } from '../smp/host_control.js';
import { scenarioMachine, type RegionKind } from '../workload/scenario.js';
import { mapForSmp, runOnMainThread, smpRound, smpWorkload, type SmpRound } from '../workload/smp_run.js';
import { checkWritable, writeJsonAtomic } from '../harness/write.js';
import { UsageError } from '../lib/errors.js';
import { type SmpRow, renderScalingTable } from '../harness/table.js';
import { parseOptions } from '../lib/cli_args.js';

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
  --json               machine-readable output
  --out FILE           also write the JSON to FILE (atomically)
`;

/** The round of median running time. */
function medianRound(got: readonly SmpRound[]): SmpRound {
  return [...got].sort((a, b) => a.run.parallelMs - b.run.parallelMs)[Math.floor(got.length / 2)]!;
}

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

  const rows: SmpRow[] = [];
  for (const design of designs) {
    const kind = (values.kind ?? (design.name === 'hugetlb-pmd' ? 'hugetlb' : 'shmem')) as RegionKind;
    if (!['shmem', 'anon', 'file', 'hugetlb'].includes(kind)) throw new UsageError(`--kind: unknown kind '${values.kind}'; kinds: shmem, anon, file, hugetlb`);
    const huge = kind === 'hugetlb';
    const w = smpWorkload({ design, procs, size: size ?? (huge ? 8 * 2 ** 30 : 64 * 2 ** 20), kind, page: huge ? '2m' : '4k', write: true, order: 'random', seed });
    // One pool and machine per CPU count, and the rounds interleaved (round r on 1 CPU, then on 2, ...),
    // so that every CPU count sees the host in the same states.
    const runs: { cpus: number; pool: CpuPool; m: Machine; got: SmpRound[]; control: number[]; equal: boolean | null }[] = [];
    // --check: the single-threaded run's accounting, made once before the rounds (building it between
    // timed rounds would leave the main thread's garbage collector busy on a core the CPUs need). Not
    // for hugetlb-pmd, whose racing first faults may each allocate a PMD table, as in the kernel.
    const check = values.check && design.name !== 'hugetlb-pmd';
    let expected = '';
    if (check) {
      const ref = scenarioMachine(w.scenario, w.capacity);
      runOnMainThread(ref, mapForSmp(ref, w.scenario, w.plan));
      expected = JSON.stringify(machineAccounting(ref));
    }
    try {
      for (const cpus of cpuList) {
        const pool = await CpuPool.start(cpus);
        const m = ptPages === null ? scenarioMachine(w.scenario, w.capacity) : new Machine({ design, ptPages, frames: w.capacity.folios + 64 });
        runs.push({ cpus, pool, m, got: [], control: [], equal: check ? true : null });
      }
      for (let r = 0; r < rounds; r++) {
        for (const run of runs) {
          const { m } = run;
          run.got.push(await smpRound(run.pool, m, w, () => {
            if (run.equal !== null && JSON.stringify(machineAccounting(m)) !== expected) run.equal = false;
          }));
          const bad = run.got.at(-1)!.problems;
          if (bad.length > 0) throw new Error(`${design.name} on ${run.cpus} CPUs: inconsistent machine after the run: ${bad[0]}`);
          run.control.push(await run.pool.hostControl());
        }
      }
    } finally {
      for (const run of runs) await run.pool.close();
    }
    const one = runs.find((x) => x.cpus === 1) ?? null;
    const rateOf = (x: SmpRound) => x.accesses / (x.run.parallelMs / 1000);
    const oneMed = one === null ? null : medianRound(one.got);
    for (const run of runs) {
      const med = medianRound(run.got);
      const paired = one === null ? null : median(run.got.map((x, r) => one.got[r]!.run.parallelMs / x.run.parallelMs));
      const host = one === null ? null : median(run.control.map((ms, r) => hostSpeedup(run.cpus, one.control[r]!, ms)));
      rows.push({
        design: design.name, cpus: run.cpus, runMs: med.run.parallelMs, harnessMs: med.run.wallMs - med.run.parallelMs, accessesPerSec: rateOf(med),
        speedup: paired, hostSpeedup: host, speedupOfMedians: oneMed === null ? null : rateOf(med) / rateOf(oneMed),
        accesses: med.accesses, faults: med.faults, tablePages: totalTables(med.acc.tables), locks: med.locks, equalsSingleThreaded: run.equal,
      });
    }
  }
  const doc = { procs, rounds, seed, rows };
  if (out !== null) writeJsonAtomic(out, doc);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`ptbench smp: ${procs} processes, median of ${rounds} rounds; times measured (wall clock), faults and tables simulated; speedup paired with the 1-CPU round of the same turn; host control = N threads of work sharing nothing against 1, same turns (measured)\n`);
  process.stdout.write(`${renderScalingTable(rows)}\n`);
  if (values.check) process.stdout.write(`single-threaded check: ${rows.map((r) => `${r.design}/${r.cpus}: ${r.equalsSingleThreaded === null ? '-' : r.equalsSingleThreaded ? 'equal' : 'DIFFERENT'}`).join(', ')}\n`);
  if (out !== null) process.stdout.write(`written to ${out}\n`);
  return 0;
}
