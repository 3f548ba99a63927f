/**
 * /proc/<pid>/pagemap entries (fs/proc/task_mmu.c, Documentation/admin-guide/mm/pagemap.rst):
 * bits 0-54 PFN when present, 55 soft-dirty, 56 exclusively mapped, 57 uffd-wp, 61 file page or
 * shared anonymous, 62 swapped, 63 present. A page that is not mapped reads 0 (so does swapped-out
 * shmem, whose PTE is cleared: the 2021 pagemap thread).
 */
import { _PAGE_PRESENT, _PAGE_PROTNONE, _PAGE_SOFT_DIRTY, _PAGE_SPECIAL, _PAGE_UFFD_WP } from '../arch/pgtable_types.js';
import { PG_anon } from './folio.js';
import type { Machine } from './machine.js';
import type { MmStruct } from './mm_types.js';

export interface PagemapEntry {
  present: boolean;
  swapped: boolean;
  /** File page or shared anonymous (bit 61). */
  file: boolean;
  /** Bit 56: the page is mapped exactly once. */
  exclusive: boolean;
  uffdWp: boolean;
  softDirty: boolean;
  pfn: number;
  /** The 64-bit value as 16 hex digits. */
  raw: string;
}

export function pagemap_read(m: Machine, mm: MmStruct, addr: number): PagemapEntry {
  const off = m.follow_page(mm, addr);
  const e: PagemapEntry = { present: false, swapped: false, file: false, exclusive: false, uffdWp: false, softDirty: false, pfn: 0, raw: '0000000000000000' };
  if (off < 0 || !m.leafPresent(off)) return e;
  const lo = m.pool.entries[off]!;
  const f = (lo & _PAGE_SPECIAL) !== 0 ? -1 : m.leafFolio(off);
  e.present = (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
  e.softDirty = (lo & _PAGE_SOFT_DIRTY) !== 0;
  e.uffdWp = (lo & _PAGE_UFFD_WP) !== 0;
  e.file = f >= 0 && (m.folios.flags[f]! & PG_anon) === 0;
  e.exclusive = f >= 0 && m.folios.mapcount[f] === 1;
  e.pfn = f >= 0 ? f : 0;
  const hi = (e.present ? 0x80000000 : 0) | (e.file ? 1 << 29 : 0) | (e.uffdWp ? 1 << 25 : 0) | (e.exclusive ? 1 << 24 : 0) | (e.softDirty ? 1 << 23 : 0) | Math.floor(e.pfn / 2 ** 32);
  e.raw = (hi >>> 0).toString(16).padStart(8, '0') + ((e.pfn >>> 0) >>> 0).toString(16).padStart(8, '0');
  return e;
}
