/**
 * /proc/<pid>/pagemap, after fs/proc/task_mmu.c (pagemap_read -> pagemap_pmd_range /
 * pagemap_pte_hole / pagemap_hugetlb_range -> pte_to_pagemap_entry) and
 * Documentation/admin-guide/mm/pagemap.rst. One 64-bit entry per 4 KiB page, kept here as two 32-bit
 * words (low, high): bits 0-54 PFN when present, or swap type (0-4) and offset (5-54) when swapped;
 * 55 soft-dirty; 56 exclusively mapped; 57 uffd-wp; 61 file page or shared anonymous; 62 swapped;
 * 63 present. The PFN field holds the model's folio number (the simulator has no physical
 * addresses; every 4 KiB part of a huge folio reports the folio's number).
 *
 * Kernel details kept: every entry of a VMA with VM_SOFTDIRTY (the default until clear_refs) has the
 * soft-dirty bit, mapped or not; PTE markers are swap entries to pagemap (PM_SWAP, frame = type |
 * offset << 5) and a uffd-wp marker adds PM_UFFD_WP; the zero page is present but neither file nor
 * exclusive (vm_normal_page is NULL).
 *
 * Swapped-out shmem (the 2021 thread): its PTE is cleared at reclaim, so today's kernel reports the
 * page like one never touched. The machine option `shmemSwapReport` picks the variant:
 * - 'none': today's kernel.
 * - 'pagecache-lookup': Tiberiu Georgescu's patch: every empty entry of a shmem VMA costs one
 *   page-cache (XArray) lookup, and a swap entry found there is reported (PM_SWAP + location).
 *   Counted in VmEvents.pagemapLookups.
 * - 'pte-marker': Peter Xu's counter-proposal: reclaim leaves a PTE_MARKER_PAGEOUT marker (vmscan.ts),
 *   read here like any marker; no lookup, but a marker per mapping and a marker fault at swap-in.
 */
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { PG_anon } from './folio.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import { VM_SOFTDIRTY, type VmAreaStruct } from './vma.js';


/** High-word bits of a pagemap entry (bit n of the entry is bit n - 32 here). */
export const PM_SOFT_DIRTY_HI = 1 << 23;
export const PM_MMAP_EXCLUSIVE_HI = 1 << 24;
export const PM_UFFD_WP_HI = 1 << 25;
export const PM_FILE_HI = 1 << 29;
export const PM_SWAP_HI = 1 << 30;
export const PM_PRESENT_HI = 1 << 31;
/** The swap type takes the low 5 bits of the frame field (MAX_SWAPFILES_SHIFT). */
export const MAX_SWAPFILES_SHIFT = 5;
const SWP_FRAME_SCALE = 2 ** MAX_SWAPFILES_SHIFT;

const ENTRY_SPAN = geometry.ENTRY_SPAN;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_SOFT_DIRTY = pgtable_types._PAGE_SOFT_DIRTY;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const _PAGE_SWP_SOFT_DIRTY = pgtable_types._PAGE_SWP_SOFT_DIRTY;
const _PAGE_SWP_UFFD_WP = pgtable_types._PAGE_SWP_UFFD_WP;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const PTE_MARKER_UFFD_WP = pgtable_types.PTE_MARKER_UFFD_WP;
const SWP_PTE_MARKER = pgtable_types.SWP_PTE_MARKER;
const SWP_OFFSET_LO_SPAN = 2 ** 23;
const SWP_OFFSET_HI_MASK = (1 << 27) - 1;
const TWO_POW_32 = 2 ** 32;

/** Write `frame` (below 2^55) and the high-word flags as entry `i` of `out`. */
function put(out: Uint32Array, i: number, frame: number, flags: number): void {
  out[2 * i] = frame >>> 0;
  out[2 * i + 1] = (frame < TWO_POW_32 ? flags : Math.floor(frame / TWO_POW_32) | flags) >>> 0;
}

/**
 * pagemap entries for [start, end) (page aligned) of `mm` into `out` (two words per page, low first).
 * Returns the number of entries written. Counts VmEvents.pagemapEntries and pagemapLookups.
 */
