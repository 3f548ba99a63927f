/**
 * Write-protect faults and copy-on-write (mm/memory.c: do_wp_page, wp_page_reuse,
 * wp_can_reuse_anon_folio, wp_page_copy), with FAULT_FLAG_UNSHARE for read-only pins and the
 * uffd-wp check (userfaultfd_pte_wp).
 */

import * as folio_mod from './folio.js';
import type { MachineState } from './machine_types.js';
import * as tlbflush_mod from './tlbflush.js';
import * as vm_fault_mod from './vm_fault.js';
import type { VmFault } from './vm_fault.js';
import * as pgalloc_mod from './pgalloc.js';
import * as filemap_mod from './filemap.js';
import * as rmap_mod from './rmap.js';
import * as mm_counters from './mm_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import * as vm_flags from './vma.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const PTE_MKDIRTY = pgtable_types.PTE_MKDIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const _PAGE_SOFT_DIRTY = pgtable_types._PAGE_SOFT_DIRTY;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const MM_ANONPAGES = mm_counters.MM_ANONPAGES;
const VM_MAYSHARE = vm_flags.VM_MAYSHARE;
const VM_SHARED = vm_flags.VM_SHARED;
const VM_UFFD_WP = vm_flags.VM_UFFD_WP;
const VM_WRITE = vm_flags.VM_WRITE;
const PG_anon = folio_mod.PG_anon;
const PG_anon_exclusive = folio_mod.PG_anon_exclusive;
const PG_dirty = folio_mod.PG_dirty;
const PG_ksm = folio_mod.PG_ksm;
const PG_swapbacked = folio_mod.PG_swapbacked;
const PG_swapcache = folio_mod.PG_swapcache;
const flush_vma_range = tlbflush_mod.flush_vma_range;
const FAULT_FLAG_UNSHARE = vm_fault_mod.FAULT_FLAG_UNSHARE;
const handle_userfault_wp = vm_fault_mod.handle_userfault_wp;
const pte_lock = pgalloc_mod.pte_lock;
const pte_unlock = pgalloc_mod.pte_unlock;
const set_pte = pgalloc_mod.set_pte;
const mm_counter_file = filemap_mod.mm_counter_file;
const anon_vma_prepare = rmap_mod.anon_vma_prepare;
const new_anon_folio = rmap_mod.new_anon_folio;

/**
 * wp_can_reuse_anon_folio (small folios): not KSM, no references beyond the one mapping (the
 * swap cache may hold one more), then reuse.
 */
export function wp_can_reuse_anon_folio(m: MachineState, f: number): boolean {
  const fo = m.folios;
  const fl = fo.flags[f]!;
  if ((fl & PG_ksm) !== 0 || fo.refcount[f]! > 3) return false;
  if (fo.refcount[f]! > 1 + ((fl & PG_swapcache) !== 0 ? 1 : 0)) return false;
  return fo.refcount[f] === 1;
}

/**
 * do_wp_page: a write (or FAULT_FLAG_UNSHARE) on a present, write-protected PTE.
 * Shared mappings: make writable (wp_page_shared). Private: reuse an exclusive anonymous page
 * (PageAnonExclusive, or wp_can_reuse_anon_folio), otherwise copy (wp_page_copy).
 */
export function do_wp_page(m: MachineState, vmf: VmFault, lo: number, hi: number): number {
  if (!m.smp) return do_wp_page_locked(m, vmf, lo, hi);
  // Under the PTE lock, if the entry is still the one the fault read (pte_same), else retry. The
  // copy case keeps the lock while it allocates (the kernel drops it and checks pte_same again).
  const ent = m.pool.entries;
  pte_lock(m, vmf);
  try {
    if (ent[vmf.poff] !== lo || ent[vmf.poff + 1] !== hi) return 0;
    return do_wp_page_locked(m, vmf, lo, hi);
  } finally {
    pte_unlock(m, vmf);
  }
}

export function do_wp_page_locked(m: MachineState, vmf: VmFault, lo: number, hi: number): number {
  const ent = m.pool.entries;
  const fo = m.folios;
  const vma = vmf.vma!;
  const poff = vmf.poff;
  const unshare = (vmf.flags & FAULT_FLAG_UNSHARE) !== 0;
  // userfaultfd_pte_wp: a write to a uffd-wp-protected entry goes to the monitor.
  if ((lo & _PAGE_UFFD_WP) !== 0 && !unshare && (vma.vm_flags & VM_UFFD_WP) !== 0) return handle_userfault_wp(m, 0);
  const f = (lo & _PAGE_SPECIAL) !== 0 ? -1 : (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
  if ((vma.vm_flags & (VM_SHARED | VM_MAYSHARE)) !== 0) {
    if (unshare) return 0; // no anonymous page in a shared mapping, nothing to unshare
    ent[poff] = lo | _PAGE_RW | PTE_MKDIRTY | _PAGE_ACCESSED;
    if (f >= 0) fo.setFlags(f, PG_dirty);
    m.events.wpShared++;
    return 0;
  }
  if (f >= 0 && (fo.flags[f]! & PG_anon) !== 0) {
    const fl = fo.flags[f]!;
    if ((fl & PG_anon_exclusive) !== 0 || wp_can_reuse_anon_folio(m, f)) {
      fo.setFlags(f, PG_anon_exclusive);
      if (unshare) {
        m.events.unshareReuse++;
        return 0;
      }
      // wp_page_reuse
      ent[poff] = lo | _PAGE_RW | PTE_MKDIRTY | _PAGE_ACCESSED;
      m.events.wpReuse++;
      return 0;
    }
  }
  return wp_page_copy(m, vmf, f, unshare);
}

/**
 * wp_page_copy: a new exclusive anonymous folio with the old contents (zeroed if the old page was the
 * zero page). For FAULT_FLAG_UNSHARE the new PTE stays read-only but the page is exclusive.
 */
export function wp_page_copy(m: MachineState, vmf: VmFault, old: number, unshare: boolean): number {
  const ent = m.pool.entries;
  const fo = m.folios;
  const vma = vmf.vma!;
  const poff = vmf.poff;
  const mm = vma.vm_mm;
  const oldLo = ent[poff]!;
  anon_vma_prepare(m, vma);
  const f = new_anon_folio(m, vmf);
  fo.content[f] = old >= 0 ? fo.content[old]! : 0;
  let lo = vma.prot_lo;
  if (unshare) {
    lo |= oldLo & (_PAGE_SOFT_DIRTY | _PAGE_UFFD_WP);
    m.events.unshareCopy++;
  } else {
    lo |= PTE_MKDIRTY | ((vma.vm_flags & VM_WRITE) !== 0 ? _PAGE_RW : 0);
    m.events.wpCopy++;
  }
  if (old >= 0) {
    const anon = (fo.flags[old]! & PG_anon) !== 0;
    if ((fo.flags[old]! & PG_ksm) !== 0 && !unshare) m.events.ksmCowBreaks++;
    if (!anon) {
      mm.rss[mm_counter_file((fo.flags[old]! & PG_swapbacked) !== 0)]!--;
      mm.rss[MM_ANONPAGES]!++;
    }
    fo.mapDec(old);
    fo.put(old);
  } else {
    mm.rss[MM_ANONPAGES]!++;
  }
  set_pte(ent, poff, f, lo, vma.prot_hi);
  // ptep_clear_flush: the old translation goes from every CPU that may cache it.
  if (old >= 0 || (oldLo & _PAGE_PRESENT) !== 0) {
    const page = m.vmf.address - (m.vmf.address % 4096);
    flush_vma_range(m, vma, page, page + 4096, 1);
  }
  return 0;
}
