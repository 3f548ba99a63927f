/**
 * userfaultfd write-protect, after fs/userfaultfd.c and mm/userfaultfd.c (Peter Xu's "userfaultfd-wp:
 * Support shmem and hugetlbfs", 5.19):
 *
 * - UFFDIO_REGISTER with MODE_WP sets VM_UFFD_WP on the range (VMAs split to fit); the design may
 *   refuse or unshare first (hugetlb_unshare_all_pmds, file-pt never shares such VMAs).
 * - UFFDIO_WRITEPROTECT (mwriteprotect_range -> uffd_wp_range -> change_protection with
 *   MM_CP_UFFD_WP): present entries get the uffd-wp bit and lose write; in file-backed VMAs (shmem,
 *   hugetlbfs) an empty entry gets a PTE marker so the protection holds for pages not mapped yet. The
 *   tables the markers need are allocated (change_pmd_prepare / huge_pte_alloc). Resolving
 *   (MM_CP_UFFD_WP_RESOLVE) clears the bit and the markers, and makes entries writable again where
 *   can_change_pte_writable allows (MM_CP_TRY_CHANGE_WRITABLE).
 * - A write to a protected entry is delivered to the monitor (memory.ts handle_userfault_wp).
 * - UFFDIO_UNREGISTER resolves the range and clears VM_UFFD_WP (userfaultfd_clear_vma).
 */
import { PAGE_SIZE, isAligned } from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { flush_vma_range } from './tlbflush.js';
import { hugetlb_leaf_level } from './hugetlb.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { madvise_range } from './madvise.js';
import { split_vmas_to } from './mmap.js';
import { can_change_pte_writable } from './mprotect.js';
import { is_vm_hugetlb_page, userfaultfd_wp, vma_set_page_prot, VM_UFFD_WP, type VmAreaStruct } from './vma.js';
import { walk_alloc } from './pgalloc.js';

const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const SWP_PTE_MARKER = pgtable_types.SWP_PTE_MARKER;
const PTE_MARKER_UFFD_WP = pgtable_types.PTE_MARKER_UFFD_WP;

/** The VMAs covering [start, start + length), after checking the range is page aligned and fully mapped. */
function mappedRange(mm: MmStruct, start: number, length: number): { end: number; vmas: VmAreaStruct[] } {
  if (!Number.isInteger(length) || length <= 0 || !isAligned(length, PAGE_SIZE)) fail('EINVAL', 'length', `must be a positive multiple of ${PAGE_SIZE}, got ${length}`);
  const end = madvise_range(mm, start, length);
  return { end, vmas: mm.vmas.filter((v) => v.vm_start < end && v.vm_end > start) };
}

/** UFFDIO_REGISTER with UFFDIO_REGISTER_MODE_WP: VM_UFFD_WP on the range (VMAs split to fit). */
export function uffd_register_wp(m: MachineState, mm: MmStruct, start: number, length: number): void {
  const { end } = mappedRange(mm, start, Math.ceil(length / PAGE_SIZE) * PAGE_SIZE);
  m.design.uffdWpCheck?.(m, mm, start, end);
  for (const v of split_vmas_to(m, mm, start, end)) {
    v.vm_flags |= VM_UFFD_WP;
    vma_set_page_prot(v);
    m.design.uffdWpRegistered?.(m, v);
  }
}

/** UFFDIO_UNREGISTER: resolve every protection in the range, then clear VM_UFFD_WP. */
export function uffd_unregister(m: MachineState, mm: MmStruct, start: number, length: number): void {
  const { end, vmas } = mappedRange(mm, start, Math.ceil(length / PAGE_SIZE) * PAGE_SIZE);
  for (const v of vmas) if (!userfaultfd_wp(v)) fail('EINVAL', 'addr', `0x${Math.max(start, v.vm_start).toString(16)} is not registered with userfaultfd`);
  for (const v of split_vmas_to(m, mm, start, end)) {
    uffd_wp_range(m, v, v.vm_start, v.vm_end, false);
    v.vm_flags &= ~VM_UFFD_WP;
    vma_set_page_prot(v);
  }
}

export interface UffdWpResult {
  /** Present entries that gained (protect) or lost (resolve) the uffd-wp bit. */
  entries: number;
  /** Markers installed (protect) or removed (resolve). */
  markers: number;
  /** Page-table pages allocated to hold markers. */
  tablesAllocated: number;
}

