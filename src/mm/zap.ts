/**
 * unmap_page_range -> zap_p4d/pud/pmd/pte_range (mm/memory.c): clear every leaf entry of a VMA in
 * [start, end), dropping rmap (mapcount), RSS and references; the tables themselves stay (that is
 * free_pgtables' job). A table shared with other mms (pt_share_count > 0) is not zapped: this mm's
 * pointer to it is dropped (unshare) and the other sharers keep their translations, as
 * __unmap_hugepage_range does with huge_pmd_unshare.
 */
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { PG_anon, PG_dirty, PG_hugetlb, PG_swapbacked } from './folio.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import * as mm_counters from './mm_types.js';
import type { VmAreaStruct } from './vma.js';
import * as vm_flags from './vma.js';
import { flush_tlb_range, tlb_remove_table_sync_one } from './tlbflush.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const TABLE_SPAN = geometry.TABLE_SPAN;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const SWP_PTE_MARKER = pgtable_types.SWP_PTE_MARKER;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const UFFD_WP_MARKER_LO = pgtable_types.make_pte_marker_lo(pgtable_types.PTE_MARKER_UFFD_WP);
const UFFD_WP_MARKER_HI = pgtable_types.make_pte_marker_hi(pgtable_types.PTE_MARKER_UFFD_WP);
const MM_ANONPAGES = mm_counters.MM_ANONPAGES;
const MM_FILEPAGES = mm_counters.MM_FILEPAGES;
const MM_SHMEMPAGES = mm_counters.MM_SHMEMPAGES;

/**
 * struct zap_details for the zap in progress. munmap and exit pass ZAP_FLAG_DROP_MARKER (markers go);
 * MADV_DONTNEED passes none: markers stay, and a file-backed uffd-wp VMA gets a uffd-wp marker for
 * every protected entry it zaps (pte_install_uffd_wp_if_needed), so the protection survives the refault.
 */
let keepMarkers = false;
let armUffdWp = false;

/**
 * Zap [start, end) of `vma` (both page aligned, inside the VMA). `dropMarkers` false is
 * zap_page_range_single without ZAP_FLAG_DROP_MARKER (MADV_DONTNEED).
 */
export function unmap_page_range(m: MachineState, vma: VmAreaStruct, start: number, end: number, dropMarkers = true): void {
  keepMarkers = !dropMarkers;
  armUffdWp = !dropMarkers && vma.vm_file !== null && (vma.vm_flags & vm_flags.VM_UFFD_WP) !== 0;
  try {
    zap_level(m, vma.vm_mm, vma.vm_mm.pgd, m.rootLevel, start, end);
  } finally {
    keepMarkers = false;
    armUffdWp = false;
  }
}

