import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  alignDown, alignUp, levelName, pagingMode, pmd_index, pte_index, pud_index, tableIndex,
} from '../../src/arch/pgtable_64_types.js';
import {
  _PAGE_DIRTY, _PAGE_PRESENT, _PAGE_RW, _PAGE_SOFT_DIRTY, _PAGE_SPECIAL, _PAGE_UFFD_WP, is_pte_marker, is_swap_pte,
  make_pte_marker_hi, make_pte_marker_lo, pfn_hi, pfn_lo, pte_none, pte_pfn, pte_present, PTE_MARKER_UFFD_WP,
  swp_entry_hi, swp_entry_lo, swp_offset, swp_type, SWP_PTE_MARKER,
} from '../../src/arch/pgtable_types.js';

test('kernel bit positions of x86-64 PTEs', () => {
  // arch/x86/include/asm/pgtable_types.h: _PAGE_BIT_PRESENT 0, _RW 1, _DIRTY 6, _SPECIAL 9 (SW1),
  // _UFFD_WP 10 (SW2), _SOFT_DIRTY 11 (SW3).
  assert.equal(_PAGE_PRESENT, 1);
  assert.equal(_PAGE_RW, 2);
  assert.equal(_PAGE_DIRTY, 64);
  assert.equal(_PAGE_SPECIAL, 512);
  assert.equal(_PAGE_UFFD_WP, 1024);
  assert.equal(_PAGE_SOFT_DIRTY, 2048);
});

test('PFNs round-trip through the two 32-bit halves of an entry', () => {
  for (const pfn of [0, 1, 0xfffff, 0x100000, 0x12345678, 2 ** 31 - 1]) {
    assert.equal(pte_pfn(pfn_lo(pfn) | _PAGE_PRESENT, pfn_hi(pfn)), pfn);
  }
});

test('swap entries: type in bits 59..63, inverted offset in 9..58, as x86-64 lays them out', () => {
  // offset 0 inverted is all ones in bits 9..58: lo = 0xfffffe00, hi = 0x07ffffff | type << 27.
  assert.equal(swp_entry_lo(3, 0) >>> 0, 0xfffffe00);
  assert.equal(swp_entry_hi(3, 0) >>> 0, (0x07ffffff | (3 << 27)) >>> 0);
  for (const [type, off] of [[0, 0], [1, 1], [5, 123456789], [22, 2 ** 50 - 1], [31, 7]] as const) {
    const lo = swp_entry_lo(type, off);
    const hi = swp_entry_hi(type, off);
    assert.equal(swp_type(hi), type);
    assert.equal(swp_offset(lo, hi), off);
    assert.ok(is_swap_pte(lo, hi));
    assert.ok(!pte_present(lo));
    assert.equal(lo & 0x181, 0, 'bits 0, 7, 8 are zero in a swap entry');
  }
});

test('PTE markers are swap entries of type SWP_PTE_MARKER = 31', () => {
  const lo = make_pte_marker_lo(PTE_MARKER_UFFD_WP);
  const hi = make_pte_marker_hi(PTE_MARKER_UFFD_WP);
  assert.equal(SWP_PTE_MARKER, 31);
  assert.ok(is_pte_marker(lo, hi));
  assert.equal(swp_offset(lo, hi), PTE_MARKER_UFFD_WP);
  assert.ok(!pte_none(lo, hi));
});

test('4-level and 5-level geometry', () => {
  const m4 = pagingMode(4);
  const m5 = pagingMode(5);
  assert.equal(m4.taskSize, 2 ** 47 - 4096);
  assert.equal(m5.taskSize, 2 ** 56 - 4096);
  assert.equal(levelName(3, 4), 'pgd');
  assert.equal(levelName(3, 5), 'p4d');
  assert.equal(levelName(4, 5), 'pgd');
  // 0x7f0000000000 = 254 * 512 GiB: pgd index 254, pud/pmd/pte index 0.
  const a = 0x7f0000000000 + 3 * 2 ** 30 + 5 * 2 ** 21 + 7 * 4096;
  assert.equal(tableIndex(a, 3), 254);
  assert.equal(pud_index(a), 3);
  assert.equal(pmd_index(a), 5);
  assert.equal(pte_index(a), 7);
  // Above 2^53 page-aligned addresses stay exact (LA57).
  const high = 2 ** 55 + 2 ** 48 * 3 + 4096 * 9;
  assert.equal(tableIndex(high, 4), 128 + 3);
  assert.equal(pte_index(high), 9);
  assert.equal(alignDown(a, 2 ** 21), 0x7f0000000000 + 3 * 2 ** 30 + 5 * 2 ** 21);
  assert.equal(alignUp(a, 2 ** 30), 0x7f0000000000 + 4 * 2 ** 30);
  assert.throws(() => pagingMode(3 as 4), /4 or 5/);
});
