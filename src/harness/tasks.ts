/**
 * The timed tasks of `ptbench bench`. Each timed call runs a whole batch of operations (thousands of
 * faults, or a fork of a 1 GiB process) so the timer's resolution is irrelevant; setup and teardown
 * inside a call are excluded with tinybench's overriddenDuration. Throughput is reported in
 * operations per second (batch size / call time), not calls per second.
 *
 * Each task also reports the deterministic counts of one call (tables allocated, PTEs copied, ...),
 * which are identical on every machine for the same seed.
 */
import { permutation } from '../lib/permutation.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE } from '../mm/mmap.js';
import { parseSize } from '../lib/size.js';
import { countScenario } from '../workload/pgtable_count.js';
import { DESIGNS } from '../share/index.js';
import { privateDesign } from '../share/private.js';
import { runSga, sgaScenario, teardownSga } from '../workload/sga.js';
import { cpuProfile } from '../tlb/cpu_profile.js';
import { Mmu } from '../tlb/mmu.js';
import { AccessStream } from '../workload/tlb/stream.js';
import { decodeTrace, TRACE_DEFAULTS, TraceReplay, type DecodedTrace } from '../workload/tlb/replay.js';
import { repoFile } from '../lib/repo_file.js';
import { pagemap_count_swapped } from '../mm/pagemap.js';
import type { ShmemSwapReport } from '../mm/machine_types.js';
import { buildReclaimWorkload, reclaimPages } from '../workload/reclaim.js';
import { CpuPool, cpuCountsToMeasure } from '../smp/cpu_pool.js';
import { hostSpeedup } from '../smp/host_control.js';
import { scenarioMachine } from '../workload/scenario.js';
import { smpRound, smpWorkload, type SmpRound } from '../workload/smp_run.js';
import { totalTables } from '../mm/accounting.js';
import { runSweep, SWEEP_DEFAULT_PROCS, SWEEP_DEFAULT_SIZES } from './sweep.js';
import { kernelConfig, type KernelConfig } from '../mm/kernel_profile.js';
import { controlTasks } from './controls.js';
import type { BenchTaskDef } from './types.js';

const BASE = 0x7f0000000000;
const RW = PROT_READ | PROT_WRITE;

/**
 * The timed loops live in their own small functions: a long loop inlined in the task's closure gets
 * on-stack-replaced every call and deoptimizes on the way out, which would measure the JIT, not the
 * simulator.
 */
export function faultSeq(m: Machine, mm: MmStruct, start: number, bytes: number, write: boolean): void {
  // An integer page counter, not `for (a = start; ...; a += 4096)`: TurboFan keeps such a loop's
  // 64-bit address in a tagged phi (the parameter `start` may be anything), boxing a new heap number
  // on every iteration: 16 bytes per fault and young-generation GCs inside the timed loop.
  const pages = bytes / 4096;
  for (let i = 0; i < pages; i++) m.fault(mm, start + i * 4096, write);
}

export function faultPerm(m: Machine, mm: MmStruct, start: number, perm: Int32Array, write: boolean): void {
  for (let i = 0; i < perm.length; i++) m.fault(mm, start + perm[i]! * 4096, write);
}

export function touchSeq(m: Machine, mm: MmStruct, start: number, bytes: number, write: boolean): void {
  const pages = bytes / 4096; // an integer counter, for the reason given at faultSeq
  for (let i = 0; i < pages; i++) m.touch(mm, start + i * 4096, write);
}

