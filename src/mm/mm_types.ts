/**
 * struct mm_struct: the VMAs (kept sorted by address; the kernel uses a maple tree), the root table
 * (pgd), the RSS counters (MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES), hugetlb_usage,
 * and the per-level table counts behind mm_pgtables_bytes (VmPTE).
 */
import type { VmAreaStruct } from './vma.js';

export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SWAPENTS = 2;
export const MM_SHMEMPAGES = 3;
export const NR_MM_COUNTERS = 4;

/** mm->flags bit: some page of this mm was pinned (MMF_HAS_PINNED). */
export const MMF_HAS_PINNED = 1 << 0;

export class MmStruct {
  readonly id: number;
  /** Root table (pgd) number in the pool. */
  pgd: number;
  /** VMAs sorted by vm_start, non-overlapping. */
  vmas: VmAreaStruct[] = [];
  /** Last VMA found, the per-mm lookup cache (like the kernel's former vmacache). */
  mmap_cache: VmAreaStruct | null = null;
  /**
   * The last fault's walk, as a walk cache: the 2 MiB-aligned base it covered (-1: none), the word
   * offset of its PMD entry, and the pool's walk generation then (PgtablePool.walkGen). While the
   * generation has not moved, no table on that path was freed or unlinked, so a fault in the same
   * 2 MiB reads the PMD entry at pmd_cache_off directly. The kernel walks every time; the result is
   * the same entry, reached without re-reading the PGD, P4D and PUD entries.
   */
  pmd_cache_base = -1;
  pmd_cache_off = 0;
  pmd_cache_gen = -1;
  /** rss_stat counters in pages. */
  readonly rss = [0, 0, 0, 0];
  /** Tables reachable from this mm's pgd, by level 0..4 (shared tables counted in every sharer, like VmPTE). */
  readonly nr = [0, 0, 0, 0, 0];
  /**
   * Of those, the tables linked from another mm (a host's, or a hugetlb sharer's), by level. A design
   * whose links the kernel leaves out of mm_pgtables_bytes (PtShareDesign.linksInVmPTE false) has
   * VmPTE count nr minus these.
   */
  readonly linked = [0, 0, 0, 0, 0];
  /** hugetlb_usage: 4 KiB pages mapped through hugetlb. */
  hugetlb_usage = 0;
  /** mm_users: tasks using this mm (threads share one). */
  mm_users = 1;
  flags = 0;
  /** mm_cpumask: the simulated CPUs this mm's tasks have run on (bit i = CPU i). */
  cpumask = 0;
  /** A global ASID (INVLPGB): its flushes are broadcast in hardware, without IPIs (src/tlb/mmu.ts). */
  globalAsid = false;
  /** mm->context.tlb_gen: bumped by every flush of this mm (inc_mm_tlb_gen); a CPU whose ASID slot
   * saw an older generation flushes that ASID when it next switches to the mm. */
  tlb_gen = 0;
  /** exit_mmap is tearing this mm down (its TLB teardown is not counted as flushes). */
  exiting = false;
  dead = false;

  constructor(id: number, pgd: number) {
    this.id = id;
    this.pgd = pgd;
  }

  /**
   * find_vma_intersection for a single address: the VMA containing addr, or null. The cache hit is
   * kept this small so the JIT inlines it into the fault path: a call that is not inlined boxes its
   * 64-bit address argument into a new heap number, one allocation per fault.
   */
  find_vma(addr: number): VmAreaStruct | null {
    const c = this.mmap_cache;
    if (c !== null && addr >= c.vm_start && addr < c.vm_end) return c;
    return this.find_vma_search(addr);
  }

  /** The binary search behind find_vma, which refreshes the cache. */
  private find_vma_search(addr: number): VmAreaStruct | null {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = v[mid]!;
      if (addr < m.vm_start) hi = mid - 1;
      else if (addr >= m.vm_end) lo = mid + 1;
      else {
        this.mmap_cache = m;
        return m;
      }
    }
    return null;
  }

  /** Does a VMA carrying any of `flags` overlap [start, end)? */
  hasVmaWith(flags: number, start: number, end: number): boolean {
    return this.vmas.some((v) => (v.vm_flags & flags) !== 0 && v.vm_start < end && v.vm_end > start);
  }

  /** Index of the first VMA whose vm_end > addr (mas_find from addr). */
  firstEndingAfter(addr: number): number {
    const v = this.vmas;
    let lo = 0;
    let hi = v.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v[mid]!.vm_end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
