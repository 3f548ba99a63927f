/**
 * `hugetlb-pmd`: today's Linux on x86-64 (CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING), after mm/hugetlb.c.
 *
 * - Only PMD tables of MAP_SHARED (VM_MAYSHARE) hugetlb mappings with 2 MiB pages are shared, one per
 *   1 GiB (PUD_SIZE) window; 1 GiB pages are PUD leaves and never shared; uffd-wp/minor VMAs never
 *   share (want_pmd_share, uffd_disable_huge_pmd_share).
 * - Only when the whole PUD-aligned window lies inside the VMA (vma_shareable / range_in_vma), and only
 *   when the PUD entry is still empty (first fault in that GiB).
 * - huge_pmd_share walks the file's i_mmap for another VMA mapping the same file page at the same
 *   offset within 1 GiB (pmd_index equal), with equal vm_flags (VM_LOCKED_MASK ignored), itself covering its
 *   whole window; the first whose mm already has a PMD table there wins: pt_share_count + 1, and the
 *   faulting mm's PUD entry points at it. The same virtual address is not required.
 * - Unsharing (huge_pmd_unshare) drops this mm's PUD entry and one share count; the whole GiB leaves
 *   this mm and is refaulted later. The core does that wherever it meets a shared table (munmap, exit,
 *   mprotect); a VMA split at an address that is not PUD-aligned unshares that window here
 *   (hugetlb_split). The last holder zaps and frees the table normally.
 * - fork does not copy MAP_SHARED hugetlb VMAs (no anon_vma); the child re-shares on fault.
 */
import { PUD_SIZE } from '../arch/pgtable_64_types.js';
import type { MachineState } from '../mm/machine_types.js';
import { entry_of_table, table_of } from '../mm/pagewalk.js';
import { VM_LOCKED_MASK, VM_MAYSHARE, VM_UFFD_WP, is_vm_hugetlb_page, type VmAreaStruct } from '../mm/vma.js';
import { unshare_range, unshare_table } from '../mm/zap.js';
import { tlb_gather_begin, tlb_gather_end } from '../mm/tlbflush.js';
import { privateRoutes, routeWindows, type PtShareDesign } from '../mm/pt_share.js';

const LEVEL_PMD = 1;

/** vma_shareable + the eligibility half of want_pmd_share. */
function shareable(vma: VmAreaStruct, addr: number): boolean {
  if (!is_vm_hugetlb_page(vma) || (vma.vm_flags & VM_MAYSHARE) === 0) return false;
  if (vma.vm_file!.pageShift !== 21) return false;
  if ((vma.vm_flags & VM_UFFD_WP) !== 0) return false;
  const start = Math.floor(addr / PUD_SIZE) * PUD_SIZE;
  return start >= vma.vm_start && start + PUD_SIZE <= vma.vm_end;
}

/** huge_pmd_share: find a sharer's PMD table for `addr`; -1 if none (the caller allocates one). */
function huge_pmd_share(m: MachineState, vma: VmAreaStruct, addr: number): number {
  const idx = (addr - vma.vm_start) / 4096 + vma.vm_pgoff;
  const flags = vma.vm_flags & ~VM_LOCKED_MASK;
  for (const svma of vma.vm_file!.i_mmap) {
    if (svma === vma || svma.vm_mm.dead) continue;
    if (idx < svma.vm_pgoff || idx >= svma.vm_pgoff + svma.pages) continue;
    const saddr = svma.vm_start + (idx - svma.vm_pgoff) * 4096;
    // page_table_shareable: same position in the GiB, same flags, svma covers its whole window.
    if (Math.floor(saddr / 2 ** 21) % 512 !== Math.floor(addr / 2 ** 21) % 512) continue;
    if ((svma.vm_flags & ~VM_LOCKED_MASK) !== flags) continue;
    if (!shareable(svma, saddr)) continue;
    const t = table_of(m, svma.vm_mm, saddr, LEVEL_PMD);
    if (t < 0) continue;
    m.pool.shareInc(t); // ptdesc_pmd_pts_inc, before the PUD lock as in the kernel
    return t;
  }
  return -1;
}

export const hugetlbPmdDesign: PtShareDesign = {
  name: 'hugetlb-pmd',
  summary: 'PMD tables of MAP_SHARED 2 MiB hugetlb mappings shared per 1 GiB window (today\'s Linux on x86-64)',
  sharesOnly: 'MAP_SHARED hugetlb mappings of 2 MiB pages, per 1 GiB window lying wholly inside the VMA (want_pmd_share(), huge_pmd_share())',
  mmPerProcess: true,
  shareTable(m, vma, addr, level) {
    if (level !== LEVEL_PMD || !shareable(vma, addr)) return -1;
    return huge_pmd_share(m, vma, addr);
  },
  countRoutes(map) {
    const footprint: [number, number] = [map.start, map.end];
    // Only 2 MiB hugetlb pages share, and only the 1 GiB windows wholly inside the mapping.
    if (map.kind !== 'hugetlb' || map.leaf !== 1) return { footprint, routes: privateRoutes(map) };
    // Two windows share when they map the same file offset (then also the same pmd_index): the holder
    // is keyed by the file and the mapping's address-offset residue r, so that holder address
    // fo + r is congruent to the address modulo 1 GiB and equal file offsets meet in one window.
    const r = (((map.start - map.offset) % PUD_SIZE) + PUD_SIZE) % PUD_SIZE;
    const routes = routeWindows(map.start, map.end, PUD_SIZE,
      (s, e) => ({ start: s, end: e, ownFrom: 2, link: LEVEL_PMD, host: `hugetlb-pmd:${map.object}:${r}`, delta: map.offset - map.start + r, holder: 'sharers', hostAt: 'mmap' }),
      (s, e) => privateRoutes({ start: s, end: e, leaf: 1 }));
    return { footprint, routes };
  },
  vmaSplit(m, vma, addr) {
    // hugetlb_split: a split inside a PUD window that may be shared unshares that window.
    if (!is_vm_hugetlb_page(vma) || addr % PUD_SIZE === 0) return;
    const off = entry_of_table(m, vma.vm_mm, addr, LEVEL_PMD);
    if (off >= 0) unshare_table(m, vma.vm_mm, off, LEVEL_PMD);
  },
  uffdWpRegistered(m, vma) {
    // hugetlb_unshare_all_pmds: uffd-wp keeps per-entry state, so a registered VMA shares nothing
    // (one mmu_gather for the whole VMA).
    if (!is_vm_hugetlb_page(vma)) return;
    tlb_gather_begin(m);
    unshare_range(m, vma.vm_mm, vma.vm_start, vma.vm_end);
    tlb_gather_end(m, vma.vm_mm);
  },
  unshareSyncsGupFast: true,
  checkScenario(s) {
    if (s.kind === 'hugetlb' && s.page === '1g') {
      return 'hugetlb-pmd shares PMD tables of 2 MiB pages only; 1 GiB pages are PUD leaves and are never shared (huge_pmd_unshare: sz != PMD_SIZE); use --page 2m';
    }
    return null;
  },
};
