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
import { _PAGE_PRESENT, _PAGE_PSE, PFN_HI_SHIFTED_MASK } from '../arch/pgtable_types.js';
import type { MachineState } from './machine_types.js';
import type { VmAreaStruct } from './vma.js';

/** Word offset of the PMD entry covering `addr` in `vma`'s mm, or -1 when a table above it is missing. */
function pmd_entry(m: MachineState, vma: VmAreaStruct, addr: number): number {
  const ent = m.pool.entries;
  let t = vma.vm_mm.pgd;
  for (let level = m.rootLevel; level >= 1; level--) {
    const off = t * 1024 + ((Math.floor(addr / 2 ** (12 + 9 * level)) & 511) << 1);
    if (level === 1) return off;
    const lo = ent[off]!;
    if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_PSE) !== 0) return -1;
    t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }
  return -1;
}

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
    const off = pmd_entry(m, vma, w);
    if (off < 0) continue;
    const lo = ent[off]!;
    if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_PSE) !== 0) continue;
    const t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
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