export function pagemap_read_range(m: MachineState, mm: MmStruct, start: number, end: number, out: Uint32Array): number {
  if (!Number.isInteger(start) || start < 0 || start % 4096 !== 0) fail('EINVAL', 'addr', `0x${start.toString(16)} is not page aligned`);
  if (!Number.isInteger(end) || end <= start || end % 4096 !== 0) fail('EINVAL', 'length', `the range must end on a page boundary after its start, got end 0x${end.toString(16)}`);
  const n = (end - start) / 4096;
  if (out.length < 2 * n) fail('EINVAL', 'buffer', `${n} entries need ${2 * n} words, the buffer has ${out.length}`);
  let i = 0;
  let addr = start;
  while (addr < end) {
    const k = mm.firstEndingAfter(addr);
    const vma = k < mm.vmas.length ? mm.vmas[k]! : null;
    if (vma === null || vma.vm_start >= end) {
      // pagemap_pte_hole with no VMA: zeros.
      for (; addr < end; addr += 4096) put(out, i++, 0, 0);
      break;
    }
    for (; addr < vma.vm_start; addr += 4096) put(out, i++, 0, 0);
    const vend = Math.min(end, vma.vm_end);
    i = pagemap_vma(m, mm, vma, addr, vend, out, i);
    addr = vend;
  }
  m.events.pagemapEntries += i;
  return i;
}

/** The entries of [start, end) inside `vma`, walking one PMD (2 MiB) span at a time. */
function pagemap_vma(m: MachineState, mm: MmStruct, vma: VmAreaStruct, start: number, end: number, out: Uint32Array, i: number): number {
  const ent = m.pool.entries;
  const sd = (vma.vm_flags & VM_SOFTDIRTY) !== 0 ? PM_SOFT_DIRTY_HI : 0;
  const file = vma.vm_file;
  const lookup = m.shmemSwapReport === 'pagecache-lookup' && file !== null && file.kind === 'shmem' ? file : null;
  for (let addr = start; addr < end;) {
    // Walk down to the PMD entry, stopping early at an empty entry or a huge leaf.
    let t = mm.pgd;
    let level = m.rootLevel;
    let off: number;
    for (;;) {
      off = t * 1024 + (((addr / ENTRY_SPAN[level]!) & 511) << 1);
      const lo = ent[off]!;
      if (level === 1 || (lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_PSE) !== 0) break;
      t = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
      level--;
    }
    const span = ENTRY_SPAN[level]!;
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const lo = ent[off]!;
    const hi = ent[off + 1]!;
    if (lo === 0 && hi === 0) {
      // pagemap_pte_hole: no table below this entry.
      for (; addr < next; addr += 4096) i = pte_none_entry(m, vma, lookup, addr, sd, out, i);
    } else if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_PSE) !== 0) {
      // A huge leaf (hugetlb PMD/PUD) or a marker in its place: every 4 KiB part reports it.
      // pagemap_hugetlb_range: never exclusive in a shared PMD table (hugetlb_pmd_shared()).
      const inSharedTable = m.pool.shareCount[off >>> 10]! > 0;
      for (; addr < next; addr += 4096) i = pte_to_pagemap_entry(m, lo, hi, sd, out, i, inSharedTable);
    } else {
      // pagemap_pte_range over the PTE table.
      const pt = (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
      for (; addr < next; addr += 4096) {
        const o = pt * 1024 + (((addr / 4096) & 511) << 1);
        const plo = ent[o]!;
        const phi = ent[o + 1]!;
        i = plo === 0 && phi === 0 ? pte_none_entry(m, vma, lookup, addr, sd, out, i) : pte_to_pagemap_entry(m, plo, phi, sd, out, i);
      }
    }
  }
  return i;
}

/** An empty entry: 0 (plus VM_SOFTDIRTY), or under 'pagecache-lookup' the shmem page cache's answer. */
function pte_none_entry(m: MachineState, vma: VmAreaStruct, lookup: VmAreaStruct['vm_file'], addr: number, sd: number, out: Uint32Array, i: number): number {
  if (lookup !== null) {
    m.events.pagemapLookups++;
    const swapped = lookup.swapped;
    if (swapped !== null) {
      const s = swapped.get((addr - vma.vm_start) / 4096 + vma.vm_pgoff);
      if (s !== undefined) {
        // Swap type 0, offset = the slot; a shmem page is a file page to pagemap.
        put(out, i, s.slot * SWP_FRAME_SCALE, PM_SWAP_HI | PM_FILE_HI | sd);
        return i + 1;
      }
    }
  }
  put(out, i, 0, sd);
  return i + 1;
}

