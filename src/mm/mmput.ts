/**
 * exit's memory half: mmput -> exit_mmap (unmap every VMA, free_pgtables over the whole address
 * space, remove the VMAs, free the pgd) -> check_mm, which reports what the kernel would print as
 * "BUG: Bad rss-counter state" or "BUG: non-zero pgtables_bytes on freeing mm".
 */
import { free_pgtables } from './free_pgtables.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { remove_vma } from './mmap.js';
import { unmap_page_range } from './zap.js';
import { tlb_gather_begin, tlb_gather_end } from './tlbflush.js';

/** Names of the rss_stat counters, in MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES order. */
const RSS_NAMES = ['MM_FILEPAGES', 'MM_ANONPAGES', 'MM_SWAPENTS', 'MM_SHMEMPAGES'];

/** mmput: the last user of an mm tears it down. */
export function mmput(m: MachineState, mm: MmStruct): void {
  if (mm.dead) throw new Error(`mm ${mm.id} has already exited`);
  if (--mm.mm_users > 0) return;
  exit_mmap(m, mm);
}

export function exit_mmap(m: MachineState, mm: MmStruct): void {
  mm.exiting = true;
  const vmas = mm.vmas;
  // One mmu_gather (tlb_gather_mmu_fullmm) for the whole teardown.
  tlb_gather_begin(m);
  for (const v of vmas) unmap_page_range(m, v, v.vm_start, v.vm_end);
  free_pgtables(m, mm, vmas, 0, 0);
  tlb_gather_end(m, mm);
  for (const v of vmas) remove_vma(m, v);
  mm.vmas = [];
  mm.mmap_cache = null;
  m.pool.free(mm.pgd);
  mm.nr[m.rootLevel]!--;
  mm.dead = true;
  m.mms.delete(mm);
  check_mm(m, mm);
}

/** check_mm: every counter of a dead mm must be back to zero. */
export function check_mm(m: MachineState, mm: MmStruct): void {
  for (let i = 0; i < mm.rss.length; i++) {
    if (mm.rss[i] !== 0) m.bugs.push(`BUG: Bad rss-counter state mm:${mm.id} type:${RSS_NAMES[i]} val:${mm.rss[i]}`);
  }
  const tables = mm.nr.reduce((a, b) => a + b, 0);
  if (tables !== 0) m.bugs.push(`BUG: non-zero pgtables_bytes on freeing mm ${mm.id}: ${tables * 4096} (tables by level ${mm.nr.join('/')})`);
  // Like the kernel, check_mm does not check hugetlb_usage: with PMD sharing an mm that unshares a
  // table keeps the count of the pages it faulted there, and a sharer never counted them.
}
