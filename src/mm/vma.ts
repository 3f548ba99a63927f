/**
 * struct vm_area_struct and its flags (include/linux/mm.h), vm_get_page_prot (the x86 protection_map,
 * arch/x86/mm/pgprot.c) and vma_set_page_prot / vma_wants_writenotify (mm/mmap.c).
 */
import {
  _PAGE_NX_HI, PAGE_NONE_LO, PAGE_READONLY_LO, PAGE_SHARED_LO, _PAGE_RW,
} from '../arch/pgtable_types.js';
import { PAGE_SIZE } from '../arch/pgtable_64_types.js';
import type { AddressSpace } from './address_space.js';
import type { MmStruct } from './mm_types.js';

export const VM_NONE = 0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_UFFD_MISSING = 0x200;
export const VM_PFNMAP = 0x400;
export const VM_UFFD_WP = 0x1000;
export const VM_LOCKED = 0x2000;
/** mlock2(MLOCK_ONFAULT); nothing in the model sets it yet. */
export const VM_LOCKONFAULT = 0x80000;
/** include/linux/mm.h: the flags mlock sets, ignored where VMAs are compared (VM_LOCKED_MASK). */
export const VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_SOFTDIRTY = 0x8000000;
export const VM_MIXEDMAP = 0x10000000;
/** KSM may merge this VMA's pages (MADV_MERGEABLE); bit 31 as in the kernel (negative as an int32). */
export const VM_MERGEABLE = 0x80000000 | 0;
/**
 * Model-only bits for VMAs whose faults a sharing design handles in a host mm: the 2023 RFC's
 * VM_SHARED_PT and the mshare series' VM_MSHARE (their bit positions here are this model's).
 */
export const VM_SHARED_PT = 0x40000000;
export const VM_MSHARE = 0x20000000;
/** file-pt: this MAP_SHARED VMA may use page tables cached on its file (model-only bit). */
export const VM_FILE_PT = 0x01000000;
export const VM_DESIGN_FAULT = VM_SHARED_PT | VM_MSHARE | VM_FILE_PT;

export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

/** struct anon_vma, reduced to an identity (folio->mapping of anonymous folios). */
export interface AnonVma {
  readonly id: number;
}

export class VmAreaStruct {
  vm_mm: MmStruct;
  vm_start: number;
  vm_end: number;
  vm_flags: number;
  /** vm_page_prot: protection bits of the low PTE word, and of the high word (NX). */
  prot_lo = 0;
  prot_hi = 0;
  /** Offset in the file in PAGE_SIZE units; for private anonymous memory, vm_start >> PAGE_SHIFT. */
  vm_pgoff: number;
  vm_file: AddressSpace | null;
  anon_vma: AnonVma | null = null;

  constructor(mm: MmStruct, start: number, end: number, flags: number, pgoff: number, file: AddressSpace | null) {
    this.vm_mm = mm;
    this.vm_start = start;
    this.vm_end = end;
    this.vm_flags = flags;
    this.vm_pgoff = pgoff;
    this.vm_file = file;
    vma_set_page_prot(this);
  }

  /** vm_area_dup: a copy for another mm (fork) or the other half of a split. */
  dup(mm: MmStruct): VmAreaStruct {
    const v = new VmAreaStruct(mm, this.vm_start, this.vm_end, this.vm_flags, this.vm_pgoff, this.vm_file);
    v.anon_vma = this.anon_vma;
    return v;
  }

  get pages(): number {
    return (this.vm_end - this.vm_start) / PAGE_SIZE;
  }
}

export function is_vm_hugetlb_page(vma: VmAreaStruct): boolean {
  return (vma.vm_flags & VM_HUGETLB) !== 0;
}

/** is_cow_mapping: private and may become writable. */
export function is_cow_mapping(flags: number): boolean {
  return (flags & (VM_SHARED | VM_MAYWRITE)) === VM_MAYWRITE;
}

/** userfaultfd_wp(vma). */
export function userfaultfd_wp(vma: VmAreaStruct): boolean {
  return (vma.vm_flags & VM_UFFD_WP) !== 0;
}

/** vm_get_page_prot: the x86 protection_map, indexed by VM_READ|VM_WRITE|VM_EXEC|VM_SHARED. */
export function vm_get_page_prot(flags: number): { lo: number; hi: number } {
  const acc = flags & VM_ACCESS_FLAGS;
  const hi = flags & VM_EXEC ? 0 : _PAGE_NX_HI;
  if (acc === 0) return { lo: PAGE_NONE_LO, hi: _PAGE_NX_HI };
  if ((flags & VM_WRITE) && (flags & VM_SHARED)) return { lo: PAGE_SHARED_LO, hi };
  // PAGE_READONLY(_EXEC) and PAGE_COPY(_EXEC) have the same bits on x86: write-protected.
  return { lo: PAGE_READONLY_LO, hi };
}

/**
 * vma_wants_writenotify: shared writable mappings whose file wants to hear about the first write
 * (page_mkwrite / dirty accounting: regular files) get write-protected PTEs; shmem and hugetlbfs
 * have no writeback and do not. uffd-wp also wants write notification.
 */
export function vma_wants_writenotify(vma: VmAreaStruct): boolean {
  if ((vma.vm_flags & (VM_WRITE | VM_SHARED)) !== (VM_WRITE | VM_SHARED)) return false;
  if (vma.vm_file !== null && vma.vm_file.kind === 'file') return true;
  if (userfaultfd_wp(vma)) return true;
  return false;
}

/** vma_set_page_prot. */
export function vma_set_page_prot(vma: VmAreaStruct): void {
  let flags = vma.vm_flags;
  if (vma_wants_writenotify(vma)) flags &= ~VM_SHARED;
  const p = vm_get_page_prot(flags);
  vma.prot_lo = p.lo;
  vma.prot_hi = p.hi;
}

/** vma_wants_manual_pte_write_upgrade: may mprotect make existing PTEs writable (mm/mprotect.c). */
export function vma_wants_manual_pte_write_upgrade(vma: VmAreaStruct): boolean {
  if (vma.vm_flags & VM_SHARED) return vma_wants_writenotify(vma);
  return (vma.vm_flags & VM_WRITE) !== 0;
}

/** Does the low word of vm_page_prot grant write? */
export function prot_writable(vma: VmAreaStruct): boolean {
  return (vma.prot_lo & _PAGE_RW) !== 0;
}
