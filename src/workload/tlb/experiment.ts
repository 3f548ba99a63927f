/**
 * TLB experiments on the page-table machine: the database workload (N processes over one shared
 * region, each with its own seeded access stream, scheduled on simulated CPUs) under any sharing
 * design, with shootdown probes for an mprotect and for reclaim of one shared page; and replay of a
 * valgrind lackey trace. Every figure the result carries is simulated (counts, and cycles derived
 * from the CPU profile's latencies) except `wallSeconds` / `accessesPerSecond`, which measure the
 * simulator itself.
 */
import { KernelError } from '../../mm/errno.js';
import type { Machine } from '../../mm/machine.js';
import { PROT_READ, PROT_WRITE } from '../../mm/mmap.js';
import type { PtShareDesign } from '../../mm/pt_share.js';
import { runSga, teardownSga, type PageSize } from '../sga.js';
import type { CpuProfile } from '../../tlb/cpu_profile.js';
import { popcount } from '../../mm/tlbflush.js';
import { readLackeyTrace, type TraceCounts } from './lackey.js';
import { Mmu, type MmuCounts } from '../../tlb/mmu.js';
import { TraceReplay, type ReplayMachineOptions } from './replay.js';
import { runSchedule, type Task } from './schedule.js';
import { AccessStream, PageScatter, type StreamKind } from './stream.js';
import { UsageError } from '../../lib/errors.js';
import type { KernelConfig } from '../../mm/kernel_profile.js';

export interface TlbCommon {
  profile: CpuProfile;
  cpus: number;
  /** Accesses per time slice. */
  quantum: number;
  llcPtBytes?: number;
  pcid?: boolean;
  /** The kernel simulated (default kernelConfig()). */
  kernel?: KernelConfig;
}

export interface TlbDbOptions extends TlbCommon {
  design: PtShareDesign;
  procs: number;
  /** Region bytes (rounded up to the page size). */
  size: number;
  page: Extract<PageSize, '4k' | '2m'>;
  stream: StreamKind;
  stride?: number;
  zipfS?: number;
  writeFraction?: number;
  seed: number;
  /** Measured accesses per task, after `warmup` unmeasured ones. */
  accesses: number;
  warmup: number;
  /** Run the mprotect and reclaim shootdown probes after the measured phase. */
  probes: boolean;
  levels?: 4 | 5;
}

/** Rates per 1,000 accesses. */
export interface PerKilo {
  l1Misses: number;
  stlbMisses: number;
  walkRefs: number;
  walkRefsDram: number;
}

export interface ShootdownProbe {
  /** What was done, e.g. "mprotect(PROT_READ) of 64 KiB in process 0". */
  action: string;
  /** Set when the design refuses the change. */
  refused?: string;
  flushes: number;
  kind: string;
  /** CPUs the flushes targeted, and IPIs sent (targets other than the changing CPU). */
  cpusTargeted: number;
  ipis: number;
  /** Leaf entries the change cleared (reclaim only) and VMAs the rmap walk visited. */
  entriesCleared?: number;
  vmasVisited?: number;
  /**
   * TLB entries the flushes removed (at once on CPUs running the mm; at the next switch on CPUs that
   * deferred it, within the slice afterwards), and the CPUs that deferred.
   */
  tlbEntriesInvalidated: number;
  deferredCpus: number;
  /** In one time slice per task afterwards: walks for translations a flush had removed, and all walks. */
  walksAfterShootdown: number;
  walksAfter: number;
}

export interface TlbDbResult {
  design: string;
  page: string;
  counts: MmuCounts;
  perKilo: PerKilo;
  /** Derived from the profile's latencies; simulated cycles per access spent translating. */
  cyclesPerAccess: number;
  /** Page-table pages of the machine (simulated, exact). */
  tablePages: number;
  /** Page-table lines held in the LLC share at the end of the measured phase. */
  llcLinesUsed: number;
  probes?: { mprotect: ShootdownProbe; reclaim: ShootdownProbe };
  /** Measured: wall time of the measured phase and simulated accesses per second. */
  wallSeconds: number;
  accessesPerSecond: number;
}

function perKilo(k: MmuCounts): PerKilo {
  const a = k.accesses || 1;
  return { l1Misses: (k.l1Misses / a) * 1000, stlbMisses: (k.stlbMisses / a) * 1000, walkRefs: (k.walkRefs / a) * 1000, walkRefsDram: (k.refsLlcMiss / a) * 1000 };
}

