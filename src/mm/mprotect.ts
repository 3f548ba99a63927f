/**
 * mprotect, after mm/mprotect.c: do_mprotect_pkey -> mprotect_fixup (split, new vm_flags,
 * vma_set_page_prot) -> change_protection -> change_pte_range (pte_modify, and
 * MM_CP_TRY_CHANGE_WRITABLE with can_change_pte_writable), hugetlb_change_protection for hugetlb.
 */
import { isAligned } from '../arch/pgtable_64_types.js';
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { PG_anon, PG_anon_exclusive } from './folio.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { check_munmap_splits, PROT_EXEC, PROT_READ, PROT_WRITE, split_vma } from './mmap.js';
import { is_vm_hugetlb_page, vma_set_page_prot, vma_wants_manual_pte_write_upgrade, type VmAreaStruct } from './vma.js';
import * as vm_flags from './vma.js';
import { unshare_table } from './zap.js';
import { flush_vma_range, tlb_gather_begin, tlb_gather_end } from './tlbflush.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const PAGE_SIZE = geometry.PAGE_SIZE;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_NX_HI = pgtable_types._PAGE_NX_HI;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_USER = pgtable_types._PAGE_USER;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const VM_ACCESS_FLAGS = vm_flags.VM_ACCESS_FLAGS;
const VM_EXEC = vm_flags.VM_EXEC;
const VM_MAYEXEC = vm_flags.VM_MAYEXEC;
const VM_MAYREAD = vm_flags.VM_MAYREAD;
const VM_MAYWRITE = vm_flags.VM_MAYWRITE;
const VM_READ = vm_flags.VM_READ;
const VM_SHARED = vm_flags.VM_SHARED;
const VM_WRITE = vm_flags.VM_WRITE;

/** Protection bits pte_modify takes from the new vm_page_prot (the complement of _PAGE_CHG_MASK). */
const PROT_LO_BITS = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_PROTNONE;

export function do_mprotect(m: MachineState, mm: MmStruct, start: number, length: number, prot: number): void {
  if (!Number.isInteger(start) || start < 0 || !isAligned(start, PAGE_SIZE)) fail('EINVAL', 'addr', `0x${start.toString(16)} is not page aligned`);
  if (!Number.isInteger(prot) || (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) !== 0) fail('EINVAL', 'prot', `unknown bits in 0x${prot.toString(16)}; allowed PROT_READ|PROT_WRITE|PROT_EXEC`);
  if (!Number.isInteger(length) || length < 0) fail('EINVAL', 'length', `must be a non-negative whole number of bytes, got ${length}`);
  const len = Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
  if (len === 0) return; // as in Linux: mprotect of zero length succeeds
  const end = start + len;
  if (end > m.mode.taskSize) fail('ENOMEM', 'length', 'range ends beyond TASK_SIZE');
  // The whole range must be mapped (ENOMEM otherwise), and each VMA must allow the new protection.
  let cursor = start;
  let i = mm.firstEndingAfter(start);
  while (cursor < end) {
    const v = mm.vmas[i];
    if (v === undefined || v.vm_start > cursor) fail('ENOMEM', 'addr', `0x${cursor.toString(16)} is not mapped`);
    if ((prot & PROT_WRITE) && !(v.vm_flags & VM_MAYWRITE)) fail('EACCES', 'prot', 'PROT_WRITE on a mapping that may not be written');
    if ((prot & PROT_READ) && !(v.vm_flags & VM_MAYREAD)) fail('EACCES', 'prot', 'PROT_READ on a mapping that may not be read');
    if ((prot & PROT_EXEC) && !(v.vm_flags & VM_MAYEXEC)) fail('EACCES', 'prot', 'PROT_EXEC on a mapping that may not be executed');
    cursor = v.vm_end;
    i++;
  }
  let newbits = 0;
  if (prot & PROT_READ) newbits |= VM_READ;
  if (prot & PROT_WRITE) newbits |= VM_WRITE | VM_READ;
  if (prot & PROT_EXEC) newbits |= VM_EXEC;
  // mprotect_fixup: a VMA whose flags do not change is left alone (not split); the others are split
  // to the range. Check every split first, so that an error leaves everything as it was.
  const changing = (v: VmAreaStruct) => (v.vm_flags & VM_ACCESS_FLAGS) !== newbits;
  const firstV = mm.vmas[mm.firstEndingAfter(start)]!;
  const lastV = mm.vmas[mm.firstEndingAfter(end - 1)]!;
  if (changing(firstV) || changing(lastV)) check_munmap_splits(mm, changing(firstV) ? start : firstV.vm_start, changing(lastV) ? end : lastV.vm_end);
  if (m.design.mprotect?.(m, mm, start, end, prot)) return;
  if (changing(firstV)) split_vma(m, mm, start);
  if (changing(lastV)) split_vma(m, mm, end);
  for (let k = mm.firstEndingAfter(start); k < mm.vmas.length && mm.vmas[k]!.vm_start < end; k++) {
    const vma = mm.vmas[k]!;
    if (!changing(vma)) continue;
    vma.vm_flags = (vma.vm_flags & ~VM_ACCESS_FLAGS) | newbits;
    vma_set_page_prot(vma);
    change_protection(m, vma, vma.vm_start, vma.vm_end);
  }
  mm.mmap_cache = null;
}

