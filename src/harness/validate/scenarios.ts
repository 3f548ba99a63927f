/**
 * The scenarios `ptbench validate` runs on the real kernel and through the simulator, and how each
 * is measured. Every figure is a differential between two stages of the same probe processes, so
 * their own tables (text, libc, stack) cancel out; the mapping sits at 16 TiB, in a PGD entry of its
 * own, so it needs its own PUD, PMD and PTE tables, which is what the simulator predicts.
 *
 * What is read is the VmPTE (/proc/PID/status, mm_pgtables_bytes(): PTE, PMD and PUD tables, never
 * the PGD) of the probe's own processes, summed: exact at any moment, and blind to every other
 * process on the machine, so a busy machine cannot move it. A shared hugetlb PMD table counts in the
 * VmPTE of each sharer (huge_pmd_share() calls mm_inc_nr_pmds()), as the model counts it. Only the
 * hugetlb mprotect case reads the machine-wide PageTables (/proc/meminfo): what it checks is that the
 * unshare leaves one table more on the machine, which no sum of VmPTE shows (the unsharer's VmPTE
 * loses the shared table and gains its own). That reading is repeated until two runs agree exactly;
 * when they never do, the case says the machine was too busy rather than that the model differs.
 */
import { countScenario } from '../../workload/pgtable_count.js';
import { machineAccounting, mmAccounting } from '../../mm/accounting.js';
import { Machine } from '../../mm/machine.js';
import type { MmStruct } from '../../mm/mm_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../../mm/mmap.js';
import { designByName } from '../../share/index.js';
import type { Scenario } from '../../workload/scenario.js';
import { pageTablesBytes, vmPTEOf } from './procfs.js';
import type { ProbeRun } from './probe.js';
import type { KernelConfig } from '../../mm/kernel_profile.js';

/** The probe's BASE: 16 TiB. */
export const PROBE_BASE = 16 * 2 ** 40;

