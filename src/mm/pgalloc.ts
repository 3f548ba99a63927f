/**
 * Page-table allocation, walk and locks on the fault path (mm/memory.c's __pte_alloc & co.,
 * pmd_populate, the split PTE/PMD locks and mm->page_table_lock): every table a fault installs comes
 * through pgtable_alloc, which asks the sharing design first (src/mm/pt_share.ts).
 */

import type { MachineState } from './machine_types.js';
import type { VmAreaStruct } from './vma.js';
import type { MmStruct } from './mm_types.js';
import * as pgtable_pool_mod from './pgtable_pool.js';
import type { VmFault } from './vm_fault.js';
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import * as spinlock from './spinlock.js';
import { entry_table } from './pagewalk.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const _PAGE_TABLE = pgtable_types._PAGE_TABLE;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const LOCK_PTE_PTL = spinlock.LOCK_PTE_PTL;
const LOCK_PMD_PTL = spinlock.LOCK_PMD_PTL;
const LOCK_PAGE_TABLE = spinlock.LOCK_PAGE_TABLE;
const spin_lock = spinlock.spin_lock;
const spin_unlock = spinlock.spin_unlock;
const PTL_STRIDE = pgtable_pool_mod.PTL_STRIDE;
/** 1 / ENTRY_SPAN[L]: multiplying by a power-of-two reciprocal is exact and cheaper than dividing. */
const INV_SPAN = Float64Array.from(ENTRY_SPAN, (s) => 1 / s);

/**
 * __pte_alloc / __pmd_alloc / __pud_alloc / __p4d_alloc: install a table of `level` for m.vmf.address
 * under the empty upper entry at word offset `parentOff`. The sharing design may hand back an
 * existing table. (The address is not an argument: passing it would box it on every fault.)
 */
