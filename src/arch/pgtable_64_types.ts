/**
 * x86-64 paging geometry, after arch/x86/include/asm/pgtable_64_types.h.
 *
 * Every table, at every level, is one 4 KiB page of 512 eight-byte entries.
 * Table levels are numbered by how much one of their entries maps:
 *   level 0  PTE table   entry maps 4 KiB   (PAGE_SHIFT  12)
 *   level 1  PMD table   entry maps 2 MiB   (PMD_SHIFT   21)
 *   level 2  PUD table   entry maps 1 GiB   (PUD_SHIFT   30)
 *   level 3  P4D table   entry maps 512 GiB (P4D_SHIFT   39)  -- the PGD itself with 4-level paging
 *   level 4  PGD table   entry maps 256 TiB (PGDIR_SHIFT 48)  -- 5-level (LA57) only
 * With 4-level paging the P4D is folded into the PGD (PGDIR_SHIFT 39), as in the kernel.
 *
 * Addresses are JavaScript numbers. Page-aligned addresses are exact up to 2^65; byte addresses are
 * exact below 2^53. Index extraction uses `(addr / 2^shift) & 511`, which is exact for any exact
 * integer (ToInt32 keeps the low 32 bits), so no BigInt is needed anywhere.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
export const PMD_SHIFT = 21;
export const PMD_SIZE = 2 ** 21;
export const PUD_SHIFT = 30;
export const PUD_SIZE = 2 ** 30;
export const P4D_SHIFT = 39;
export const P4D_SIZE = 2 ** 39;
export const PTRS_PER_TABLE = 512;
/** Bytes of one table page: 512 entries of 8 bytes. */
export const TABLE_BYTES = 4096;
/** Int32 words per entry (low and high half of the 64-bit entry). */
export const WORDS_PER_ENTRY = 2;
/** Int32 words per table page. */
export const WORDS_PER_TABLE = PTRS_PER_TABLE * WORDS_PER_ENTRY;

export const LEVEL_PTE = 0;
export const LEVEL_PMD = 1;
export const LEVEL_PUD = 2;
export const LEVEL_P4D = 3;
export const LEVEL_PGD5 = 4;

/** Bytes mapped by one entry of a table at `level`. */
export const ENTRY_SPAN = [2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39, 2 ** 48] as const;
/**
 * 1 / ENTRY_SPAN: a multiplication by a power of two is exact, so Math.floor(addr * INV_ENTRY_SPAN[l])
 * equals Math.floor(addr / ENTRY_SPAN[l]), without a division where the level is not a constant.
 */
export const INV_ENTRY_SPAN = [2 ** -12, 2 ** -21, 2 ** -30, 2 ** -39, 2 ** -48] as const;
/** Bytes mapped by a whole table at `level` (512 entries). */
export const TABLE_SPAN = [2 ** 21, 2 ** 30, 2 ** 39, 2 ** 48, 2 ** 57] as const;

export type PagingLevels = 4 | 5;

export interface PagingMode {
  readonly levels: PagingLevels;
  /** Table level of the root (the PGD): 3 with 4-level paging, 4 with LA57. */
  readonly rootLevel: number;
  /** Virtual address bits: 48 or 57. */
  readonly vaBits: number;
  /** TASK_SIZE_MAX: top of user space, excluding the last (guard) page as x86 does. */
  readonly taskSize: number;
}

export function pagingMode(levels: PagingLevels): PagingMode {
  if (levels !== 4 && levels !== 5) {
    throw new RangeError(`paging levels must be 4 or 5 (LA57), got ${String(levels)}`);
  }
  const vaBits = levels === 5 ? 57 : 48;
  // x86: TASK_SIZE_MAX = (1 << (__VIRTUAL_MASK_SHIFT)) - PAGE_SIZE; __VIRTUAL_MASK_SHIFT = 47 or 56.
  return { levels, rootLevel: levels - 1, vaBits, taskSize: 2 ** (vaBits - 1) - PAGE_SIZE };
}

/** Name of a table level as a kernel developer says it, given the paging mode. */
export function levelName(level: number, levels: PagingLevels): 'pte' | 'pmd' | 'pud' | 'p4d' | 'pgd' {
  switch (level) {
    case 0: return 'pte';
    case 1: return 'pmd';
    case 2: return 'pud';
    case 3: return levels === 4 ? 'pgd' : 'p4d';
    case 4: return 'pgd';
    default: throw new RangeError(`no table level ${level}`);
  }
}

/** Index of `addr` in a table at `level`: pte_index, pmd_index, pud_index, p4d_index, pgd_index. */
export function tableIndex(addr: number, level: number): number {
  return (addr / ENTRY_SPAN[level]!) & 511;
}

export const pte_index = (addr: number): number => (addr / 4096) & 511;
export const pmd_index = (addr: number): number => (addr / 2097152) & 511;
export const pud_index = (addr: number): number => (addr / 1073741824) & 511;

/** Round down to a multiple of `size` (a power of two), exact for page-aligned or < 2^53 values. */
export function alignDown(addr: number, size: number): number {
  return Math.floor(addr / size) * size;
}

/** Round up to a multiple of `size` (a power of two). */
export function alignUp(addr: number, size: number): number {
  return Math.ceil(addr / size) * size;
}

export function isAligned(addr: number, size: number): boolean {
  return Number.isInteger(addr / size);
}
