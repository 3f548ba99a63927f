/**
 * `ptbench smp`'s measurement: the database workload on 1, 2, ... simulated CPUs per design, the
 * rounds interleaved across CPU counts, the host control after each, and (with `check`) every run's
 * accounting compared with a single-threaded run of the same accesses.
 */
import { median } from 'simple-statistics';

import { Machine } from '../mm/machine.js';
import { machineAccounting, totalTables } from '../mm/accounting.js';

import { CpuPool } from '../smp/cpu_pool.js';
import { hostSpeedup } from '../smp/host_control.js';
import { scenarioMachine, type RegionKind } from '../workload/scenario.js';
import { mapForSmp, runOnMainThread, smpRound, smpWorkload, type SmpRound } from '../workload/smp_run.js';

import { UsageError } from '../lib/errors.js';
import type { SmpRow } from './table.js';

import type { PtShareDesign } from '../mm/pt_share.js';
import type { KernelConfig } from '../mm/kernel_profile.js';

export interface SmpScalingOptions {
  designs: readonly PtShareDesign[];
  cpuList: readonly number[];
  procs: number;
  rounds: number;
  seed: number;
  /** Page-table pool size in pages (null: sized from the counting engine). */
  ptPages: number | null;
  /** Region size (null: 64 MiB of 4 KiB shmem, or 8 GiB of 2 MiB hugetlb pages for hugetlb-pmd). */
  size: number | null;
  /** Region kind as given (undefined: shmem, or hugetlb for hugetlb-pmd). */
  kind: string | undefined;
  check: boolean;
  /** The kernel simulated. */
  kernel: KernelConfig;
}

/** The round of median running time. */
function medianRound(got: readonly SmpRound[]): SmpRound {
  return [...got].sort((a, b) => a.run.parallelMs - b.run.parallelMs)[Math.floor(got.length / 2)]!;
}

export async function runSmpScaling(o: SmpScalingOptions): Promise<SmpRow[]> {
  const { designs, cpuList, procs, rounds, seed, ptPages, size } = o;
  const rows: SmpRow[] = [];
  for (const design of designs) {
    const kind = (o.kind ?? (design.name === 'hugetlb-pmd' ? 'hugetlb' : 'shmem')) as RegionKind;
    if (!['shmem', 'anon', 'file', 'hugetlb'].includes(kind)) throw new UsageError(`--kind: unknown kind '${o.kind}'; kinds: shmem, anon, file, hugetlb`);
    const huge = kind === 'hugetlb';
    const w = smpWorkload({ design, procs, size: size ?? (huge ? 8 * 2 ** 30 : 64 * 2 ** 20), kind, page: huge ? '2m' : '4k', write: true, order: 'random', seed, kernel: o.kernel });
    // One pool and machine per CPU count, and the rounds interleaved (round r on 1 CPU, then on 2, ...),
    // so that every CPU count sees the host in the same states.
    const runs: { cpus: number; pool: CpuPool; m: Machine; got: SmpRound[]; control: number[]; equal: boolean | null }[] = [];
    // --check: the single-threaded run's accounting, made once before the rounds (building it between
    // timed rounds would leave the main thread's garbage collector busy on a core the CPUs need). Not
    // for hugetlb-pmd, whose racing first faults may each allocate a PMD table, as in the kernel.
    const check = o.check && design.name !== 'hugetlb-pmd';
    let expected = '';
    if (check) {
      const ref = scenarioMachine(w.scenario, w.capacity);
      runOnMainThread(ref, mapForSmp(ref, w.scenario, w.plan));
      expected = JSON.stringify(machineAccounting(ref));
    }
    try {
      for (const cpus of cpuList) {
        const pool = await CpuPool.start(cpus);
        const m = ptPages === null ? scenarioMachine(w.scenario, w.capacity) : new Machine({ design, ptPages, frames: w.capacity.folios + 64, kernel: o.kernel });
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
  return rows;
}
