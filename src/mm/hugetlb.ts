/**
 * hugetlb faults, after mm/hugetlb.c: hugetlb_fault -> huge_pte_alloc (where hugetlb PMD sharing
 * plugs in, through the design's shareTable for the PMD table) -> hugetlb_no_page / hugetlb_wp.
 * 2 MiB pages are PMD leaves (PS bit), 1 GiB pages PUD leaves. Hugetlb pages are not counted in RSS;
 * mm->hugetlb_usage counts them instead.
 *
 * Private mappings: a page that is not in the file's page cache is a new anonymous hugetlb folio
 * (never added to the cache); one that is gets mapped read-only and copied on write (hugetlb_wp).
 */
import * as pgtable_types from '../arch/pgtable_types.js';
import * as geometry from '../arch/pgtable_64_types.js';
import { PG_anon, PG_anon_exclusive, PG_hugetlb, PG_uptodate } from './folio.js';
import type { MachineState } from './machine_types.js';
import { HUGETLB_FAULT_MUTEXES, LOCK_HUGETLB_FAULT, spin_lock, spin_unlock } from './spinlock.js';
import type { VmAreaStruct } from './vma.js';
import type { AddressSpace } from './address_space.js';
import * as vm_flags from './vma.js';
import { FAULT_FLAG_UNSHARE, FAULT_FLAG_WRITE, handle_userfault_wp, VM_FAULT_SIGBUS } from './vm_fault.js';
import { pgtable_alloc, ptl_lock, ptl_unlock } from './pgalloc.js';
import { xa_lock, xa_unlock } from './filemap.js';
import { anon_vma_prepare } from './rmap.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const PTE_MKDIRTY = pgtable_types.PTE_MKDIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const PTE_MARKER_UFFD_WP = pgtable_types.PTE_MARKER_UFFD_WP;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const VM_MAYSHARE = vm_flags.VM_MAYSHARE;
const VM_SHARED = vm_flags.VM_SHARED;
const VM_UFFD_WP = vm_flags.VM_UFFD_WP;
const VM_WRITE = vm_flags.VM_WRITE;

/** Table level whose entries are leaves for this hugetlb VMA: 1 (PMD) for 2 MiB, 2 (PUD) for 1 GiB. */
export function hugetlb_leaf_level(vma: VmAreaStruct): number {
  return vma.vm_file!.pageShift === 21 ? 1 : 2;
}

function set_huge_pte(ent: Int32Array, off: number, f: number, lo: number, hi: number): void {
  ent[off] = (f << 12) | lo | _PAGE_PSE;
  ent[off + 1] = (f >>> 20) | hi;
}


/** The huge page index of `haddr` in `vma`'s file. */
function hugetlb_index(vma: VmAreaStruct, haddr: number): number {
  return ((haddr - vma.vm_start) / 4096 + vma.vm_pgoff) / 2 ** (vma.vm_file!.pageShift - 12);
}

/** hugetlb_fault for m.vmf.address; like the kernel's, the vm_fault carries the huge-page-aligned address. */
export function hugetlb_fault(m: MachineState, vma: VmAreaStruct, flags: number): number {
  m.events.hugetlbFaults++;
  const file = vma.vm_file!;
  const hsize = 2 ** file.pageShift;
  const haddr = Math.floor(m.vmf.address / hsize) * hsize;
  m.vmf.address = haddr;
  const leaf = hugetlb_leaf_level(vma);
  const ent = m.pool.entries;
  let t = vma.vm_mm.pgd;
  for (let level = m.rootLevel; level > leaf; level--) {
    const off = t * 1024 + (((haddr / ENTRY_SPAN[level]!) & 511) << 1);
    const lo = ent[off]!;
    if (lo === 0 && ent[off + 1] === 0) t = pgtable_alloc(m, vma, level - 1, off);
    else t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }
  const off = t * 1024 + (((haddr / ENTRY_SPAN[leaf]!) & 511) << 1);
  if (!m.smp) return hugetlb_fault_leaf(m, vma, flags, haddr, off, leaf);
  // Concurrent CPUs: faults on the same (mapping, index) are serialized by hugetlb_fault_mutex_table.
  const mutex = 1 + ((vma.vm_file!.id * 31 + hugetlb_index(vma, haddr)) & (HUGETLB_FAULT_MUTEXES - 1));
  spin_lock(m.locks, mutex, m.lockstat, LOCK_HUGETLB_FAULT, m.locks);
  try {
    return hugetlb_fault_leaf(m, vma, flags, haddr, off, leaf);
  } finally {
    spin_unlock(m.locks, mutex);
  }
}