export function pgtable_alloc(m: MachineState, vma: VmAreaStruct, level: number, parentOff: number): number {
  // The single-CPU path stays free of locks and try/finally: it is inlined into the fault walk.
  if (!m.smp) return install_new_table(m, vma, level, parentOff);
  // On concurrent CPUs, under the upper table's lock, with the entry checked again: another CPU may
  // have populated it (the kernel then frees the table it allocated before taking the lock; here the
  // table is allocated under the lock, so the pool's allocation counts stay those of one CPU).
  const mm = vma.vm_mm;
  ptl_lock(m, mm, parentOff, level + 1);
  try {
    const ent = m.pool.entries;
    if (!pte_none(ent, parentOff)) return (ent[parentOff]! >>> 12) | ((ent[parentOff + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    return install_new_table(m, vma, level, parentOff);
  } finally {
    ptl_unlock(m, mm, parentOff, level + 1);
  }
}

/** A table of `level` from the design (or a fresh one) linked at the empty entry `parentOff`. */
export function install_new_table(m: MachineState, vma: VmAreaStruct, level: number, parentOff: number): number {
  let t = m.design.shareTable(m, vma, m.vmf.address, level);
  if (t < 0) t = m.pool.alloc(level);
  set_table_entry(m.pool.entries, parentOff, t);
  vma.vm_mm.nr[level]!++;
  return t;
}

/**
 * pmd_populate & co.: point the upper entry at word `off` to table `t`. The high word first, then the
 * low word with a releasing store (smp_wmb), so a CPU that sees the entry also sees the zeroed table.
 */
export function set_table_entry(ent: Int32Array, off: number, t: number): void {
  ent[off + 1] = (t >>> 20) & PFN_HI_SHIFTED_MASK;
  Atomics.store(ent, off, (t << 12) | _PAGE_TABLE);
}

/**
 * The lock that guards the entries of the table of `tableLevel` holding word `off` in `mm`: the table's
 * own split lock for PTE and PMD tables (pte_lockptr, pmd_lockptr), mm->page_table_lock above (pud_lock
 * and the p4d/pgd populate paths); the pgd's ptl word stands for mm->page_table_lock. Taken only on
 * concurrent CPUs.
 */
export function ptl_lock(m: MachineState, mm: MmStruct, off: number, tableLevel: number): void {
  if (!m.smp) return;
  const cls = tableLevel === 0 ? LOCK_PTE_PTL : tableLevel === 1 ? LOCK_PMD_PTL : LOCK_PAGE_TABLE;
  spin_lock(m.pool.ptl, ptl_word(mm, off, tableLevel), m.lockstat, cls, m.locks);
}

export function ptl_unlock(m: MachineState, mm: MmStruct, off: number, tableLevel: number): void {
  if (m.smp) spin_unlock(m.pool.ptl, ptl_word(mm, off, tableLevel));
}

/** The lock word of that table: its own for PTE and PMD tables, the PGD's (page_table_lock) above. */
export function ptl_word(mm: MmStruct, off: number, tableLevel: number): number {
  return (tableLevel <= 1 ? off >>> 10 : mm.pgd) * PTL_STRIDE;
}

/** pte_offset_map_lock / pte_unmap_unlock: ptl_lock of the fault's PTE table, kept apart for the hot path (no level to decode). */
export function pte_lock(m: MachineState, vmf: VmFault): void {
  if (m.smp) spin_lock(m.pool.ptl, vmf.table * PTL_STRIDE, m.lockstat, LOCK_PTE_PTL, m.locks);
}

export function pte_unlock(m: MachineState, vmf: VmFault): void {
  if (m.smp) spin_unlock(m.pool.ptl, vmf.table * PTL_STRIDE);
}

/** pte_none at word `poff` (rechecked under the PTE lock: another CPU may have filled it). */
export function pte_none(ent: Int32Array, poff: number): boolean {
  return ent[poff] === 0 && ent[poff + 1] === 0;
}

/**
 * Walk `vma`'s mm towards m.vmf.address, allocating missing tables above `level` (through the design,
 * like any fault), and return the word offset of the entry that points (or will point) at the table
 * of `level`.
 */
export function walk_alloc(m: MachineState, vma: VmAreaStruct, level: number): number {
  const ent = m.pool.entries;
  const addr = m.vmf.address;
  let t = vma.vm_mm.pgd;
  for (let l = m.rootLevel; ; l--) {
    const off = t * 1024 + (((addr * INV_SPAN[l]!) & 511) << 1);
    if (l === level + 1) return off;
    const lo = ent[off]!;
    t = lo === 0 && ent[off + 1] === 0 ? pgtable_alloc(m, vma, l - 1, off) : (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }
}

/**
 * Point `vma`'s mm at the shared table `t` of `level` for m.vmf.address (its upper tables are its
 * own), if its entry there is still empty: the link a host-mm design makes after a host fault.
 */
export function link_shared_table(m: MachineState, vma: VmAreaStruct, level: number, t: number): void {
  const off = walk_alloc(m, vma, level);
  const ent = m.pool.entries;
  if (!pte_none(ent, off)) return;
  // Under the upper table's lock, as pgtable_alloc: another CPU of this mm may have linked it.
  const mm = vma.vm_mm;
  ptl_lock(m, mm, off, level + 1);
  if (pte_none(ent, off)) {
    m.pool.shareInc(t);
    set_table_entry(ent, off, t);
    mm.nr[level]!++;
    mm.linked[level]!++;
  }
  ptl_unlock(m, mm, off, level + 1);
}

/**
 * find_shared_vma() of the host-mm series (ptshare's RFC at the PMD entry, mshare v3 at the entry
 * above the PUD table): walk the sharer's mm at m.vmf.address and the host's at `hostAddr` to the
 * entry that points at the table of `level`, allocating missing tables in each. When the entries
 * differ, the host's is copied into the sharer (its table linked, not counted in the sharer's
 * mm_pgtables_bytes) and the caller returns VM_FAULT_NOPAGE, so the access retries: true. When they
 * agree the fault runs in the host: false. m.vmf.address is left at the sharer's address.
 */
export function copy_host_entry(m: MachineState, vma: VmAreaStruct, hvma: VmAreaStruct, hostAddr: number, level: number): boolean {
  const ent = m.pool.entries;
  const addr = m.vmf.address;
  m.vmf.address = hostAddr;
  const hostOff = walk_alloc(m, hvma, level);
  m.vmf.address = addr;
  const guestOff = walk_alloc(m, vma, level);
  if (ent[guestOff] === ent[hostOff] && ent[guestOff + 1] === ent[hostOff + 1]) return false;
  // The host never unlinks a table while sharers exist, so the entry only ever goes from empty to
  // the host's table; link_shared_table takes the sharer's lock for it.
  const t = entry_table(ent, hostOff);
  if (t >= 0) link_shared_table(m, vma, level, t);
  return true;
}

/** pte_alloc: install the PTE table under the empty PMD entry of this fault. */
export function pte_alloc(m: MachineState, vmf: VmFault): void {
  const t = pgtable_alloc(m, vmf.vma!, 0, vmf.pmdOff);
  vmf.table = t;
  vmf.poff = t * 1024 + (((vmf.address * INV_SPAN[0]!) & 511) << 1);
}

/** Install a leaf PTE for folio `f` with protection from the VMA (set_pte_at). */
export function set_pte(ent: Int32Array, poff: number, f: number, lo: number, hi: number): void {
  ent[poff] = (f << 12) | lo;
  ent[poff + 1] = (f >>> 20) | hi;
}
