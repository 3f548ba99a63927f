/**
 * madvise(MADV_DONTNEED) and clear_refs soft-dirty clearing (userfaultfd: userfaultfd.ts): the per-process changes whose interaction with shared page tables the sharing threads
 * argue about. Each asks the design first (it may refuse with a KernelError, or unshare).
 */
import { ENTRY_SPAN, PAGE_SIZE, isAligned } from '../arch/pgtable_64_types.js';
import { _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_PSE, _PAGE_RW, _PAGE_SOFT_DIRTY, PFN_HI_SHIFTED_MASK } from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { is_vm_hugetlb_page, VM_SOFTDIRTY, type VmAreaStruct } from './vma.js';
import { unmap_page_range } from './zap.js';
import { flush_vma_range, tlb_gather_begin, tlb_gather_end } from './tlbflush.js';
import { reclaim_pt_range } from './pt_reclaim.js';

/**
 * Check a madvise-style range: `start` page aligned, `length` positive (rounded up to pages), every
 * page mapped (ENOMEM otherwise). Returns the end.
 */
export function madvise_range(mm: MmStruct, start: number, length: number): number {
  if (!Number.isInteger(start) || start < 0 || !isAligned(start, PAGE_SIZE)) fail('EINVAL', 'addr', `0x${start.toString(16)} is not page aligned`);
  if (!Number.isInteger(length) || length <= 0) fail('EINVAL', 'length', `must be a positive whole number of bytes, got ${length}`);
  const end = start + Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
  for (let a = start; a < end;) {
    const v = mm.find_vma(a);
    if (v === null) fail('ENOMEM', 'addr', `0x${a.toString(16)} is not mapped`);
    a = v.vm_end;
  }
  return end;
}

function vmasIn(mm: MmStruct, start: number, end: number): VmAreaStruct[] {
  return mm.vmas.filter((v) => v.vm_start < end && v.vm_end > start);
}

/**
 * MADV_DONTNEED: zap the range; file pages refault from the page cache. The tables stay, except
 * the PTE tables emptied whole where the kernel has PT_RECLAIM (src/mm/pt_reclaim.ts).
 */
export function madvise_dontneed(m: MachineState, mm: MmStruct, start: number, length: number): void {
  const end = madvise_range(mm, start, length);
  m.design.madviseCheck?.(m, mm, start, end);
  for (const v of vmasIn(mm, start, end)) {
    const s = Math.max(start, v.vm_start);
    const e = Math.min(end, v.vm_end);
    if (is_vm_hugetlb_page(v)) {
      const h = 2 ** v.vm_file!.pageShift;
      if (!isAligned(s, h) || !isAligned(e, h)) fail('EINVAL', 'addr', `MADV_DONTNEED on hugetlb must cover whole ${h}-byte pages`);
    }
    const zapped0 = m.events.ptesZapped;
    tlb_gather_begin(m);
    unmap_page_range(m, v, s, e, false);
    tlb_gather_end(m, mm);
    // PT_RECLAIM frees the emptied PTE tables; the mmu_gather's flush below covers them (their
    // windows lie inside the flushed range).
    const tables0 = m.pool.inUse;
    if (!is_vm_hugetlb_page(v)) reclaim_pt_range(m, v, s, e);
    flush_vma_range(m, v, s, e, m.events.ptesZapped - zapped0, m.pool.inUse < tables0);
  }
}

/**
 * clear_refs with 4 (soft-dirty): every VMA starts tracking (VM_SOFTDIRTY cleared) and every present
 * PTE loses its soft-dirty bit and write permission, so the next write faults and sets it again.
 * hugetlb VMAs lose VM_SOFTDIRTY too, but their entries are skipped, as the kernel's walk does. A shared table is edited in place
 * (every sharer's PTEs change) unless the design unshares first.
 */
export function clear_refs_soft_dirty(m: MachineState, mm: MmStruct): void {
  for (const v of mm.vmas) {
    if (is_vm_hugetlb_page(v)) {
      // clear_refs_write() clears VM_SOFTDIRTY on every VMA, hugetlb included; its page walk has no
      // hugetlb_entry, so the huge entries themselves are left as they are (nothing to flush).
      v.vm_flags &= ~VM_SOFTDIRTY;
      continue;
    }
    m.design.softDirtyClear?.(m, v);
    v.vm_flags &= ~VM_SOFTDIRTY;
    // clear_refs ends with a flush of the whole mm (and of every sharer of a table it edited).
    if (clear_level(m, mm.pgd, m.rootLevel, v.vm_start, v.vm_end) > 0) flush_vma_range(m, v, v.vm_start, v.vm_end, Infinity);
  }
}

function clear_level(m: MachineState, t: number, level: number, start: number, end: number): number {
  const ent = m.pool.entries;
  const span = ENTRY_SPAN[level]!;
  let changed = 0;
  for (let addr = start; addr < end;) {
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const off = t * 1024 + (((addr / span) & 511) << 1);
    const lo = ent[off]!;
    if (level > 0 && (lo & _PAGE_PRESENT) !== 0 && (lo & _PAGE_PSE) === 0) {
      changed += clear_level(m, (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20), level - 1, addr, next);
    } else if (level === 0 && (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0) {
      const nlo = lo & ~(_PAGE_SOFT_DIRTY | _PAGE_RW);
      if (nlo !== lo) changed++;
      ent[off] = nlo;
    }
    addr = next;
  }
  return changed;
}
