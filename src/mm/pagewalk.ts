/**
 * Read-only page-table lookups (cf. mm/pagewalk.c and huge_pte_offset): the table at `level` that
 * maps `addr` in `mm`, and the word offset of the upper entry that points at it.
 */
import { ENTRY_SPAN } from '../arch/pgtable_64_types.js';
import { _PAGE_PRESENT, _PAGE_PSE, PFN_HI_SHIFTED_MASK } from '../arch/pgtable_types.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';

/**
 * Walk `mm` down to the entry (at table level `level + 1`) that points at the table of `level`
 * covering `addr`. Returns that entry's word offset, or -1 if the walk stops earlier (an empty entry
 * or a huge leaf above).
 */
export function entry_of_table(m: MachineState, mm: MmStruct, addr: number, level: number): number {
  const ent = m.pool.entries;
  let t = mm.pgd;
  for (let l = m.rootLevel; l > level; l--) {
    const off = t * 1024 + (((addr / ENTRY_SPAN[l]!) & 511) << 1);
    const lo = ent[off]!;
    if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_PSE) !== 0) return -1;
    if (l === level + 1) return off;
    t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
  }
  return -1;
}

/** The table of `level` covering `addr` in `mm`, or -1. */
export function table_of(m: MachineState, mm: MmStruct, addr: number, level: number): number {
  const off = entry_of_table(m, mm, addr, level);
  if (off < 0) return -1;
  const ent = m.pool.entries;
  return (ent[off]! >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
}

/** The table the upper entry at word `off` points at, or -1 when it is empty or a huge leaf. */
export function entry_table(ent: Int32Array, off: number): number {
  const lo = ent[off]!;
  if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_PSE) !== 0) return -1;
  return (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
}
