/**
 * x86-64 page-table entry bits, after arch/x86/include/asm/pgtable_types.h and pgtable_64.h.
 *
 * An entry is 64 bits kept as two Int32 words: `lo` holds bits 0..31 and `hi` bits 32..63.
 * Present entries:
 *   bit 0 P, 1 RW, 2 US, 3 PWT, 4 PCD, 5 A, 6 D, 7 PS (PAT on 4 KiB PTEs), 8 G (PROTNONE when P=0),
 *   9 SW1 special, 10 SW2 uffd-wp, 11 SW3 soft-dirty, 12..51 PFN, 63 NX.
 * Non-present swap entries (L1TF-safe layout since 2018):
 *   bits 59..63 type (5 bits), bits 9..58 inverted offset, bit 1 swap soft-dirty, bit 2 swap uffd-wp,
 *   bit 3 swap AnonExclusive (_PAGE_SWP_EXCLUSIVE = _PAGE_PWT); bits 0, 7, 8 are zero.
 * PTE markers are swap entries of type SWP_PTE_MARKER whose offset carries PTE_MARKER_* bits.
 *
 * The PFN field of a leaf entry holds a folio number in the simulator's frame table; the PFN field of
 * a non-leaf entry holds the table-page number in the page-table pool. The model assigns no other
 * physical addresses. Folio and table numbers are below 2^31, so the PFN fits lo[12..31] + hi[0..10].
 */

// --- low word (bits 0..31) ---
export const _PAGE_PRESENT = 1 << 0;
export const _PAGE_RW = 1 << 1;
export const _PAGE_USER = 1 << 2;
export const _PAGE_PWT = 1 << 3;
export const _PAGE_PCD = 1 << 4;
export const _PAGE_ACCESSED = 1 << 5;
export const _PAGE_DIRTY = 1 << 6;
export const _PAGE_PSE = 1 << 7;
export const _PAGE_GLOBAL = 1 << 8;
/** P=0 and bit 8 set: PROT_NONE (and NUMA hinting) entries, which count as present to the kernel. */
export const _PAGE_PROTNONE = _PAGE_GLOBAL;
export const _PAGE_SPECIAL = 1 << 9;
export const _PAGE_UFFD_WP = 1 << 10;
export const _PAGE_SOFT_DIRTY = 1 << 11;
/** Low word bits that are PFN (bits 12..31). */
export const PTE_PFN_LO_MASK = 0xfffff000 | 0;
/** Low word bits that are flags (bits 0..11). */
export const PTE_FLAGS_LO_MASK = 0xfff;

// --- high word (bits 32..63) ---
/** Bit 63 NX, as bit 31 of the high word. */
export const _PAGE_NX_HI = 1 << 31;
/** High word bits that are PFN (bits 32..51). */
export const PTE_PFN_HI_MASK = 0xfffff;

/** _KERNPG_TABLE-style flags for a non-leaf entry pointing at a user table: P|RW|US|A|D. */
export const _PAGE_TABLE = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED | _PAGE_DIRTY;

// --- swap entries ---
export const SWP_TYPE_BITS = 5;
/** First offset bit: _PAGE_BIT_PROTNONE + 1. */
export const SWP_OFFSET_FIRST_BIT = 9;
export const _PAGE_SWP_SOFT_DIRTY = 1 << 1;
export const _PAGE_SWP_UFFD_WP = 1 << 2;
export const _PAGE_SWP_EXCLUSIVE = _PAGE_PWT;
/**
 * Swap types reserved at the top of the 5-bit type space (include/linux/swap.h, 6.5+, with
 * CONFIG_DEVICE_PRIVATE, CONFIG_MIGRATION, CONFIG_MEMORY_FAILURE and CONFIG_PTE_MARKER):
 * MAX_SWAPFILES = 32 - 4 - 3 - 1 - 1 = 23; SWP_HWPOISON = 23; SWP_MIGRATION_* = 24..26;
 * SWP_DEVICE_* = 27..30; SWP_PTE_MARKER = 31.
 */
export const MAX_SWAPFILES = 23;
export const SWP_HWPOISON = 23;
export const SWP_PTE_MARKER = 31;
export const PTE_MARKER_UFFD_WP = 1 << 0;
export const PTE_MARKER_POISONED = 1 << 1;
export const PTE_MARKER_GUARD = 1 << 2;
/**
 * Not in any kernel: the marker Peter Xu proposed for paged-out shmem ("mm: Enable PM_SWAP for shmem
 * with PTE_MARKER", Aug 2021, CONFIG_PTE_MARKER_PAGEOUT, not merged), so that pagemap can report a
 * swapped shmem page without a page-cache lookup. The bit value is the model's choice.
 */