/** change_protection over [start, end) of `vma`. */
export function change_protection(m: MachineState, vma: VmAreaStruct, start: number, end: number): void {
  const tryWritable = !is_vm_hugetlb_page(vma) && vma_wants_manual_pte_write_upgrade(vma);
  const changed0 = m.events.ptesProtChanged;
  // hugetlb_change_protection's own mmu_gather (one per VMA).
  tlb_gather_begin(m);
  change_level(m, vma, vma.vm_mm.pgd, m.rootLevel, start, end, tryWritable);
  tlb_gather_end(m, vma.vm_mm);
  // change_protection -> flush_tlb_range(vma, start, end) once any entry changed: the whole range, in
  // strides of the VMA's page size (huge pages for hugetlb), against the 33-page ceiling.
  if (m.events.ptesProtChanged > changed0) {
    const stride = is_vm_hugetlb_page(vma) ? 2 ** vma.vm_file!.pageShift : 4096;
    flush_vma_range(m, vma, start, end, Math.ceil((end - start) / stride));
  }
}

function change_level(m: MachineState, vma: VmAreaStruct, t: number, level: number, start: number, end: number, tryWritable: boolean): void {
  const ent = m.pool.entries;
  const span = ENTRY_SPAN[level]!;
  let addr = start;
  while (addr < end) {
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const off = t * 1024 + (((addr / span) & 511) << 1);
    const lo = ent[off]!;
    if (lo !== 0 || ent[off + 1] !== 0) {
      if (level > 0 && (lo & _PAGE_PRESENT) !== 0 && (lo & _PAGE_PSE) === 0) {
        // A shared table is not edited on one mm's behalf: this mm unshares and refaults later
        // (hugetlb), unless the design edits it in place for every sharer (ptshare's host).
        if (m.design.protectSharedInPlace === true || !unshare_table(m, vma.vm_mm, off, level - 1)) {
          const child = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
          change_level(m, vma, child, level - 1, addr, next, tryWritable);
        }
      } else if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0) {
        change_pte(m, vma, off, tryWritable);
      }
    }
    addr = next;
  }
}

/** pte_modify with the VMA's new vm_page_prot, then maybe make it writable (can_change_pte_writable). */
function change_pte(m: MachineState, vma: VmAreaStruct, off: number, tryWritable: boolean): void {
  const ent = m.pool.entries;
  const old = ent[off]!;
  let lo = (old & ~PROT_LO_BITS) | (vma.prot_lo & PROT_LO_BITS);
  if ((old & _PAGE_SPECIAL) !== 0) lo &= ~_PAGE_RW; // the zero page is never writable
  if (tryWritable && (lo & _PAGE_RW) === 0 && (lo & _PAGE_PRESENT) !== 0 && can_change_pte_writable(m, vma, lo, ent[off + 1]!)) {
    lo |= _PAGE_RW;
  }
  ent[off] = lo;
  ent[off + 1] = (ent[off + 1]! & ~_PAGE_NX_HI) | (vma.prot_hi & _PAGE_NX_HI);
  if (lo !== old) m.events.ptesProtChanged++;
}

/**
 * can_change_pte_writable: never a uffd-wp-protected entry; private -> exclusive anonymous pages
 * only; shared -> already dirty.
 */
export function can_change_pte_writable(m: MachineState, vma: VmAreaStruct, lo: number, hi: number): boolean {
  if ((vma.vm_flags & VM_WRITE) === 0) return false;
  if ((lo & _PAGE_UFFD_WP) !== 0) return false;
  if ((vma.vm_flags & VM_SHARED) === 0) {
    if ((lo & _PAGE_SPECIAL) !== 0) return false;
    const f = (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
    const fl = m.folios.flags[f]!;
    return (fl & PG_anon) !== 0 && (fl & PG_anon_exclusive) !== 0;
  }
  return (lo & _PAGE_DIRTY) !== 0;
}