function diff(a: MmuCounts, b: MmuCounts): MmuCounts {
  const out = { ...a };
  for (const k of Object.keys(a) as (keyof MmuCounts)[]) out[k] = a[k] - b[k];
  return out;
}

/** The database workload under the TLB model. */
export function runTlbDb(o: TlbDbOptions): TlbDbResult {
  if (!Number.isInteger(o.cpus) || o.cpus < 1 || o.cpus > 31) throw new UsageError(`--cpus: must be 1..31 simulated CPUs, got ${o.cpus}`);
  if (!Number.isInteger(o.accesses) || o.accesses < 1) throw new UsageError(`--accesses: must be a whole number >= 1, got ${o.accesses}`);
  const kind = o.page === '4k' ? 'shmem' : 'hugetlb';
  const r = runSga({ design: o.design, procs: o.procs, size: o.size, kind, page: o.page, offset: 0, touch: 'all', write: true, levels: o.levels ?? 4, cpus: o.cpus, kernel: o.kernel });
  const m = r.machine;
  const mmu = new Mmu(m, { profile: o.profile, cpus: o.cpus, llcPtBytes: o.llcPtBytes, pcid: o.pcid }).attach();
  try {
    const tasks: Task[] = [];
    for (let i = 0; i < o.procs; i++) {
      const mm = o.design.mmPerProcess ? r.mms[i]! : r.mms[0]!;
      const source = new AccessStream({ kind: o.stream, base: r.addr, length: r.mapped, stride: o.stride, zipfS: o.zipfS, writeFraction: o.writeFraction ?? 0, seed: o.seed + i });
      tasks.push({ mm, source });
    }
    if (o.warmup > 0) runSchedule(mmu, tasks, { quantum: o.quantum, accessesPerTask: o.warmup });
    mmu.resetCounts();
    const t0 = performance.now();
    runSchedule(mmu, tasks, { quantum: o.quantum, accessesPerTask: o.accesses });
    const wall = (performance.now() - t0) / 1000;
    const counts = mmu.counts();
    const res: TlbDbResult = {
      design: o.design.name, page: o.page, counts, perKilo: perKilo(counts),
      cyclesPerAccess: mmu.cycles(counts) / (counts.accesses || 1),
      tablePages: m.pool.inUse,
      llcLinesUsed: mmu.llc.live,
      wallSeconds: wall, accessesPerSecond: counts.accesses / wall,
    };
    if (o.probes) {
      const pages = r.mapped / 4096;
      const hot = new PageScatter(pages).map(0);
      const hotAddr = r.addr + hot * 4096;
      const mm0 = tasks[0]!.mm;
      const afterRound = () => runSchedule(mmu, tasks, { quantum: o.quantum, accessesPerTask: o.quantum });
      // mprotect: 16 pages (one huge page with 2 MiB pages) around the hottest page, in process 0.
      const len = o.page === '4k' ? 16 * 4096 : 2 ** 21;
      const start = Math.floor(hotAddr / len) * len;
      const mprotect = probe(m, mmu, `mprotect(PROT_READ) of ${len / 1024} KiB in process 0`, () => m.mprotect(mm0, start, len, PROT_READ), afterRound);
      if (mprotect.refused === undefined) m.mprotect(mm0, start, len, PROT_READ | PROT_WRITE);
      afterRound(); // settle again before the next probe
      const file = m.files.find((f) => f !== undefined && f.kind === 'shmem');
      const reclaim = o.page !== '4k' || file === undefined
        ? { ...emptyProbe('reclaim of the hottest shared page'), refused: 'hugetlb folios are never reclaimed (not on the LRU)' }
        : probe(m, mmu, 'reclaim of the hottest shared page', () => {
          const rr = m.reclaim_shmem_page(file, hot);
          return { entriesCleared: rr.entriesCleared, vmasVisited: rr.vmasVisited };
        }, afterRound);
      res.probes = { mprotect, reclaim };
    }
    return res;
  } finally {
    mmu.detach();
    const leaks = teardownSga(r);
    // A leak is a model bug worth more than the error in flight (there is none when the run succeeded).
    // eslint-disable-next-line no-unsafe-finally
    if (leaks.length > 0) throw new Error(`BUG: TLB run left ${leaks.join('; ')}`);
  }
}

