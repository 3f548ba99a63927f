/**
 * A scenario run by several simulated CPUs at once: the processes' mappings are made on the main
 * thread (mmap takes mmap_lock for writing), then their accesses — each process's pages in its own
 * seeded random order, or in address order — run on worker-thread CPUs, each CPU taking the next
 * process from a run queue whenever it finishes one. The same accesses can run on the main thread alone (the
 * single-threaded reference), and the two end states compared.
 */
import { permutation } from '../lib/permutation.js';
import type { AddressSpace } from '../mm/address_space.js';
import type { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';
import { AccessBatchBuilder, run_accesses, type AccessBatch } from '../smp/access_batch.js';
import type { CpuPool, SmpRunResult } from '../smp/cpu_pool.js';
import { smp_prepare } from '../smp/machine_image.js';
import { mapScenario, scenarioAccesses, teardownScenario, type Scenario } from './scenario.js';
import { materializeBytes, MATERIALIZE_LIMIT_BYTES, sgaScenario, type SgaScenario } from './sga.js';
import { countScenario } from './pgtable_count.js';
import { PUD_SIZE } from '../arch/pgtable_64_types.js';
import { machineAccounting, type MachineAccounting } from '../mm/accounting.js';
import { lockStatRecord, type LockClassStat } from '../mm/spinlock.js';
import { page_table_check } from '../mm/page_table_check.js';
import { UsageError } from '../lib/errors.js';

export type AccessOrder = 'random' | 'seq';

/** Each process's accesses, in its own order: process p's are [starts[p], starts[p + 1]) of the batch. */
export interface ScenarioAccessPlan {
  builder: AccessBatchBuilder;
  /** Per access: the process number (the batch holds mm ids, filled in per run by `bindProcesses`). */
  proc: Int32Array;
  starts: number[];
}

/**
 * Plan the scenario's accesses: process p makes every page of its touched ranges once, shuffled with
 * seed (seed, p) for 'random' order (Fisher-Yates over xoroshiro128+), in address order for 'seq'.
 */
export function planAccesses(sc: Scenario, processes: number, order: AccessOrder, seed: number): ScenarioAccessPlan {
  const addrs: number[] = [];
  const writes: boolean[] = [];
  const starts: number[] = [0];
  const procs: number[] = [];
  for (let p = 0; p < processes; p++) {
    const a: number[] = [];
    const w: boolean[] = [];
    scenarioAccesses(sc, p, (addr, write) => {
      a.push(addr);
      w.push(write);
    });
    const perm = order === 'random' ? permutation(a.length, seed * 1_000_003 + p) : null;
    for (let i = 0; i < a.length; i++) {
      const k = perm === null ? i : perm[i]!;
      addrs.push(a[k]!);
      writes.push(w[k]!);
      procs.push(p);
    }
    starts.push(addrs.length);
  }
  const builder = new AccessBatchBuilder(addrs.length);
  for (let i = 0; i < addrs.length; i++) builder.push(0, addrs[i]!, writes[i]!);
  return { builder, proc: Int32Array.from(procs), starts };
}

/** Write the mm id of each access's process into the batch (mm ids change from one mapping of the scenario to the next). */
export function bindProcesses(plan: ScenarioAccessPlan, processMms: readonly MmStruct[]): AccessBatch {
  const who = plan.builder.who;
  for (let i = 0; i < plan.proc.length; i++) who[i] = (processMms[plan.proc[i]!]!.id << 1) | (who[i]! & 1);
  return plan.builder.batch();
}

/**
 * The run queue: one task per process, its [from, to) range of the batch, in process order. A CPU runs
 * a process's accesses to the end and then takes the next process nobody has taken (as an idle CPU
 * pulls a runnable task), so how many each CPU runs follows how fast it runs: the host's CPUs do not
 * run at one speed (the same round took 18 ms or 35 ms on one pinned CPU of the 2-core VM, in phases of
 * a second or so), and with a fixed half each the round would last as long as the slower CPU's half.
 */
export function runQueue(plan: ScenarioAccessPlan): number[] {
  const q: number[] = [];
  for (let p = 0; p + 1 < plan.starts.length; p++) q.push(plan.starts[p]!, plan.starts[p + 1]!);
  return q;
}

export interface MappedScenario {
  files: AddressSpace[];
  mms: MmStruct[];
  processMms: MmStruct[];
  batch: AccessBatch;
}

/** Map the scenario on `m` and prepare it for concurrent CPUs (smp_prepare). */
export function mapForSmp(m: Machine, sc: Scenario, plan: ScenarioAccessPlan): MappedScenario {
  const r = mapScenario(m, sc);
  smp_prepare(m);
  return { ...r, batch: bindProcesses(plan, r.processMms) };
}

/** Run the mapped scenario's accesses on the pool's CPUs (attaching them first). */
export async function runOnCpus(pool: CpuPool, m: Machine, plan: ScenarioAccessPlan, mapped: MappedScenario): Promise<SmpRunResult> {
  await pool.attach(m);
  return pool.run(m, mapped.batch, runQueue(plan));
}

/** The single-threaded reference: the same accesses, process after process, on the main thread. */
export function runOnMainThread(m: Machine, mapped: MappedScenario): { accesses: number; failed: number } {
  const mms: MmStruct[] = [];
  for (const mm of mapped.mms) mms[mm.id] = mm;
  const r = run_accesses(m, mms, new Float64Array(mapped.batch.addr), new Int32Array(mapped.batch.who), 0, mapped.batch.length, () => false);
  return { accesses: r.accesses, failed: r.failed };
}

/** The database workload (src/workload/sga.ts) prepared for runs on simulated CPUs. */
export interface SmpWorkload {
  scenario: Scenario;
  plan: ScenarioAccessPlan;
  processes: number;
  /** Pool and frame-table capacity for one round (the counting engine's figures). */
  capacity: { tablePages: number; folios: number };
}

/** Bytes of simulator memory one planned access takes (JS arrays while planning, then the shared batch). */
const SMP_PLAN_BYTES_PER_ACCESS = 40;

export function smpWorkload(s: Omit<SgaScenario, 'touch' | 'offset' | 'levels'> & { order: AccessOrder; seed: number }): SmpWorkload {
  const { scenario, touchedPages } = sgaScenario({ ...s, touch: 'all', offset: 0, levels: 4 });
  const counted = countScenario(scenario);
  // Checked before anything is allocated: the machine's tables and folios, and the access plan
  // (each access is held in JS arrays while planned, then in the shared batch: about 40 bytes).
  const need = materializeBytes(scenario, counted) + s.procs * touchedPages * SMP_PLAN_BYTES_PER_ACCESS;
  if (need > MATERIALIZE_LIMIT_BYTES) {
    throw new UsageError(`--size: ${s.procs} process(es) touching ${touchedPages} page(s) each need ${(need / 2 ** 30).toFixed(1)} GiB of simulator memory (limit ${MATERIALIZE_LIMIT_BYTES / 2 ** 30} GiB); use a smaller --size or --procs`);
  }
  // Racing first faults of hugetlb PMD sharing may each allocate a PMD table (as in the kernel): room for one per process and GiB.
  const extra = s.procs * Math.ceil(s.size / PUD_SIZE);
  return { scenario, plan: planAccesses(scenario, s.procs, s.order, s.seed), processes: s.procs, capacity: smpCapacity({ tablePages: counted.tablePages + extra, folios: counted.folios }) };
}

/** Capacity for concurrent CPUs: free folios can sit on other CPUs' per-CPU page lists (up to 320 each, src/mm/folio.ts), so room for 64 CPUs' worth. */
export function smpCapacity(c: { tablePages: number; folios: number }): { tablePages: number; folios: number } {
  return { tablePages: c.tablePages, folios: c.folios + 64 * 320 };
}

/** What one round of the workload did (simulated counts, except where marked measured). */
export interface SmpRound {
  /** Measured. */
  run: SmpRunResult;
  accesses: number;
  /** handle_mm_fault calls (a CPU that loses a race for an entry faults again). */
  faults: number;
  /**
   * RSS + hugetlb pages summed over every mm (host mms included). The same for any interleaving, except
   * under hugetlb-pmd, where a process that lost the race to share a PMD table maps its pages itself.
   */
  mappedPages: number;
  acc: MachineAccounting;
  /** Lock statistics of the round (acquisitions may vary with the interleaving; waits are measured). */
  locks: Record<string, LockClassStat>;
  /** page_table_check after the run: empty when consistent. */
  problems: string[];
}

/**
 * One round on `m` (which must be empty: the workload is mapped, run, and torn down again, leaving
 * the machine as it was so the CPUs' attachment to its buffers is reused). Throws SmpError if a CPU
 * fails, and an Error if any access failed or the machine is left inconsistent or leaking.
 * `afterRun` sees the machine right after the CPUs ran, before anything is checked or torn down.
 */
export async function smpRound(pool: CpuPool, m: Machine, w: SmpWorkload, afterRun?: () => void): Promise<SmpRound> {
  const mapped = mapForSmp(m, w.scenario, w.plan);
  await pool.attach(m);
  const faults0 = m.events.pgfault;
  m.lockstat.fill(0);
  const run = await pool.run(m, mapped.batch, runQueue(w.plan));
  afterRun?.();
  if (run.failed > 0) {
    const f = run.firstFailure!;
    throw new Error(`${run.failed} simulated access(es) failed, the first at 0x${f.addr.toString(16)} with VM_FAULT 0x${f.code.toString(16)}`);
  }
  const problems = page_table_check(m);
  let mappedPages = 0;
  for (const mm of m.mms) mappedPages += mm.rss.reduce((a, b) => a + b, 0) + mm.hugetlb_usage;
  const round: SmpRound = { run, accesses: run.accesses, faults: m.events.pgfault - faults0, mappedPages, acc: machineAccounting(m), locks: lockStatRecord(m.lockstat), problems };
  const leaks = teardownScenario({ machine: m, mms: mapped.mms });
  if (leaks.length > 0) throw new Error(`after the round: ${leaks.join('; ')}`);
  return round;
}
