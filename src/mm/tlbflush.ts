/**
 * TLB-flush accounting for every change to page tables (arch/x86/mm/tlb.c): which simulated CPUs a
 * flush must reach, how many entries, ranged or full (above tlb_single_page_flush_ceiling = 33
 * pages a full flush), and the IPIs that costs (every target CPU but the one making the change).
 * Targets are the mm's cpumask, every sharer's when a shared table is edited in place, or every CPU
 * for mshare's flush_tlb_all.
 *
 * Each flush bumps the target mms' tlb_gen (inc_mm_tlb_gen) and, when a TLB model is attached
 * (Machine.tlbSink, src/tlb/mmu.ts), is delivered to it with the address range, so the simulated
 * TLBs and paging-structure caches lose exactly what the kernel's flush would remove.
 */
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import type { VmAreaStruct } from './vma.js';

export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

export interface FlushRecord {
  kind: 'ranged' | 'full' | 'global';
  /** Target CPUs as a bitmask (bit i = CPU i). */
  cpus: number;
  /** Entries invalidated one by one (INVLPG), 0 for a full or global flush. */
  entries: number;
  ipis: number;
}

/** Where flushes go when a TLB model is attached to the machine. */
export interface TlbShootdownSink {
  /**
   * flush_tlb_func for `mm` on every CPU in `mm.cpumask`: the translations of [start, end) (ranged)
   * or all of the mm's (full). `reached`: the CPUs the flush ran on (IPI'd, or the one making it); a
   * CPU there that no longer runs `mm` leaves mm_cpumask.
   */
  flushMm(mm: MmStruct, start: number, end: number, full: boolean, reached: number): void;
  /** flush_tlb_all: every CPU, every PCID. */
  flushAll(): void;
  /**
   * The CPUs a flush of `mm` sends IPIs to, by who is running what: the CPUs running it and not
   * lazy, or after freeing tables every CPU in mm_cpumask (lazy_mm_cpumask), or those running it or
   * lazily holding it (before).
   */
  ipiMask(mm: MmStruct, freedTables: boolean): number;
}

export function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
}

/** The CPU a change by `mm` is made on: the lowest CPU in its mask (0 for a mm that never ran). */
function initiator(mm: MmStruct): number {
  const mask = mm.cpumask >>> 0;
  return mask === 0 ? 0 : 31 - Math.clz32(mask & -mask);
}

/**
 * flush_tlb_mm_range for a change made by `by` to [start, end) of each target mm (the same range in
 * every target), `pages` flush strides long (base pages, or huge pages for a hugetlb range).
 */
export function flush_tlb_range(m: MachineState, by: MmStruct, targets: readonly MmStruct[], start: number, end: number, pages: number, freedTables = false): FlushRecord | null {
  if (pages <= 0 || by.exiting) return null;
  const { cpus, ipi, broadcast } = flush_cpus(m, targets, freedTables);
  const r = recordMmFlush(m, by, cpus, pages, ipi);
  if (broadcast) invlpgb(m);
  const full = r.kind === 'full';
  const reached = ipi | (1 << initiator(by));
  for (const t of targets) {
    t.tlb_gen++;
    m.tlbSink?.flushMm(t, start, end, full, reached);
  }
  return r;
}

/**
 * The flush a change to [start, end) of `vma`'s tables needs, with the design's targets: the VMAs
 * that reach the same tables (their own addresses for the same file pages), or every CPU.
 */
export function flush_vma_range(m: MachineState, vma: VmAreaStruct, start: number, end: number, pages: number, freedTables = false): FlushRecord | null {
  if (pages <= 0 || vma.vm_mm.exiting) return null;
  const targets = flush_targets(m, vma);
  if (targets === 'all') return flush_tlb_all(m, vma.vm_mm);
  return flush_targets_range(m, vma, targets, start, end, pages, freedTables);
}

/** Every simulated CPU, as a mask. */
function all_cpus(m: MachineState): number {
  return m.cpus >= 32 ? -1 : (1 << m.cpus) - 1;
}

/** INVLPGB flushes `mm`: it has a global ASID on a CPU and kernel that use them. */
function broadcasts(m: MachineState, mm: MmStruct): boolean {
  return m.tlbBroadcast && mm.globalAsid;
}

/**
 * native_flush_tlb_multi's targets for a flush of `mms`: the CPUs of their mm_cpumasks (`cpus`), the
 * ones of those it IPIs (`ipi`; with a TLB model attached by who runs what, TlbShootdownSink.ipiMask,
 * else every process runs on the CPUs of its mm_cpumask), and whether INVLPGB broadcasts for an mm
 * with a global ASID, which then needs neither.
 */
function flush_cpus(m: MachineState, mms: Iterable<MmStruct>, freedTables: boolean): { cpus: number; ipi: number; broadcast: boolean } {
  let cpus = 0;
  let ipi = 0;
  let broadcast = false;
  for (const mm of mms) {
    if (broadcasts(m, mm)) {
      broadcast = true;
      continue;
    }
    cpus |= mm.cpumask;
    ipi |= m.tlbSink === null ? mm.cpumask : m.tlbSink.ipiMask(mm, freedTables);
  }
  return { cpus, ipi: ipi & cpus, broadcast };
}

/** The VMAs a change to `vma`'s tables must be flushed in (the design's sharers), or every CPU. */
export function flush_targets(m: MachineState, vma: VmAreaStruct): readonly VmAreaStruct[] | 'all' {
  return m.design.flushTargets?.(m, vma) ?? [vma];
}