export interface ValidateScenario {
  name: string;
  kind: 'shmem' | 'hugetlb' | 'anon-before-fork' | 'anon-after-fork' | 'anon-dontneed' | 'anon-fork-child' | 'shared-fork-child' | 'hugetlb-mprotect';
  procs: number;
  size: number;
  offset: number;
  /** 2 MiB hugepages the scenario needs reserved. */
  hugepages: number;
  /**
   * Simulated bytes for the kernel `k`: the page tables the mapping adds (the PGD excluded), or for
   * the fork-child kinds the child's VmPTE for the mapping, or for hugetlb-mprotect the tables the
   * mprotect and refault add.
   */
  predicted(k: KernelConfig): number;
  /** What the simulator models it with. */
  model: string;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

function sharedPrediction(kind: 'shmem' | 'hugetlb', procs: number, size: number, offset: number, design: string): number {
  const sc: Scenario = {
    design: designByName(design), levels: 4,
    objects: [{ kind, page: kind === 'hugetlb' ? '2m' : '4k', size }],
    groups: [{ count: procs, maps: [{ object: 0, addr: PROBE_BASE + offset, len: size, offset: 0, touch: [[0, size]], write: true }] }],
  };
  // The sum of every process's VmPTE: its PUD, PMD and PTE tables, shared PMD tables once per sharer.
  return countScenario(sc).processes.reduce((n, p) => n + p.count * p.vmPTEBytes, 0);
}

/** One process that mapped `size` bytes at the probe's base, private anonymous or a shared memfd, and wrote every page. */
function writtenRegion(size: number, shared: boolean, kernel: KernelConfig): { m: Machine; mm: MmStruct } {
  const m = new Machine({ ptPages: 2 * (size / 2 ** 21 + 16), frames: size / 4096 + 64, kernel });
  const mm = m.mm_alloc();
  const file = shared ? m.memfd_create('probe', size) : null;
  m.mmap(mm, { addr: PROBE_BASE, length: size, prot: PROT_READ | PROT_WRITE, flags: (shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS) | MAP_FIXED, ...(file ? { file } : {}) });
  for (let a = PROBE_BASE; a < PROBE_BASE + size; a += 4096) m.touch(mm, a, true);
  return { m, mm };
}

/**
 * Private anonymous memory written all over, then forked (the child copies the tables) or
 * MADV_DONTNEEDed whole (PT_RECLAIM, where the kernel has it, frees the emptied PTE tables).
 */
function anonPrediction(size: number, then: 'nothing' | 'fork' | 'dontneed', kernel: KernelConfig): number {
  const { m, mm } = writtenRegion(size, false, kernel);
  if (then === 'fork') m.fork(mm);
  if (then === 'dontneed') m.madvise_dontneed(mm, PROBE_BASE, size);
  const acc = machineAccounting(m);
  return acc.pageTableBytes - acc.tables.pgd * kernel.pgdBytes;
}

/**
 * The child's VmPTE for a written 1 GiB region after fork: copy_page_range() copies the tables of a
 * private anonymous VMA (it has an anon_vma) and none of a MAP_SHARED one (vma_needs_copy() false).
 */
function forkChildPrediction(size: number, shared: boolean, kernel: KernelConfig): number {
  const { m, mm } = writtenRegion(size, shared, kernel);
  return mmAccounting(m, m.fork(mm)).vmPTEBytes;
}

/**
 * `procs` processes share a 2 GiB hugetlb mapping (PMD tables shared per GiB); the first mprotects
 * its first 2 MiB PROT_READ (hugetlb_split unshares that GiB for it) and reads every 2 MiB page of
 * the first GiB again. The table bytes that adds machine-wide.
 */
function hugetlbMprotectPrediction(procs: number, size: number, kernel: KernelConfig): number {
  const H = 2 * MiB;
  const m = new Machine({ design: designByName('hugetlb-pmd'), ptPages: 64 + 8 * procs, frames: size / 4096 + 64, kernel });
  const file = m.hugetlbfs_create('probe', size, '2M');
  const mms = [];
  for (let i = 0; i < procs; i++) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: PROBE_BASE, length: size, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED | MAP_FIXED, file });
    for (let a = PROBE_BASE; a < PROBE_BASE + size; a += H) m.touch(mm, a, true);
    mms.push(mm);
  }
  const before = machineAccounting(m).pageTableBytes;
  m.mprotect(mms[0]!, PROBE_BASE, H, PROT_READ);
  for (let a = PROBE_BASE; a < PROBE_BASE + Math.min(GiB, size); a += H) m.touch(mms[0]!, a, false);
  return machineAccounting(m).pageTableBytes - before;
}

