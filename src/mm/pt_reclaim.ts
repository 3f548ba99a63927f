/**
 * PT_RECLAIM (Linux 6.14, CONFIG_PT_RECLAIM; commit 6375e95f381e): MADV_DONTNEED frees the PTE
 * tables it empties. In the kernel, madvise_dontneed_single_vma() zaps with zap_details.reclaim_pt
 * set; zap_pte_range() may reclaim a table only when its zap covers the whole table
 * (reclaim_pt_is_enabled(): end - start >= PMD_SIZE) and no entry was left behind (any_skipped: a
 * uffd-wp marker re-installed by zap_install_uffd_wp_if_needed() keeps the table); it then clears
 * the PMD entry (try_get_and_clear_pmd()), frees the table through the mmu_gather and drops nr_ptes.
 * PMD and higher tables stay.
 */
import { PMD_SIZE } from '../arch/pgtable_64_types.js';
import { PFN_HI_SHIFTED_MASK } from '../arch/pgtable_types.js';
import { entry_of_table } from './pagewalk.js';
import type { MachineState } from './machine_types.js';
import type { VmAreaStruct } from './vma.js';

/**
 * After [start, end) of `vma` was zapped by MADV_DONTNEED: free every PTE table whose whole 2 MiB
 * window lies inside the range and holds no entry (markers count as entries). Tables shared with
 * other mms (pt_share_count > 0) are not this process's to free. Returns the tables freed.
 */
export function reclaim_pt_range(m: MachineState, vma: VmAreaStruct, start: number, end: number): number {
  if (!m.kernel.ptReclaim) return 0;
  const ent = m.pool.entries;
  const mm = vma.vm_mm;
  let freed = 0;
  for (let w = Math.ceil(start / PMD_SIZE) * PMD_SIZE; w + PMD_SIZE <= end; w += PMD_SIZE) {
    // The PMD entry pointing at this window's PTE table (-1: no table, or a huge leaf).
    const off = entry_of_table(m, mm, w, 0);
    if (off < 0) continue;
    const t = (ent[off]! >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    if (m.pool.shareCount[t] !== 0) continue;
    let empty = true;
    for (let i = t * 1024, e = i + 1024; i < e; i++) {
      if (ent[i] !== 0) {
        empty = false;
        break;
      }
    }
    if (!empty) continue;
    ent[off] = 0;
    ent[off + 1] = 0;
    m.pool.free(t);
    mm.nr[0]!--;
    freed++;
  }
  m.events.pteTablesReclaimed += freed;
  return freed;
}
