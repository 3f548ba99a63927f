/**
 * free_pgtables -> free_pgd_range -> free_p4d/pud/pmd/pte_range (mm/memory.c), with the kernel's
 * floor/ceiling rule: after the VMAs in a range are zapped, a table goes when the whole region it
 * maps lies between the end of the previous remaining VMA (floor) and the start of the next one
 * (ceiling) — that is, when no remaining VMA can use it. A ceiling of 0 means the top of the address
 * space (USER_PGTABLES_CEILING), as in the kernel. Shared tables are unlinked from this mm instead.
 */
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { is_vm_hugetlb_page, type VmAreaStruct } from './vma.js';
import { unshare_table } from './zap.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const PMD_SIZE = geometry.PMD_SIZE;
const TABLE_SPAN = geometry.TABLE_SPAN;
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;

/** `end - 1 > ceiling - 1` in unsigned arithmetic, where ceiling 0 is 2^64. */
function beyond(end: number, ceiling: number): boolean {
  return ceiling !== 0 && end - 1 > ceiling - 1;
}

/**
 * free_pgtables over `vmas` (sorted, already detached and zapped), with floor = prev->vm_end (or 0)
 * and ceiling = next->vm_start (or 0 for the top).
 */
export function free_pgtables(m: MachineState, mm: MmStruct, vmas: readonly VmAreaStruct[], floor: number, ceiling: number): void {
  let i = 0;
  while (i < vmas.length) {
    let vma = vmas[i]!;
    const addr = vma.vm_start;
    let j = i + 1;
    if (!is_vm_hugetlb_page(vma)) {
      // Optimization: gather nearby vmas into one call down.
      while (j < vmas.length && vmas[j]!.vm_start <= vma.vm_end + PMD_SIZE && !is_vm_hugetlb_page(vmas[j]!)) {
        vma = vmas[j]!;
        j++;
      }
    }
    free_pgd_range(m, mm, addr, vma.vm_end, floor, j < vmas.length ? vmas[j]!.vm_start : ceiling);
    i = j;
  }
}

export function free_pgd_range(m: MachineState, mm: MmStruct, addr: number, end: number, floor: number, ceiling: number): void {
  addr = Math.floor(addr / PMD_SIZE) * PMD_SIZE;
  if (addr < floor) addr += PMD_SIZE;
  if (ceiling !== 0) {
    ceiling = Math.floor(ceiling / PMD_SIZE) * PMD_SIZE;
    if (ceiling === 0) return;
  }
  if (beyond(end, ceiling)) end -= PMD_SIZE;
  if (addr > end - 1) return;
  free_entries(m, mm, mm.pgd, m.rootLevel, addr, end, floor, ceiling);
}

/** Walk the entries of table `t` (level >= 1) over [addr, end), freeing the tables below. */
function free_entries(m: MachineState, mm: MmStruct, t: number, level: number, addr: number, end: number, floor: number, ceiling: number): void {
  const ent = m.pool.entries;
  const span = ENTRY_SPAN[level]!;
  do {
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const off = t * 1024 + (((addr / span) & 511) << 1);
    if (ent[off] !== 0 || ent[off + 1] !== 0) {
      if (!unshare_table(m, mm, off, level - 1)) {
        const child = (ent[off]! >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
        if (level === 1) {
          // free_pte_range: the PTE table goes unconditionally.
          ent[off] = 0;
          ent[off + 1] = 0;
          m.pool.free(child);
          mm.nr[0]!--;
        } else {
          free_table_range(m, mm, off, child, level - 1, addr, next, floor, ceiling);
        }
      }
    }
    addr = next;
  } while (addr !== end);
}

/** free_pmd_range / free_pud_range / free_p4d_range for the table `t` at `level` under entry `parentOff`. */
function free_table_range(m: MachineState, mm: MmStruct, parentOff: number, t: number, level: number, addr: number, end: number, floor: number, ceiling: number): void {
  const start = addr;
  free_entries(m, mm, t, level, addr, end, floor, ceiling);
  const region = TABLE_SPAN[level]!;
  const s = Math.floor(start / region) * region;
  if (s < floor) return;
  if (ceiling !== 0) {
    const c = Math.floor(ceiling / region) * region;
    if (c === 0) return;
    if (end - 1 > c - 1) return;
  }
  const ent = m.pool.entries;
  ent[parentOff] = 0;
  ent[parentOff + 1] = 0;
  m.pool.free(t);
  mm.nr[level]!--;
}