/** First-touch faults on a fresh mapping: every call maps `bytes`, faults each page once, tears down. */
function faultTask(design: PtShareDesign, name: string, what: string, kind: 'shmem' | 'anon', write: boolean, order: 'seq' | 'random', bytes: number, seed: number, kernel: KernelConfig): BenchTaskDef {
  const pages = bytes / 4096;
  let m: Machine;
  let perm: Int32Array;
  let counts: Record<string, number> = {};
  return {
    name, design: design.name, unit: 'faults', opsPerCall: pages, what,
    beforeAll() {
      m = new Machine({ ptPages: pages / 256 + 64, frames: pages + 64, design, kernel });
      perm = permutation(pages, seed);
    },
    call(now) {
      const t0 = now();
      const f = kind === 'shmem' ? m.memfd_create('bench', bytes) : null;
      const mm = m.mm_alloc();
      m.mmap(mm, { addr: BASE, length: bytes, prot: RW, flags: (f ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS) | MAP_FIXED, file: f });
      const allocs0 = m.pool.allocs;
      const ev0 = m.events.pgfault;
      const t1 = now();
      if (order === 'seq') faultSeq(m, mm, BASE, bytes, write);
      else faultPerm(m, mm, BASE, perm, write);
      const t2 = now();
      counts = { faults: m.events.pgfault - ev0, tablesAllocated: m.pool.allocs - allocs0 + 1, folios: m.folios.inUse };
      m.exit(mm);
      if (f) m.close(f);
      const t3 = now();
      return { measured: t2 - t1, total: t3 - t0 };
    },
    afterAll() {
      const leaks = m.leakCheck();
      if (leaks.length) throw new Error(`${name}: ${leaks.join('; ')}`);
    },
    counts: () => counts,
  };
}