export function defaultScenarios(): ValidateScenario[] {
  const out: ValidateScenario[] = [];
  for (const size of [256 * MiB, GiB]) {
    for (const procs of [1, 8, 32]) {
      out.push({
        name: `shmem ${size / MiB} MiB x${procs}`, kind: 'shmem', procs, size, offset: 0, hugepages: 0, model: 'private',
        predicted: () => sharedPrediction('shmem', procs, size, 0, 'private'),
      });
    }
  }
  out.push({
    name: 'shmem 1024 MiB x8 at +2 MiB', kind: 'shmem', procs: 8, size: GiB, offset: 2 * MiB, hugepages: 0, model: 'private',
    predicted: () => sharedPrediction('shmem', 8, GiB, 2 * MiB, 'private'),
  });
  out.push({ name: 'anon 1024 MiB, before fork', kind: 'anon-before-fork', procs: 1, size: GiB, offset: 0, hugepages: 0, model: 'private', predicted: (k) => anonPrediction(GiB, 'nothing', k) });
  out.push({ name: 'anon 1024 MiB, after fork', kind: 'anon-after-fork', procs: 2, size: GiB, offset: 0, hugepages: 0, model: 'private', predicted: (k) => anonPrediction(GiB, 'fork', k) });
  out.push({ name: 'anon 1024 MiB, fork: the child\'s VmPTE', kind: 'anon-fork-child', procs: 2, size: GiB, offset: 0, hugepages: 0, model: 'private', predicted: (k) => forkChildPrediction(GiB, false, k) });
  out.push({ name: 'shmem 1024 MiB, fork: the child\'s VmPTE', kind: 'shared-fork-child', procs: 2, size: GiB, offset: 0, hugepages: 0, model: 'private', predicted: (k) => forkChildPrediction(GiB, true, k) });
  out.push({ name: 'anon 1024 MiB, after MADV_DONTNEED', kind: 'anon-dontneed', procs: 1, size: GiB, offset: 0, hugepages: 0, model: 'private', predicted: (k) => anonPrediction(GiB, 'dontneed', k) });
  for (const offset of [0, 2 * MiB]) {
    out.push({
      name: `hugetlb 2 MiB pages, 2048 MiB x8${offset ? ' at +2 MiB' : ', 1 GiB-aligned'}`, kind: 'hugetlb', procs: 8, size: 2 * GiB, offset, hugepages: 1024, model: 'hugetlb-pmd',
      predicted: () => sharedPrediction('hugetlb', 8, 2 * GiB, offset, 'hugetlb-pmd'),
    });
  }
  out.push({
    name: 'hugetlb 2048 MiB x8, one mprotects 2 MiB and refaults', kind: 'hugetlb-mprotect', procs: 8, size: 2 * GiB, offset: 0, hugepages: 1024, model: 'hugetlb-pmd',
    predicted: (k) => hugetlbMprotectPrediction(8, 2 * GiB, k),
  });
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * PageTables once it has stopped moving: read every 25 ms until three reads in a row agree (at most
 * 4 s, then the median of the last five). Exited processes' tables are freed late (RCU-deferred table
 * freeing, the previous run's teardown), and other processes come and go; a reading taken while they
 * do would be charged to the scenario.
 */
export async function settledPageTables(): Promise<number> {
  const seen: number[] = [];
  let same = 0;
  for (let i = 0; i < 160; i++) {
    const v = pageTablesBytes();
    same = seen.length > 0 && seen[seen.length - 1] === v ? same + 1 : 1;
    seen.push(v);
    if (same >= 3) return v;
    await sleep(25);
  }
  return seen.slice(-5).sort((a, b) => a - b)[2]!;
}

export interface StageReadings {
  /** At each stage: the summed VmPTE of the probe's processes (PageTables machine-wide with `machineWide`). */
  idle: number;
  mapped: number;
  forked?: number;
  /** The forked child's VmPTE (bytes) at the forked stage. */
  childVmPTE?: number;
  dontneed?: number;
  mprotected?: number;
  touchNs: number;
  forkNs?: number;
}

/** The summed VmPTE of `pids`; a process that is gone is a probe failure, not a reading. */
export function vmPTESum(pids: readonly number[]): number {
  let n = 0;
  for (const pid of pids) {
    const v = vmPTEOf(pid);
    if (Number.isNaN(v)) throw new Error(`probe: process ${pid} is gone; cannot read its VmPTE`);
    n += v;
  }
  return n;
}

/**
 * Step one probe run through its stages, reading at each the summed VmPTE of its processes (the
 * forked child included once it exists), or with `machineWide` the settled PageTables.
 */
export async function measureRun(start: () => ProbeRun, withFork: boolean, withDontneed = false, withMprotect = false, machineWide = false): Promise<StageReadings> {
  if (machineWide) await settledPageTables(); // the previous run's tables are gone before this one starts
  const p = start();
  await p.expect('idle');
  const pids = [...p.pids];
  const read = () => (machineWide ? settledPageTables() : Promise.resolve(vmPTESum(pids)));
  const idle = await read();
  p.next();
  const m = await p.expect('mapped');
  const mapped = await read();
  const r: StageReadings = { idle, mapped, touchNs: m.touch_ns! };
  if (withFork) {
    p.next();
    const f = await p.expect('forked');
    if (f.child !== undefined) pids.push(f.child);
    r.forked = await read();
    r.forkNs = f.fork_ns!;
    if (f.child !== undefined) r.childVmPTE = vmPTEOf(f.child);
  }
  if (withDontneed) {
    p.next();
    await p.expect('dontneed');
    r.dontneed = await read();
  }
  if (withMprotect) {
    p.next();
    await p.expect('mprotected');
    r.mprotected = await read();
  }
  await p.close();
  return r;
}