/** The rest of hugetlb_fault, at the leaf entry (word `off`, table level `leaf`). */
function hugetlb_fault_leaf(m: MachineState, vma: VmAreaStruct, flags: number, haddr: number, off: number, leaf: number): number {
  const ent = m.pool.entries;
  const lo = ent[off]!;
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) {
    const hi = ent[off + 1]!;
    // A marker (the only non-present, non-empty huge entry here) is none for faulting; a uffd-wp one
    // keeps the protection (hugetlb installs them into empty entries on write-protect).
    const marker = lo !== 0 || hi !== 0 ? pgtable_types.pte_marker_get(lo, hi) : 0;
    if (marker !== 0) m.events.pteMarkerFaults++;
    const uffdWp = (marker & PTE_MARKER_UFFD_WP) !== 0 && (vma.vm_flags & VM_UFFD_WP) !== 0;
    const r = hugetlb_no_page(m, vma, haddr, off, leaf);
    if (r !== 0) return r;
    if (uffdWp) {
      ent[off] = (ent[off]! | _PAGE_UFFD_WP) & ~_PAGE_RW; // huge_pte_mkuffd_wp
      if ((flags & FAULT_FLAG_WRITE) !== 0) return handle_userfault_wp(m, 0);
      return 0;
    }
    if ((flags & FAULT_FLAG_WRITE) !== 0 && (vma.vm_flags & VM_SHARED) === 0) return hugetlb_wp(m, vma, off, haddr, leaf, false);
    return 0;
  }
  if ((flags & (FAULT_FLAG_WRITE | FAULT_FLAG_UNSHARE)) !== 0 && (lo & _PAGE_RW) === 0) {
    if ((flags & FAULT_FLAG_WRITE) !== 0 && (lo & _PAGE_UFFD_WP) !== 0 && (vma.vm_flags & VM_UFFD_WP) !== 0) return handle_userfault_wp(m, 0);
    return hugetlb_wp(m, vma, off, haddr, leaf, (flags & FAULT_FLAG_WRITE) === 0);
  }
  ptl_lock(m, vma.vm_mm, off, leaf); // huge_pte_lock
  ent[off] = ent[off]! | _PAGE_ACCESSED | ((flags & FAULT_FLAG_WRITE) !== 0 ? PTE_MKDIRTY : 0);
  ptl_unlock(m, vma.vm_mm, off, leaf);
  return 0;
}

function new_hugetlb_anon_folio(m: MachineState, vma: VmAreaStruct, haddr: number, order: number): number {
  const fo = m.folios;
  anon_vma_prepare(m, vma);
  return fo.alloc(order, 1, 1, PG_hugetlb | PG_anon | PG_anon_exclusive | PG_uptodate, vma.anon_vma!.id, (haddr - vma.vm_start) / 4096 + vma.vm_pgoff);
}