function emptyProbe(action: string): ShootdownProbe {
  return { action, flushes: 0, kind: 'none', cpusTargeted: 0, ipis: 0, tlbEntriesInvalidated: 0, deferredCpus: 0, walksAfterShootdown: 0, walksAfter: 0 };
}

function probe(m: Machine, mmu: Mmu, action: string, change: () => { entriesCleared: number; vmasVisited: number } | void, after: () => void): ShootdownProbe {
  const ev0 = m.events.snapshot();
  const k0 = mmu.counts();
  m.flushedCpus = 0;
  let extra: { entriesCleared: number; vmasVisited: number } | void;
  try {
    extra = change();
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    return { ...emptyProbe(action), refused: e.message.replace(/^[A-Z]+: \w+: /, '') };
  }
  const ev = m.events;
  const k1 = mmu.counts();
  const kinds = [ev.tlbFlushRanged - ev0.tlbFlushRanged! > 0 ? 'ranged' : '', ev.tlbFlushFull - ev0.tlbFlushFull! > 0 ? 'full' : '', ev.flushTlbAll - ev0.flushTlbAll! > 0 ? 'global' : ''].filter(Boolean);
  const p: ShootdownProbe = {
    action,
    flushes: ev.tlbFlushes - ev0.tlbFlushes!,
    // INVLPGB (zen4 on kernels with it): the flush was broadcast in hardware, without IPIs.
    kind: kinds.length === 0 ? 'none' : `${kinds.join('+')}${ev.invlpgbFlushes - ev0.invlpgbFlushes! > 0 ? ' (INVLPGB)' : ''}`,
    cpusTargeted: popcount(m.flushedCpus),
    ipis: ev.tlbIpis - ev0.tlbIpis!,
    tlbEntriesInvalidated: 0,
    deferredCpus: k1.shootdownsDeferred - k0.shootdownsDeferred,
    walksAfterShootdown: 0,
    walksAfter: 0,
  };
  if (extra) Object.assign(p, extra);
  after();
  const k2 = diff(mmu.counts(), k1);
  p.walksAfterShootdown = k2.walksAfterShootdown;
  // Entries removed by the flushes now, and by the deferred ones when their CPUs switch back.
  p.tlbEntriesInvalidated = k1.entriesInvalidated - k0.entriesInvalidated + k2.entriesInvalidated;
  p.walksAfter = k2.walks;
  return p;
}

export interface TraceReplayOptions extends TlbCommon, Pick<ReplayMachineOptions, 'procs' | 'ptPages' | 'frames'> {
  path: string;
}

export interface TraceReplayResult {
  trace: TraceCounts;
  counts: MmuCounts;
  perKilo: PerKilo;
  cyclesPerAccess: number;
  /** 2 MiB windows of private anonymous memory mapped on first touch (the trace carries no mappings). */
  windowsMapped: number;
  tablePages: number;
  wallSeconds: number;
  accessesPerSecond: number;
}

/** Replay a lackey trace on `procs` processes under the TLB model, reading it as a stream. */
export async function replayTrace(o: TraceReplayOptions): Promise<TraceReplayResult> {
  if (!Number.isInteger(o.procs) || o.procs < 1) throw new UsageError(`--procs: must be a whole number >= 1, got ${o.procs}`);
  if (!Number.isInteger(o.quantum) || o.quantum < 2) throw new UsageError(`--quantum: must be a whole number of accesses >= 2, got ${o.quantum}`);
  const r = new TraceReplay(o);
  const t0 = performance.now();
  let done = false;
  try {
    const trace = await readLackeyTrace(o.path, o.quantum, (addrs, writes, n) => r.slice(addrs, writes, n));
    const wall = (performance.now() - t0) / 1000;
    const counts = r.mmu.counts();
    done = true;
    return {
      trace, counts, perKilo: perKilo(counts), cyclesPerAccess: r.mmu.cycles(counts) / (counts.accesses || 1),
      windowsMapped: r.windowsMapped, tablePages: r.m.pool.inUse, wallSeconds: wall, accessesPerSecond: counts.accesses / wall,
    };
  } finally {
    const leaks = r.close();
    // A leak is a model bug worth more than the error in flight (there is none when the run succeeded).
    // eslint-disable-next-line no-unsafe-finally
    if (done && leaks.length > 0) throw new Error(`BUG: trace replay left ${leaks.join('; ')}`);
  }
}