export const PTE_MARKER_PAGEOUT = 1 << 4;

/** Offset bits that fit below bit 32 (9..31): 23 bits. */
const SWP_OFFSET_LO_BITS = 32 - SWP_OFFSET_FIRST_BIT;
/** Offset bits 9..58 are 50 bits; those above the low word go to hi bits 0..26. */
const SWP_OFFSET_HI_MASK = (1 << 27) - 1;
const SWP_TYPE_SHIFT_HI = 27;

export function pte_present(lo: number): boolean {
  return (lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) !== 0;
}

export function pte_none(lo: number, hi: number): boolean {
  return lo === 0 && hi === 0;
}

/** PFN of a present entry (a folio number or a table number here). */
export function pte_pfn(lo: number, hi: number): number {
  return (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
}

export function pfn_lo(pfn: number): number {
  return (pfn << 12) | 0;
}

export function pfn_hi(pfn: number): number {
  return pfn >>> 20;
}

/** A non-present, non-none entry: a swap entry, migration entry or PTE marker. */
export function is_swap_pte(lo: number, hi: number): boolean {
  return !pte_present(lo) && !pte_none(lo, hi);
}

/** Encode a swap entry (type, offset) as x86-64 does: offset inverted in bits 9..58, type in 59..63. */
export function swp_entry_lo(type: number, offset: number): number {
  void type;
  const inv = ~offset; // low 32 bits of the inverted offset
  return ((inv << SWP_OFFSET_FIRST_BIT) & ~0x1ff) | 0;
}

export function swp_entry_hi(type: number, offset: number): number {
  if (type < 0 || type > 31) throw new RangeError(`swap type ${type} outside 0..31`);
  if (!Number.isInteger(offset) || offset < 0 || offset >= 2 ** 50) {
    throw new RangeError(`swap offset ${offset} outside 0..2^50-1`);
  }
  // Offset bits [23, 50) land in hi bits 0..26, inverted.
  const high = Math.floor(offset / 2 ** SWP_OFFSET_LO_BITS);
  return ((~high & SWP_OFFSET_HI_MASK) | (type << SWP_TYPE_SHIFT_HI)) | 0;
}

export function swp_type(hi: number): number {
  return hi >>> SWP_TYPE_SHIFT_HI;
}

export function swp_offset(lo: number, hi: number): number {
  const low = (~lo >>> SWP_OFFSET_FIRST_BIT) & ((1 << SWP_OFFSET_LO_BITS) - 1);
  const high = ~hi & SWP_OFFSET_HI_MASK;
  return high * 2 ** SWP_OFFSET_LO_BITS + low;
}

export function make_pte_marker_lo(marker: number): number {
  return swp_entry_lo(SWP_PTE_MARKER, marker);
}

export function make_pte_marker_hi(marker: number): number {
  return swp_entry_hi(SWP_PTE_MARKER, marker);
}

/** set_pte_at(make_pte_marker(marker)): write a marker into the entry at word offset `off`. */
export function set_pte_marker(ent: Int32Array, off: number, marker: number): void {
  ent[off] = make_pte_marker_lo(marker);
  ent[off + 1] = make_pte_marker_hi(marker);
}

/** The PTE_MARKER_* bits of a marker entry (pte_marker_get: its swap offset). */
export function pte_marker_get(lo: number, hi: number): number {
  return swp_offset(lo, hi);
}

export function is_pte_marker(lo: number, hi: number): boolean {
  return is_swap_pte(lo, hi) && swp_type(hi) === SWP_PTE_MARKER;
}

// --- protection_map (arch/x86/mm/pgprot.c) as low-word bits + NX ---
export const PAGE_NONE_LO = _PAGE_PROTNONE | _PAGE_ACCESSED;
export const PAGE_READONLY_LO = _PAGE_PRESENT | _PAGE_USER | _PAGE_ACCESSED;
export const PAGE_SHARED_LO = _PAGE_PRESENT | _PAGE_RW | _PAGE_USER | _PAGE_ACCESSED;

/**
 * Folio and table numbers are below 2^31, so a PFN is `(lo >>> 12) | ((hi & 0x7ff) << 20)`: pure
 * int32 arithmetic, which keeps the hot loops free of float conversions and boxing.
 */
export const PFN_HI_SHIFTED_MASK = 0x7ff;

/** The bits pte_mkdirty() sets on x86: dirty and soft-dirty (a hardware-set D bit sets only _PAGE_DIRTY). */
export const PTE_MKDIRTY = _PAGE_DIRTY | _PAGE_SOFT_DIRTY;