/**
 * UFFDIO_WRITEPROTECT (mwriteprotect_range): protect (`wp` true) or resolve the range. Every VMA in it
 * must be registered for uffd-wp (ENOENT otherwise, as the kernel answers); hugetlb ranges must cover
 * whole huge pages.
 */
export function mwriteprotect_range(m: MachineState, mm: MmStruct, start: number, length: number, wp: boolean): UffdWpResult {
  const { end, vmas } = mappedRange(mm, start, length);
  for (const v of vmas) {
    if (!userfaultfd_wp(v)) fail('ENOENT', 'addr', `0x${Math.max(start, v.vm_start).toString(16)} is not registered with UFFDIO_REGISTER_MODE_WP`);
    if (is_vm_hugetlb_page(v)) {
      const h = 2 ** v.vm_file!.pageShift;
      if (!isAligned(Math.max(start, v.vm_start), h) || !isAligned(Math.min(end, v.vm_end), h)) fail('EINVAL', 'addr', `hugetlb ranges must cover whole ${h}-byte pages`);
    }
  }
  const tables0 = m.pool.inUse;
  let entries = 0;
  let markers = 0;
  for (const v of vmas) {
    const r = uffd_wp_range(m, v, Math.max(start, v.vm_start), Math.min(end, v.vm_end), wp);
    entries += r.entries;
    markers += r.markers;
  }
  return { entries, markers, tablesAllocated: m.pool.inUse - tables0 };
}

/** uffd_wp_range -> change_protection(MM_CP_UFFD_WP or MM_CP_UFFD_WP_RESOLVE) over one VMA's part. */
function uffd_wp_range(m: MachineState, vma: VmAreaStruct, start: number, end: number, wp: boolean): { entries: number; markers: number } {
  const ent = m.pool.entries;
  const hugetlb = is_vm_hugetlb_page(vma);
  const step = hugetlb ? 2 ** vma.vm_file!.pageShift : PAGE_SIZE;
  const leaf = hugetlb ? hugetlb_leaf_level(vma) : 0;
  // File-backed memory (shmem, hugetlbfs) protects empty entries with markers; anonymous memory does
  // not (that is UFFD_FEATURE_WP_UNPOPULATED, not modelled).
  const markEmpty = wp && vma.vm_file !== null;
  let entries = 0;
  let markers = 0;
  for (let addr = start; addr < end; addr += step) {
    let off: number;
    if (markEmpty) {
      m.vmf.address = addr;
      off = walk_alloc(m, vma, leaf - 1);
    } else {
      off = m.follow_page(vma.vm_mm, addr);
      if (off < 0) continue;
    }
    const lo = ent[off]!;
    const hi = ent[off + 1]!;
    if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0) {
      if (wp) {
        if ((lo & _PAGE_UFFD_WP) !== 0 && (lo & _PAGE_RW) === 0) continue;
        ent[off] = (lo | _PAGE_UFFD_WP) & ~_PAGE_RW;
        entries++;
      } else if ((lo & _PAGE_UFFD_WP) !== 0) {
        let nlo = lo & ~_PAGE_UFFD_WP;
        if (!hugetlb && can_change_pte_writable(m, vma, nlo, hi)) nlo |= _PAGE_RW;
        ent[off] = nlo;
        entries++;
      }
    } else if (lo === 0 && hi === 0) {
      if (markEmpty) {
        pgtable_types.set_pte_marker(ent, off, PTE_MARKER_UFFD_WP);
        markers++;
      }
    } else if (hi >>> 27 === SWP_PTE_MARKER) {
      const mk = pgtable_types.pte_marker_get(lo, hi);
      const nmk = wp ? mk | PTE_MARKER_UFFD_WP : mk & ~PTE_MARKER_UFFD_WP;
      if (nmk === mk) continue;
      if (nmk === 0) {
        ent[off] = 0;
        ent[off + 1] = 0;
      } else {
        pgtable_types.set_pte_marker(ent, off, nmk);
      }
      markers++;
    }
  }
  if (wp) {
    m.events.uffdWpProtected += entries;
    m.events.uffdWpMarkers += markers;
  } else {
    m.events.uffdWpResolved += entries;
  }
  // change_protection flushes the range once a present entry changed (markers were never in a TLB).
  if (entries > 0) flush_vma_range(m, vma, start, end, Math.ceil((end - start) / step));
  return { entries, markers };
}
