/**
 * TLB-flush accounting for every change to page tables, ready for the TLB model: which simulated CPUs
 * a flush must reach, how many entries, ranged or full (arch/x86/mm/tlb.c: above
 * tlb_single_page_flush_ceiling = 33 pages a full flush), and the IPIs that costs (every target CPU
 * but the one making the change). Targets are the mm's cpumask, every sharer's when a shared table
 * is edited in place, or every CPU for mshare's flush_tlb_all.
 */
import type { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';

export const TLB_SINGLE_PAGE_FLUSH_CEILING = 33;

export interface FlushRecord {
  kind: 'ranged' | 'full' | 'global';
  /** Target CPUs as a bitmask (bit i = CPU i). */
  cpus: number;
  /** Entries invalidated one by one (INVLPG), 0 for a full or global flush. */
  entries: number;
  ipis: number;
}

function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++;
  return n;
}

/** The CPU a change by `mm` is made on: the lowest CPU in its mask (0 for a mm that never ran). */
function initiator(mm: MmStruct): number {
  const mask = mm.cpumask >>> 0;
  return mask === 0 ? 0 : 31 - Math.clz32(mask & -mask);
}

/** flush_tlb_mm_range for a change of `pages` base pages made by `by`, reaching `targets`' CPUs. */
export function flush_tlb_range(m: Machine, by: MmStruct, targets: readonly MmStruct[], pages: number): FlushRecord | null {
  if (pages <= 0 || by.exiting) return null;
  let cpus = 0;
  for (const t of targets) cpus |= t.cpumask;
  const full = pages > TLB_SINGLE_PAGE_FLUSH_CEILING;
  return record(m, { kind: full ? 'full' : 'ranged', cpus, entries: full ? 0 : pages, ipis: popcount(cpus & ~(1 << initiator(by))) });
}

/** The flush a change to `vma`'s tables needs, with the design's targets (sharers, or every CPU). */
export function flush_vma_range(m: Machine, vma: import('../mm/vma.js').VmAreaStruct, pages: number): FlushRecord | null {
  if (pages <= 0 || vma.vm_mm.exiting) return null;
  const targets = m.design.flushTargets?.(m, vma) ?? [vma.vm_mm];
  if (targets === 'all') return flush_tlb_all(m, vma.vm_mm);
  return flush_tlb_range(m, vma.vm_mm, targets, pages);
}

/** flush_tlb_all: every CPU, every PCID. */
export function flush_tlb_all(m: Machine, by: MmStruct): FlushRecord {
  const cpus = m.cpus >= 32 ? -1 : (1 << m.cpus) - 1;
  return record(m, { kind: 'global', cpus, entries: 0, ipis: popcount(cpus & ~(1 << initiator(by))) });
}

function record(m: Machine, r: FlushRecord): FlushRecord {
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