/**
 * The CPUs a flush of the target VMAs' mms must reach with IPIs: their mm_cpumasks, less the mms
 * with a global ASID where INVLPGB broadcasts instead.
 */
export function targets_cpus(m: MachineState, targets: readonly VmAreaStruct[]): number {
  let cpus = 0;
  for (const t of targets) if (!broadcasts(m, t.vm_mm)) cpus |= t.vm_mm.cpumask;
  return cpus;
}

/** flush_vma_range once its targets are known. */
export function flush_targets_range(m: MachineState, vma: VmAreaStruct, targets: readonly VmAreaStruct[], start: number, end: number, pages: number, freedTables = false): FlushRecord {
  const { cpus, ipi, broadcast } = flush_cpus(m, targets.map((t) => t.vm_mm), freedTables);
  const r = recordMmFlush(m, vma.vm_mm, cpus, pages, ipi);
  if (broadcast) invlpgb(m);
  const full = r.kind === 'full';
  const reached = ipi | (1 << initiator(vma.vm_mm));
  for (const t of targets) {
    t.vm_mm.tlb_gen++;
    if (m.tlbSink === null) continue;
    // The same file pages sit at another address in another sharer's VMA.
    const shift = t === vma ? 0 : t.vm_start - vma.vm_start + (vma.vm_pgoff - t.vm_pgoff) * 4096;
    m.tlbSink.flushMm(t.vm_mm, start + shift, end + shift, full, reached);
  }
  return r;
}

/** An INVLPGB broadcast: every CPU's TLB is reached, with no IPI (counted in invlpgbFlushes). */
function invlpgb(m: MachineState): void {
  m.events.invlpgbFlushes++;
  m.flushedCpus |= all_cpus(m);
}

/**
 * arch_tlbbatch_flush: the flush reclaim deferred (TTU_BATCH_FLUSH; arch_tlbbatch_add_pending
 * collected the CPUs of every mm it unmapped from) as one flush_tlb_multi to `cpus`, made on CPU
 * `self`: a full flush of each target CPU, one IPI per CPU but `self`.
 */
export function flush_tlb_batch(m: MachineState, self: number, cpus: number, mms: Iterable<MmStruct>): FlushRecord {
  // flush_tlb_multi with freed_tables 0: filtered as any flush is (should_flush_tlb / tlb_is_not_lazy).
  const ipi = cpus & flush_cpus(m, mms, false).ipi;
  const r = record(m, { kind: 'full', cpus, entries: 0, ipis: popcount(ipi & ~(1 << self)) });
  for (const t of mms) {
    t.tlb_gen++;
    m.tlbSink?.flushMm(t, 0, 0, true, ipi | (1 << self));
  }
  return r;
}

/** flush_tlb_all: every CPU, every PCID; with INVLPGB (invlpgb_flush_all) a hardware broadcast, no IPI. */
export function flush_tlb_all(m: MachineState, by: MmStruct): FlushRecord {
  const cpus = all_cpus(m);
  const r = record(m, { kind: 'global', cpus, entries: 0, ipis: m.tlbBroadcast ? 0 : popcount(cpus & ~(1 << initiator(by))) });
  if (m.tlbBroadcast) invlpgb(m);
  m.tlbSink?.flushAll();
  return r;
}

/**
 * A ranged flush of `pages` strides, or a full one above the ceiling, for the CPUs in `cpus`, made
 * by `by`, with IPIs to the CPUs in `ipi` but its own.
 */
function recordMmFlush(m: MachineState, by: MmStruct, cpus: number, pages: number, ipi: number): FlushRecord {
  const full = pages > TLB_SINGLE_PAGE_FLUSH_CEILING;
  return record(m, { kind: full ? 'full' : 'ranged', cpus, entries: full ? 0 : pages, ipis: popcount(ipi & ~(1 << initiator(by))) });
}

function record(m: MachineState, r: FlushRecord): FlushRecord {
  const e = m.events;
  e.tlbFlushes++;
  if (r.kind === 'ranged') e.tlbFlushRanged++;
  else if (r.kind === 'full') e.tlbFlushFull++;
  else e.flushTlbAll++;
  e.tlbFlushEntries += r.entries;
  e.tlbIpis += r.ipis;
  m.lastFlush = r;
  m.flushedCpus |= r.cpus;
  return r;
}

/**
 * tlb_remove_table_sync_one: an IPI to every other CPU, so that no GUP-fast walk (which runs with
 * interrupts off) still reads a table its last owner may now reuse. Counted in tlbIpis; not a flush.
 */
export function tlb_remove_table_sync_one(m: MachineState, by: MmStruct): void {
  m.events.gupFastSyncs++;
  m.events.tlbIpis += popcount(all_cpus(m) & ~(1 << initiator(by)));
}

/** tlb_gather_mmu: an operation that unmaps, unshares or frees tables begins. */
export function tlb_gather_begin(m: MachineState): void {
  m.gatherDepth++;
}

/**
 * tlb_finish_mmu for the operation begun by tlb_gather_begin: tlb_flush_unshared_tables() syncs
 * GUP-fast once if a hugetlb PMD table it unshared was left to one owner (hugetlb_unshare_sync).
 */
export function tlb_gather_end(m: MachineState, by: MmStruct): void {
  if (--m.gatherDepth > 0) return;
  if (m.gatherFullyUnshared) {
    m.gatherFullyUnshared = false;
    tlb_remove_table_sync_one(m, by);
  }
}