/** hugetlb_no_page. */
function hugetlb_no_page(m: MachineState, vma: VmAreaStruct, haddr: number, off: number, leaf: number): number {
  const file = vma.vm_file!;
  const fo = m.folios;
  const order = file.pageShift - 12;
  const idx = hugetlb_index(vma, haddr);
  if (idx >= file.sizeInPages()) return VM_FAULT_SIGBUS;
  let f = file.pages[idx]! - 1;
  const shared = (vma.vm_flags & VM_MAYSHARE) !== 0;
  if (f < 0 && !shared) {
    f = new_hugetlb_anon_folio(m, vma, haddr, order);
  } else {
    if (f < 0) f = hugetlb_add_to_page_cache(m, file, idx, order);
    fo.get(f);
    fo.mapInc(f);
  }
  // make_huge_pte(vma, folio, writable = VM_WRITE && VM_SHARED)
  const writable = (vma.vm_flags & VM_WRITE) !== 0 && (vma.vm_flags & VM_SHARED) !== 0;
  const lo = writable ? vma.prot_lo | _PAGE_RW | PTE_MKDIRTY : vma.prot_lo & ~_PAGE_RW;
  ptl_lock(m, vma.vm_mm, off, leaf); // huge_pte_lock
  set_huge_pte(m.pool.entries, off, f, lo, vma.prot_hi);
  ptl_unlock(m, vma.vm_mm, off, leaf);
  vma.vm_mm.hugetlb_usage += 1 << order;
  return 0;
}

/**
 * alloc_hugetlb_folio + hugetlb_add_to_page_cache: a new folio for index `idx` (the cache's reference).
 * Concurrent CPUs insert under the xa_lock; two faults on the same index are already serialized by the
 * fault mutex, but other indexes of the file share the lock.
 */
function hugetlb_add_to_page_cache(m: MachineState, file: AddressSpace, idx: number, order: number): number {
  xa_lock(m, file);
  try {
    const f = m.folios.alloc(order, 1, 0, PG_hugetlb | PG_uptodate, file.id, idx);
    file.pages[idx] = f + 1;
    file.nrpages++;
    return f;
  } finally {
    xa_unlock(m, file);
  }
}

/** hugetlb_wp: reuse an anonymous folio mapped once (or exclusive), else copy. */
function hugetlb_wp(m: MachineState, vma: VmAreaStruct, off: number, haddr: number, leaf: number, unshare: boolean): number {
  // The fault mutex keeps other faults off this entry; the leaf lock is taken for the whole step.
  ptl_lock(m, vma.vm_mm, off, leaf); // huge_pte_lock
  try {
    return hugetlb_wp_locked(m, vma, off, haddr, unshare);
  } finally {
    ptl_unlock(m, vma.vm_mm, off, leaf);
  }
}

function hugetlb_wp_locked(m: MachineState, vma: VmAreaStruct, off: number, haddr: number, unshare: boolean): number {
  const ent = m.pool.entries;
  const fo = m.folios;
  const lo = ent[off]!;
  const old = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  if ((vma.vm_flags & (VM_SHARED | VM_MAYSHARE)) !== 0) {
    if (unshare) return 0;
    ent[off] = lo | _PAGE_RW | PTE_MKDIRTY | _PAGE_ACCESSED;
    m.events.wpShared++;
    return 0;
  }
  const fl = fo.flags[old]!;
  if ((fl & PG_anon) !== 0 && ((fl & PG_anon_exclusive) !== 0 || fo.mapcount[old] === 1)) {
    fo.setFlags(old, PG_anon_exclusive);
    if (unshare) {
      m.events.unshareReuse++;
      return 0;
    }
    ent[off] = lo | _PAGE_RW | PTE_MKDIRTY | _PAGE_ACCESSED;
    m.events.wpReuse++;
    return 0;
  }
  const f = new_hugetlb_anon_folio(m, vma, haddr, fo.order[old]!);
  fo.content[f] = fo.content[old]!;
  fo.mapDec(old);
  fo.put(old);
  const nlo = unshare ? vma.prot_lo & ~_PAGE_RW : vma.prot_lo | _PAGE_RW | PTE_MKDIRTY;
  set_huge_pte(ent, off, f, nlo, vma.prot_hi);
  if (unshare) m.events.unshareCopy++;
  else m.events.wpCopy++;
  return 0;
}