/** fork of a process with `bytes` of touched private anonymous memory; the child exits untimed. */
function forkTask(design: PtShareDesign, bytes: number, kernel: KernelConfig): BenchTaskDef {
  const pages = bytes / 4096;
  let m: Machine;
  let parent: MmStruct;
  let counts: Record<string, number> = {};
  return {
    name: `fork/anon-${bytes >= 2 ** 30 ? `${bytes / 2 ** 30}GiB` : `${bytes / 2 ** 20}MiB`}`, design: design.name, unit: 'forks', opsPerCall: 1,
    what: `fork (dup_mmap + copy_page_range) of a process with ${bytes / 2 ** 30} GiB of touched private anonymous memory`,
    beforeAll() {
      m = new Machine({ ptPages: 2 * (pages / 512 + 8), frames: pages + 64, design, kernel });
      parent = m.mm_alloc();
      m.mmap(parent, { addr: BASE, length: bytes, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
      faultSeq(m, parent, BASE, bytes, true);
    },
    call(now) {
      const copied0 = m.events.forkPtesCopied;
      const allocs0 = m.pool.allocs;
      const flushes0 = m.events.tlbFlushes;
      const ipis0 = m.events.tlbIpis;
      const t0 = now();
      const child = m.fork(parent);
      const t1 = now();
      counts = {
        ptesCopied: m.events.forkPtesCopied - copied0, tablesAllocated: m.pool.allocs - allocs0,
        tlbFlushes: m.events.tlbFlushes - flushes0, tlbIpis: m.events.tlbIpis - ipis0,
      };
      m.exit(child);
      const t2 = now();
      return { measured: t1 - t0, total: t2 - t0 };
    },
    afterAll() {
      m.exit(parent);
      const leaks = m.leakCheck();
      if (leaks.length) throw new Error(`fork: ${leaks.join('; ')}`);
    },
    counts: () => counts,
  };
}

/** Read faults of a second process on a populated 64 MiB shmem file: minor faults with fault-around. */
function refaultTask(design: PtShareDesign, bytes: number, kernel: KernelConfig): BenchTaskDef {
  let m: Machine;
  let f: ReturnType<Machine['memfd_create']>;
  let owner: MmStruct;
  let counts: Record<string, number> = {};
  return {
    name: 'fault/shmem-read-faultaround', design: design.name, unit: 'pages mapped', opsPerCall: bytes / 4096,
    what: `read faults of a second process over ${bytes / 2 ** 20} MiB of shmem already in the page cache (fault-around maps 16 PTEs per fault)`,
    beforeAll() {
      m = new Machine({ ptPages: bytes / 2 ** 20 + 64, frames: bytes / 4096 + 64, design, kernel });
      f = m.memfd_create('bench', bytes);
      owner = m.mm_alloc();
      m.mmap(owner, { addr: BASE, length: bytes, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f });
      faultSeq(m, owner, BASE, bytes, true);
    },
    call(now) {
      const t0 = now();
      const mm = m.mm_alloc();
      m.mmap(mm, { addr: BASE, length: bytes, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f });
      const ev0 = m.events.pgfault;
      const t1 = now();
      touchSeq(m, mm, BASE, bytes, false);
      const t2 = now();
      counts = { faults: m.events.pgfault - ev0, ptesMapped: mm.rss[3]! };
      m.exit(mm);
      return { measured: t2 - t1, total: now() - t0 };
    },
    afterAll() {
      m.exit(owner);
      m.close(f);
      const leaks = m.leakCheck();
      if (leaks.length) throw new Error(`refault: ${leaks.join('; ')}`);
    },
    counts: () => counts,
  };
}

/**
 * The database workload through a design: 16 processes map 64 MiB of shmem the way the design maps
 * (MAP_SHARED_PT, an mshare region, cached file tables ...) and write every page; one call = all
 * 16 x 16,384 CPU accesses, faults included, timed; the machine is built and torn down outside it.
 */
function sgaTask(design: PtShareDesign, kernel: KernelConfig): BenchTaskDef {
  const procs = 16;
  const bytes = 64 * 2 ** 20;
  let counts: Record<string, number> = {};
  return {
    name: 'sga/touch-16x64MiB', design: design.name, unit: 'accesses', opsPerCall: procs * (bytes / 4096),
    what: `16 processes each write every 4 KiB page of a 64 MiB shmem region mapped the ${design.name} way (CPU accesses, faults included)`,
    beforeAll() { /* every call builds its own machine */ },
    call(now) {
      const t0 = now();
      const r = runSga({ design, procs, size: bytes, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, kernel });
      const t1 = now();
      counts = { faults: r.machine.events.pgfault, pageTableBytes: r.machineAcc.pageTableBytes, sharedTables: r.machineAcc.sharedTables };
      const leaks = teardownSga(r);
      if (leaks.length) throw new Error(`sga/${design.name}: ${leaks.join('; ')}`);
      return { measured: t1 - t0, total: now() - t0 };
    },
    afterAll() { /* nothing kept */ },
    counts: () => counts,
  };
}

/**
 * The counting engine on the mshare cover letter's scenario: 1,500 processes x 300 GB of shmem with
 * private tables (`ptbench mem --engine count --procs 1500 --size 300GB`), planned and counted.
 */
function countFigureTask(kernel: KernelConfig): BenchTaskDef {
  let pte = 0;
  return {
    name: 'count/1500x300GB', design: 'private', unit: 'scenarios', opsPerCall: 1,
    what: 'counting engine: page-table memory of 1,500 processes x 300 GB shmem (the mshare figure), validation and routing included',
    beforeAll() { /* nothing */ },
    call(now) {
      const t0 = now();
      const { scenario } = sgaScenario({ design: privateDesign, procs: 1500, size: 300e9, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, kernel });
      pte = countScenario(scenario).tables.pte;
      const t = now() - t0;
      return { measured: t, total: t };
    },
    afterAll() { /* nothing */ },
    counts: () => ({ pteTableBytes: pte * 4096 }),
  };
}

/** `ptbench sweep` with its default grid: 12 process counts (1-1,500) x 6 sizes (1 GiB-1 TiB) x 7 designs. */
function countSweepTask(): BenchTaskDef {
  const procs = SWEEP_DEFAULT_PROCS;
  const sizes = SWEEP_DEFAULT_SIZES.map((text) => ({ text, bytes: parseSize(text, '--sizes') }));
  let cells = 0;
  let bytes = 0;
  return {
    name: 'count/sweep-default', design: 'private', unit: 'cells', opsPerCall: procs.length * sizes.length * DESIGNS.length,
    what: 'counting engine: the default ptbench sweep, every design x 1-1,500 processes x 1 GiB-1 TiB (504 scenarios)',
    beforeAll() { /* nothing */ },
    call(now) {
      const t0 = now();
      const s = runSweep({ procs, sizes, designs: [...DESIGNS], kind: 'shmem', page: '4k', levels: 4 });
      const t = now() - t0;
      cells = s.memory.length;
      bytes = s.memory.reduce((n, m) => n + m.pageTableBytes, 0);
      return { measured: t, total: t };
    },
    afterAll() { /* nothing */ },
    counts: () => ({ cells, pageTableBytesSum: bytes }),
  };
}

/**
 * Reclaim through rmap (simulated pages reclaimed per second): 16 processes map 8 MiB of shmem the
 * design's way and write it; one call reclaims all 2,048 pages (try_to_unmap over i_mmap, entries
 * cleared, flushes, swap-out). Building the workload and tearing it down are excluded.
 */
function reclaimTask(design: PtShareDesign, kernel: KernelConfig): BenchTaskDef {
  const procs = 16;
  const bytes = 8 * 2 ** 20;
  const pages = bytes / 4096;
  let counts: Record<string, number> = {};
  return {
    name: 'reclaim/16x8MiB', design: design.name, unit: 'pages reclaimed', opsPerCall: pages,
    what: `reclaim of every page of 8 MiB of shmem mapped by 16 processes the ${design.name} way (rmap walk, entries cleared, TLB flushes, swap-out)`,
    beforeAll() { /* every call builds its own machine */ },
    call(now) {
      const t0 = now();
      const r = buildReclaimWorkload({ design, procs, size: bytes, pages, kernel });
      const t1 = now();
      const rr = reclaimPages(r, pages);
      const t2 = now();
      counts = { entriesCleared: rr.entriesCleared, tablesVisited: rr.tablesVisited, vmasVisited: rr.vmasVisited, flushes: rr.flushes };
      const leaks = teardownSga(r);
      if (leaks.length) throw new Error(`reclaim/${design.name}: ${leaks.join('; ')}`);
      return { measured: t2 - t1, total: now() - t0 };
    },
    afterAll() { /* nothing kept */ },
    counts: () => counts,
  };
}

/**
 * /proc/pid/pagemap reads (simulated entries per second): 16 processes map 64 MiB of shmem the
 * design's way and write it, every other page is then reclaimed; one call reads process 0's 16,384
 * entries under the given variant for swapped shmem ('none' = today's kernel, 'pagecache-lookup' =
 * one XArray lookup per empty entry, 'pte-marker' = markers left by reclaim).
 */
function pagemapTask(design: PtShareDesign, variant: ShmemSwapReport, kernel: KernelConfig): BenchTaskDef {
  const procs = 16;
  const bytes = 64 * 2 ** 20;
  const pages = bytes / 4096;
  const buf = new Uint32Array(2 * pages);
  let r: ReturnType<typeof buildReclaimWorkload> | null = null;
  let counts: Record<string, number> = {};
  return {
    name: `pagemap/${variant}`, design: design.name, unit: 'entries', opsPerCall: pages,
    what: `pagemap read of 64 MiB of shmem (half of it swapped out) in one of 16 processes mapping it the ${design.name} way, variant ${variant}`,
    beforeAll() {
      r = buildReclaimWorkload({ design, procs, size: bytes, pages: 1, shmemSwapReport: variant, kernel });
      const m = r.machine;
      const file = m.files.find((f) => f !== undefined && f.kind === 'shmem')!;
      for (let p = 0; p < pages; p += 2) m.reclaim_shmem_page(file, p);
      const l0 = m.events.pagemapLookups;
      m.pagemap_range(r.mms[0]!, r.addr, r.addr + bytes, buf);
      counts = { entries: pages, reportedSwapped: pagemap_count_swapped(buf, pages), lookups: m.events.pagemapLookups - l0 };
    },
    call(now) {
      const t0 = now();
      r!.machine.pagemap_range(r!.mms[0]!, r!.addr, r!.addr + bytes, buf);
      const t = now() - t0;
      return { measured: t, total: t };
    },
    afterAll() {
      const leaks = teardownSga(r!);
      if (leaks.length) throw new Error(`pagemap/${variant}/${design.name}: ${leaks.join('; ')}`);
    },
    counts: () => counts,
  };
}

/**
 * The per-process-state tasks (suite `state`): reclaim for every design, pagemap under every variant
 * for private tables and under today's kernel for every design. The default suite runs the subset
 * that answers the threads' questions: reclaim with private vs one shared table (ptshare), and the
 * three pagemap variants.
 */
export function inDefaultSuite(t: BenchTaskDef): boolean {
  if (t.name.startsWith('scaling/')) return (t.design === 'private' || t.design === 'ptshare') && /^scaling\/[12]cpu$/.test(t.name);
  if (t.name.startsWith('reclaim/')) return t.design === 'private' || t.design === 'ptshare';
  if (t.name.startsWith('pagemap/')) return t.design === 'private';
  return true;
}

export function stateTasks(designs: readonly PtShareDesign[], all: boolean, kernel: KernelConfig): BenchTaskDef[] {
  const out: BenchTaskDef[] = [];
  const pick = (d: PtShareDesign) => all || d.name === 'private' || d.name === 'ptshare';
  for (const d of designs) if (pick(d)) out.push(reclaimTask(d, kernel));
  for (const d of designs.filter((x) => x.name === 'private')) {
    for (const v of ['none', 'pagecache-lookup', 'pte-marker'] as const) out.push(pagemapTask(d, v, kernel));
  }
  if (all) for (const d of designs) if (d.name !== 'private') out.push(pagemapTask(d, 'none', kernel));
  return out;
}

/**
 * The generic fault and fork tasks do not depend on the sharing design (they use private mappings
 * or plain MAP_SHARED), so they run once, under `private`; every design gets the sga task, which
 * goes through its sharing path.
 */
export function timedTasks(designs: readonly PtShareDesign[], seed: number, quick: boolean, kernel: KernelConfig = kernelConfig()): BenchTaskDef[] {
  const MiB = 2 ** 20;
  const faultBytes = 64 * MiB;
  const out: BenchTaskDef[] = [];
  for (const d of designs.filter((x) => x.name === 'private')) {
    // Each control runs right before the tasks it bounds (src/harness/controls.ts).
    const [walk, copy, lookup, faultBare, tlbBare, forkBare] = controlTasks(quick);
    out.push(walk!, faultBare!);
    out.push(faultTask(d, 'fault/shmem-write-seq', 'sequential first-touch 4 KiB write faults on MAP_SHARED shmem (page-cache allocation, rmap, RSS, tables)', 'shmem', true, 'seq', faultBytes, seed, kernel));
    out.push(faultTask(d, 'fault/anon-write-seq', 'sequential first-touch 4 KiB write faults on private anonymous memory', 'anon', true, 'seq', faultBytes, seed, kernel));
    out.push(faultTask(d, 'fault/shmem-write-random', `first-touch 4 KiB write faults on MAP_SHARED shmem in a random order (seed ${seed})`, 'shmem', true, 'random', faultBytes, seed, kernel));
    if (!quick) out.push(refaultTask(d, faultBytes, kernel));
    out.push(copy!, forkBare!, forkTask(d, quick ? 256 * MiB : 2 ** 30, kernel));
    out.push(countFigureTask(kernel), countSweepTask());
    out.push(lookup!, tlbBare!, ...tlbTasks(kernel));
  }
  for (const d of designs) out.push(sgaTask(d, kernel));
  out.push(...stateTasks(designs, true, kernel));
  out.push(...scalingTasks(designs, seed, quick, kernel));
  return out;
}

/** The database workload on N simulated CPUs: 8 processes, each first-touching (writing) the whole region in its own random order. */
export const SCALING_PROCS = 8;

/** The region of the scaling workload for a design: 64 MiB of 4 KiB shmem, or 8 GiB of 2 MiB hugetlb pages for hugetlb-pmd. */
export function scalingRegion(design: PtShareDesign, quick: boolean): { kind: 'shmem' | 'hugetlb'; page: '4k' | '2m'; size: number } {
  return design.name === 'hugetlb-pmd' ? { kind: 'hugetlb', page: '2m', size: (quick ? 2 : 8) * 2 ** 30 } : { kind: 'shmem', page: '4k', size: (quick ? 16 : 64) * 2 ** 20 };
}

/**
 * Suite `scaling`: for each design and each CPU count worth measuring here (1, 2, ... cores), one
 * call maps the workload, runs its accesses on the simulated CPUs (piscina workers, each taking the next
 * process from a run queue when it finishes one) — the timed part — and tears it down. The pool is
 * started and warmed before timing, and its CPUs attach to the machine's buffers once; the machine is
 * reused by every call. With more than one CPU, each call first runs the same workload on a 1-CPU pool
 * of its own (not timed) for the paired speedup (SmpFigures.pairedSpeedups), and after it the host
 * control on both pools (SmpFigures.hostSpeedups).
 */
export function scalingTasks(designs: readonly PtShareDesign[], seed: number, quick: boolean, kernel: KernelConfig): BenchTaskDef[] {
  const out: BenchTaskDef[] = [];
  for (const d of designs) {
    for (const cpus of cpuCountsToMeasure()) {
      const region = scalingRegion(d, quick);
      const accesses = SCALING_PROCS * (region.size / (region.page === '2m' ? 2 ** 21 : 4096));
      let w: ReturnType<typeof smpWorkload> | null = null;
      let pool: CpuPool | null = null;
      let m: Machine | null = null;
      let ref: { pool: CpuPool; m: Machine } | null = null;
      let last: SmpRound | null = null;
      let paired: number[] = [];
      let host: number[] = [];
      const round = async (p: CpuPool, on: Machine): Promise<SmpRound> => {
        const r = await smpRound(p, on, w!);
        if (r.problems.length > 0) throw new Error(`scaling/${cpus}cpu [${d.name}]: ${r.problems[0]}`);
        return r;
      };
      out.push({
        name: `scaling/${cpus}cpu`, design: d.name, unit: 'accesses', opsPerCall: accesses,
        what: `the database workload on ${cpus} simulated CPU${cpus > 1 ? 's' : ''} (worker threads): ${SCALING_PROCS} processes first-touch (write) ${region.size / 2 ** 20} MiB of ${region.kind} (${region.page} pages), each in its own random order (seed ${seed}), each CPU taking the next process from a run queue${cpus > 1 ? '; each call paired with a 1-CPU round just before it' : ''}`,
        async beforeAll() {
          w = smpWorkload({ design: d, procs: SCALING_PROCS, ...region, write: true, order: 'random', seed, kernel });
          pool = await CpuPool.start(cpus);
          m = scenarioMachine(w.scenario, w.capacity);
          if (cpus > 1) ref = { pool: await CpuPool.start(1), m: scenarioMachine(w.scenario, w.capacity) };
          paired = [];
          host = [];
        },
        async call(now) {
          const t0 = now();
          const one = ref === null ? null : await round(ref.pool, ref.m);
          last = await round(pool!, m!);
          if (one !== null) {
            paired.push(one.run.parallelMs / last.run.parallelMs);
            host.push(hostSpeedup(cpus, await ref!.pool.hostControl(), await pool!.hostControl()));
          }
          // The simulated CPUs' running time (first start after the barrier to last finish); the
          // harness's dispatch and result messages are reported apart (smp().harnessMs).
          return { measured: last.run.parallelMs, total: now() - t0 };
        },
        async afterAll() {
          await pool?.close();
          await ref?.pool.close();
          const leaks = [...(m?.leakCheck() ?? []), ...(ref?.m.leakCheck() ?? [])];
          ref = null;
          if (leaks.length) throw new Error(`scaling/${cpus}cpu [${d.name}]: ${leaks.join('; ')}`);
        },
        // Deterministic for any interleaving (tables too, except hugetlb-pmd's racing shares: see smp()).
        counts: () => ({ accesses, processes: SCALING_PROCS, cpus, ...(d.name === 'hugetlb-pmd' ? {} : { tablePages: last ? totalTables(last.acc.tables) : 0 }) }),
        smp: () => ({
          cpus, faults: last?.faults ?? 0, tablePages: last ? totalTables(last.acc.tables) : 0, locks: last?.locks ?? {}, harnessMs: last ? last.run.wallMs - last.run.parallelMs : 0,
          ...(cpus > 1 ? { pairedSpeedups: paired, hostSpeedups: host } : {}),
        }),
      });
    }
  }
  return out;
}

/** The real-program trace shipped as a test fixture (recorded by test/fixtures/lackey/record-sqlite.sh). */
const SQLITE_TRACE = 'test/fixtures/lackey/sqlite.trace.gz';

/**
 * A recorded program under the TLB model (simulated accesses per second): each call replays the
 * whole trace on a fresh machine (built and torn down outside the timed part), so every call does
 * the same work, first-touch faults included; the trace is decoded from its file before timing.
 */
function traceTask(name: string, what: string, path: string, procs: number, cpus: number, kernel: KernelConfig): BenchTaskDef {
  const quantum = TRACE_DEFAULTS.quantum;
  let t: DecodedTrace | null = null;
  let counts: Record<string, number> = {};
  const def: BenchTaskDef = {
    // opsPerCall: every copy replays every translation; known once the trace is decoded.
    name, design: 'private', unit: 'accesses', opsPerCall: NaN, what,
    async beforeAll() {
      t = await decodeTrace(repoFile(path), quantum);
      def.opsPerCall = procs * t.counts.translations;
    },
    call(now) {
      const t0 = now();
      const r = new TraceReplay({ profile: cpuProfile('golden-cove'), procs, cpus, kernel });
      const t1 = now();
      r.replay(t!, quantum);
      const t2 = now();
      const k = r.mmu.counts();
      counts = { accesses: k.accesses, l1Misses: k.l1Misses, stlbMisses: k.stlbMisses, walks: k.walks, walkRefs: k.walkRefs, refsLlcMiss: k.refsLlcMiss, faults: k.faults,
        windowsMapped: r.windowsMapped };
      const leaks = r.close();
      if (leaks.length) throw new Error(`${name}: ${leaks.join('; ')}`);
      return { measured: t2 - t1, total: now() - t0 };
    },
    afterAll() { /* nothing kept */ },
    counts: () => counts,
  };
  return def;
}

/**
 * The TLB model's throughput (simulated accesses per second, one thread): the full L1 + STLB +
 * paging-structure-cache + LLC model over addresses generated before timing (stream generation is
 * not timed). Three access patterns: sequential 64-byte lines (mostly L1 hits), the database
 * workload's Zipf mix, and uniform random lines (nearly every access walks).
 */
export function tlbTasks(kernel: KernelConfig = kernelConfig()): BenchTaskDef[] {
  const G = 2 ** 30;
  const mk = (name: string, what: string, stream: 'seq' | 'zipf' | 'uniform', procs: number, size: number, perProc: number): BenchTaskDef => {
    let r: ReturnType<typeof runSga> | null = null;
    let mmu: Mmu | null = null;
    let bufs: Float64Array[] = [];
    const writes = new Uint8Array(perProc);
    let first: Record<string, number> = {};
    const cpus = Math.min(procs, 4);
    const pass = () => {
      for (let i = 0; i < procs; i++) {
        mmu!.switchTo(i % cpus, r!.mms[i]!);
        mmu!.run(i % cpus, bufs[i]!, writes, perProc);
      }
    };
    return {
      name, design: 'private', unit: 'accesses', opsPerCall: procs * perProc, what,
      beforeAll() {
        r = runSga({ design: privateDesign, procs, size, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, cpus, kernel });
        mmu = new Mmu(r.machine, { profile: cpuProfile('golden-cove'), cpus }).attach();
        bufs = r.mms.map((_, i) => {
          const b = new Float64Array(perProc);
          new AccessStream({ kind: stream, base: r!.addr, length: r!.mapped, seed: 1 + i }).fill(b, writes, perProc);
          return b;
        });
        pass(); // the first (cold) call's counts are the deterministic ones
        const k = mmu.counts();
        first = { accesses: k.accesses, l1Misses: k.l1Misses, stlbMisses: k.stlbMisses, walkRefs: k.walkRefs, refsLlcMiss: k.refsLlcMiss };
      },
      call(now) {
        const t0 = now();
        pass();
        const t = now() - t0;
        return { measured: t, total: t };
      },
      afterAll() {
        mmu!.detach();
        teardownSga(r!);
      },
      counts: () => first,
    };
  };
  return [
    traceTask('tlb/trace-sqlite', 'TLB model: a real program, sqlite3 (table, index, range scan, 40 indexed lookups) recorded by valgrind lackey, replayed as 4 processes on 2 CPUs (golden-cove); trace decoded before timing, first-touch faults included', SQLITE_TRACE, 4, 2, kernel),
    mk('tlb/seq-1GiB', 'TLB model: sequential 64-byte lines over 1 GiB of 4 KiB shmem pages, 1 process (golden-cove)', 'seq', 1, G, 1 << 20),
    mk('tlb/zipf-db', 'TLB model: the database workload, 16 processes x Zipf(0.99) over 1 GiB shared shmem on 4 CPUs (golden-cove)', 'zipf', 16, G, 1 << 16),
    mk('tlb/uniform-1GiB', 'TLB model: uniform random lines over 1 GiB of 4 KiB shmem pages, 1 process (nearly every access walks)', 'uniform', 1, G, 1 << 18),
  ];
}