/**
 * pte_to_pagemap_entry for a non-empty leaf (PTE, huge PMD/PUD, or a swap entry / marker).
 * `inSharedTable`: a hugetlb leaf in a PMD table shared with other mms, which
 * pagemap_hugetlb_range() never reports as PM_MMAP_EXCLUSIVE.
 */
function pte_to_pagemap_entry(m: MachineState, lo: number, hi: number, sd: number, out: Uint32Array, i: number, inSharedTable = false): number {
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0) {
    // A hugetlb leaf is soft-dirty only through its VMA's VM_SOFTDIRTY (pagemap_hugetlb_range).
    const leafSoftDirty = (lo & _PAGE_PSE) === 0 && (lo & _PAGE_SOFT_DIRTY) !== 0;
    let flags = PM_PRESENT_HI | sd | (leafSoftDirty ? PM_SOFT_DIRTY_HI : 0) | ((lo & _PAGE_UFFD_WP) !== 0 ? PM_UFFD_WP_HI : 0);
    let frame = 0;
    if ((lo & _PAGE_SPECIAL) === 0) {
      frame = (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
      const fo = m.folios;
      if ((fo.flags[frame]! & PG_anon) === 0) flags |= PM_FILE_HI;
      if (fo.mapcount[frame] === 1 && !inSharedTable) flags |= PM_MMAP_EXCLUSIVE_HI;
    }
    put(out, i, frame, flags);
    return i + 1;
  }
  // is_swap_pte: a swap entry or a PTE marker (swp_type / swp_offset inlined: x86-64 stores the
  // offset inverted in bits 9..58 and the type in bits 59..63).
  const type = hi >>> 27;
  const offset = (~hi & SWP_OFFSET_HI_MASK) * SWP_OFFSET_LO_SPAN + ((~lo >>> 9) & (SWP_OFFSET_LO_SPAN - 1));
  let flags = PM_SWAP_HI | sd | ((lo & _PAGE_SWP_SOFT_DIRTY) !== 0 ? PM_SOFT_DIRTY_HI : 0) | ((lo & _PAGE_SWP_UFFD_WP) !== 0 ? PM_UFFD_WP_HI : 0);
  if (type === SWP_PTE_MARKER && (offset & PTE_MARKER_UFFD_WP) !== 0) flags |= PM_UFFD_WP_HI;
  put(out, i, type + offset * SWP_FRAME_SCALE, flags);
  return i + 1;
}

/** How many of the first `n` entries in `buf` have PM_SWAP. */
export function pagemap_count_swapped(buf: Uint32Array, n: number): number {
  let k = 0;
  for (let i = 0; i < n; i++) if ((buf[2 * i + 1]! & PM_SWAP_HI) !== 0) k++;
  return k;
}

/** One pagemap entry, decoded. */
export interface PagemapEntry {
  present: boolean;
  swapped: boolean;
  /** File page or shared anonymous (bit 61). */
  file: boolean;
  /** Bit 56: the page is mapped exactly once. */
  exclusive: boolean;
  uffdWp: boolean;
  softDirty: boolean;
  /** Bits 0-54: the folio number when present; swap type | offset << 5 when swapped. */
  frame: number;
  /** The 64-bit value as 16 hex digits. */
  raw: string;
}

const one = new Uint32Array(2);

/** The pagemap entry of the page at `addr`, decoded. */
export function pagemap_read(m: MachineState, mm: MmStruct, addr: number): PagemapEntry {
  const page = addr - (addr % 4096);
  pagemap_read_range(m, mm, page, page + 4096, one);
  return decode_pagemap_entry(one[0]!, one[1]!);
}

export function decode_pagemap_entry(lo: number, hi: number): PagemapEntry {
  return {
    present: (hi & PM_PRESENT_HI) !== 0,
    swapped: (hi & PM_SWAP_HI) !== 0,
    file: (hi & PM_FILE_HI) !== 0,
    exclusive: (hi & PM_MMAP_EXCLUSIVE_HI) !== 0,
    uffdWp: (hi & PM_UFFD_WP_HI) !== 0,
    softDirty: (hi & PM_SOFT_DIRTY_HI) !== 0,
    frame: (hi & 0x7fffff) * TWO_POW_32 + (lo >>> 0),
    raw: (hi >>> 0).toString(16).padStart(8, '0') + (lo >>> 0).toString(16).padStart(8, '0'),
  };
}