/** Drop `mm`'s link to a shared table at word `off` (unshare); returns true when it was shared. */
export function unshare_table(m: MachineState, mm: MmStruct, off: number, level: number): boolean {
  const ent = m.pool.entries;
  const t = (ent[off]! >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  if (m.pool.shareCount[t]! <= 0) return false;
  const left = --m.pool.shareCount[t]!;
  // huge_pmd_unshare: a table now exclusive to its last owner needs GUP-fast synchronised before
  // that owner may reuse it (once per mmu_gather; a lone unshare syncs at once).
  if (left === 0 && m.kernel.hugetlbUnshareSync === true && m.design.unshareSyncsGupFast === true) {
    if (m.gatherDepth > 0) m.gatherFullyUnshared = true;
    else tlb_remove_table_sync_one(m, mm);
  }
  ent[off] = 0;
  ent[off + 1] = 0;
  m.pool.bumpWalkGen();
  mm.nr[level]!--;
  mm.linked[level]!--;
  m.events.tablesUnshared++;
  // The whole span of the table leaves this mm: flush it on this mm's CPUs (e.g. PUD_SIZE for hugetlb).
  flush_tlb_range(m, mm, [mm], 0, 0, TABLE_SPAN[level]! / 4096);
  return true;
}

function zap_level(m: MachineState, mm: MmStruct, t: number, level: number, start: number, end: number): void {
  const ent = m.pool.entries;
  const span = ENTRY_SPAN[level]!;
  let addr = start;
  while (addr < end) {
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const off = t * 1024 + (((addr / span) & 511) << 1);
    const lo = ent[off]!;
    if (lo !== 0 || ent[off + 1] !== 0) {
      if (level > 0 && (lo & _PAGE_PRESENT) !== 0 && (lo & _PAGE_PSE) === 0) {
        if (!unshare_table(m, mm, off, level - 1)) {
          const child = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
          if (level === 1) zap_pte_range(m, mm, child, addr, next);
          else zap_level(m, mm, child, level - 1, addr, next);
        }
      } else {
        zap_leaf(m, mm, off);
      }
    }
    addr = next;
  }
}

/** zap_pte_range: the hot loop over one PTE table. */
function zap_pte_range(m: MachineState, mm: MmStruct, t: number, start: number, end: number): void {
  const ent = m.pool.entries;
  const from = t * 1024 + (((start / 4096) & 511) << 1);
  const to = from + ((end - start) / 4096) * 2;
  for (let off = from; off < to; off += 2) {
    if (ent[off] !== 0 || ent[off + 1] !== 0) zap_leaf(m, mm, off);
  }
}

/** Zap one leaf entry (4 KiB PTE, or a hugetlb PMD/PUD leaf). */
function zap_leaf(m: MachineState, mm: MmStruct, off: number): void {
  const ent = m.pool.entries;
  const lo = ent[off]!;
  const hi = ent[off + 1]!;
  ent[off] = 0;
  ent[off + 1] = 0;
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) {
    if (hi >>> 27 === SWP_PTE_MARKER) {
      // Markers go on munmap/exit (ZAP_FLAG_DROP_MARKER) and stay otherwise.
      if (keepMarkers) { ent[off] = lo; ent[off + 1] = hi; }
      return;
    }
    throw new Error(`zap: swap entries are not produced by this model yet (pte ${hi >>> 0}:${lo >>> 0})`);
  }
  m.events.ptesZapped++;
  if ((lo & _PAGE_UFFD_WP) !== 0 && armUffdWp) {
    ent[off] = UFFD_WP_MARKER_LO;
    ent[off + 1] = UFFD_WP_MARKER_HI;
    m.events.uffdWpMarkers++;
  }
  if ((lo & _PAGE_SPECIAL) !== 0) return; // zero page: no struct page refcounting
  const fo = m.folios;
  const f = (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
  const fl = fo.flags[f]!;
  if ((fl & PG_hugetlb) !== 0) {
    mm.hugetlb_usage -= 1 << fo.order[f]!;
  } else if ((fl & PG_anon) !== 0) {
    mm.rss[MM_ANONPAGES]!--;
  } else {
    if ((lo & _PAGE_DIRTY) !== 0) fo.flags[f] = fl | PG_dirty; // folio_mark_dirty
    mm.rss[(fl & PG_swapbacked) !== 0 ? MM_SHMEMPAGES : MM_FILEPAGES]!--;
  }
  fo.mapcount[f]!--;
  fo.put(f);
}

/** Drop every link from `mm` to a shared table over [start, end) (this mm then refaults privately). */
export function unshare_range(m: MachineState, mm: MmStruct, start: number, end: number): number {
  return unshare_level(m, mm, mm.pgd, m.rootLevel, start, end);
}

function unshare_level(m: MachineState, mm: MmStruct, t: number, level: number, start: number, end: number): number {
  const ent = m.pool.entries;
  const span = ENTRY_SPAN[level]!;
  let n = 0;
  for (let addr = start; addr < end;) {
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const off = t * 1024 + (((addr / span) & 511) << 1);
    const lo = ent[off]!;
    if (level > 0 && (lo & _PAGE_PRESENT) !== 0 && (lo & _PAGE_PSE) === 0) {
      if (unshare_table(m, mm, off, level - 1)) n++;
      else n += unshare_level(m, mm, (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20), level - 1, addr, next);
    }
    addr = next;
  }
  return n;
}
