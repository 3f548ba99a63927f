/**
 * fork's table copy, after mm/memory.c: vma_needs_copy -> copy_page_range -> copy_p4d/pud/pmd_range
 * -> copy_pte_range -> copy_present_pte / copy_present_page, and copy_hugetlb_page_range.
 *
 * - Only VMAs that need it are copied: uffd-wp in the child, VM_PFNMAP/VM_MIXEDMAP, or an anon_vma.
 *   MAP_SHARED (and never-written private file) mappings are refaulted lazily by the child.
 * - The child gets a table wherever the parent has one inside the VMA, even an empty one.
 * - Present anonymous pages: AnonExclusive cleared, reference and mapcount raised; in a COW mapping a
 *   writable PTE is write-protected in parent *and* child; the child's PTE is old; shared mappings
 *   are clean in the child; uffd-wp is cleared unless the child VMA has uffd-wp.
 * - A possibly DMA-pinned anonymous page (MMF_HAS_PINNED + folio_maybe_dma_pinned) is copied eagerly.
 */
import * as geometry from '../arch/pgtable_64_types.js';
import * as pgtable_types from '../arch/pgtable_types.js';
import * as folio_flags from './folio.js';
import type { MachineState } from './machine_types.js';
import type { MmStruct } from './mm_types.js';
import * as mm_counters from './mm_types.js';
import { is_cow_mapping, userfaultfd_wp, type VmAreaStruct } from './vma.js';
import * as vm_flags from './vma.js';

// Module-local copies of imported constants: the hot-path convention (docs/architecture.md, "Hot paths").
const ENTRY_SPAN = geometry.ENTRY_SPAN;
const _PAGE_ACCESSED = pgtable_types._PAGE_ACCESSED;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_PROTNONE = pgtable_types._PAGE_PROTNONE;
const _PAGE_PSE = pgtable_types._PAGE_PSE;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const _PAGE_TABLE = pgtable_types._PAGE_TABLE;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const PTE_PFN_HI_MASK = pgtable_types.PTE_PFN_HI_MASK;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;
const SWP_PTE_MARKER = pgtable_types.SWP_PTE_MARKER;
const GUP_PIN_COUNTING_BIAS = folio_flags.GUP_PIN_COUNTING_BIAS;
const PG_anon = folio_flags.PG_anon;
const PG_anon_exclusive = folio_flags.PG_anon_exclusive;
const PG_hugetlb = folio_flags.PG_hugetlb;
const PG_swapbacked = folio_flags.PG_swapbacked;
const PG_uptodate = folio_flags.PG_uptodate;
const MM_ANONPAGES = mm_counters.MM_ANONPAGES;
const MM_FILEPAGES = mm_counters.MM_FILEPAGES;
const MM_SHMEMPAGES = mm_counters.MM_SHMEMPAGES;
const MMF_HAS_PINNED = mm_counters.MMF_HAS_PINNED;
const VM_MIXEDMAP = vm_flags.VM_MIXEDMAP;
const VM_PFNMAP = vm_flags.VM_PFNMAP;
const VM_SHARED = vm_flags.VM_SHARED;
const VM_WRITE = vm_flags.VM_WRITE;

/** vma_needs_copy. */
export function vma_needs_copy(dst: VmAreaStruct, src: VmAreaStruct): boolean {
  if (userfaultfd_wp(dst)) return true;
  if ((src.vm_flags & (VM_PFNMAP | VM_MIXEDMAP)) !== 0) return true;
  if (src.anon_vma !== null) return true;
  return false;
}

/** Per-call state, reused so the hot loop allocates nothing. */
interface CopyCtx {
  m: MachineState;
  dst: VmAreaStruct;
  src: VmAreaStruct;
  cow: boolean;
  shared: boolean;
  keepUffdWp: boolean;
  pinned: boolean;
}

export function copy_page_range(m: MachineState, dst: VmAreaStruct, src: VmAreaStruct): void {
  if (!vma_needs_copy(dst, src)) return;
  const ctx: CopyCtx = {
    m, dst, src,
    cow: is_cow_mapping(src.vm_flags),
    shared: (src.vm_flags & VM_SHARED) !== 0,
    keepUffdWp: userfaultfd_wp(dst),
    pinned: (src.vm_mm.flags & MMF_HAS_PINNED) !== 0,
  };
  copy_level(ctx, dst.vm_mm.pgd, src.vm_mm.pgd, m.rootLevel, src.vm_start, src.vm_end);
}

function copy_level(ctx: CopyCtx, dt: number, st: number, level: number, start: number, end: number): void {
  const m = ctx.m;
  const ent = m.pool.entries;
  const span = ENTRY_SPAN[level]!;
  let addr = start;
  while (addr < end) {
    const next = Math.min(Math.floor(addr / span) * span + span, end);
    const idx2 = ((addr / span) & 511) << 1;
    const so = st * 1024 + idx2;
    const slo = ent[so]!;
    if (slo !== 0 || ent[so + 1] !== 0) {
      const dof = dt * 1024 + idx2;
      if ((slo & _PAGE_PRESENT) !== 0 && (slo & _PAGE_PSE) === 0) {
        // A table: allocate the child's (pte_alloc / pmd_alloc / pud_alloc), then copy below it.
        let child: number;
        if (ent[dof] === 0 && ent[dof + 1] === 0) {
          child = m.pool.alloc(level - 1);
          ent[dof] = (child << 12) | _PAGE_TABLE;
          ent[dof + 1] = child >>> 20;
          ctx.dst.vm_mm.nr[level - 1]!++;
        } else {
          child = (ent[dof]! >>> 12) | ((ent[dof + 1]! & PFN_HI_SHIFTED_MASK) << 20);
        }
        const schild = (slo >>> 12) | ((ent[so + 1]! & PFN_HI_SHIFTED_MASK) << 20);
        if (level === 1) copy_pte_range(ctx, child, schild, addr, next);
        else copy_level(ctx, child, schild, level - 1, addr, next);
      } else {
        copy_hugetlb_leaf(ctx, dof, so);
      }
    }
    addr = next;
  }
}

/** copy_pte_range: the hot loop over one PTE table. */
function copy_pte_range(ctx: CopyCtx, dt: number, st: number, start: number, end: number): void {
  const m = ctx.m;
  const ent = m.pool.entries;
  const fo = m.folios;
  const refcount = fo.refcount;
  const mapcount = fo.mapcount;
  const fflags = fo.flags;
  const dstMm = ctx.dst.vm_mm;
  const i0 = ((start / 4096) & 511) << 1;
  const n2 = ((end - start) / 4096) * 2;
  const sbase = st * 1024 + i0;
  const dbase = dt * 1024 + i0;
  // Bits cleared in the child: accessed always; RW for COW; dirty for shared; uffd-wp unless kept.
  const childClear = _PAGE_ACCESSED | (ctx.shared ? _PAGE_DIRTY : 0) | (ctx.keepUffdWp ? 0 : _PAGE_UFFD_WP);
  const cow = ctx.cow;
  const pinnedMm = ctx.pinned;
  let anon = 0;
  let file = 0;
  let shmem = 0;
  let copied = 0;
  for (let k = 0; k < n2; k += 2) {
    let lo = ent[sbase + k]!;
    const hi = ent[sbase + k + 1]!;
    if (lo === 0 && hi === 0) continue;
    if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) {
      // copy_nonpresent_pte; swap entries are not modelled yet.
      if (hi >>> 27 === SWP_PTE_MARKER) {
        copy_pte_marker(ent, dbase + k, lo, hi, ctx.keepUffdWp);
        continue;
      }
      throw new Error('copy_nonpresent_pte: swap entries are not produced by this model yet');
    }
    if ((lo & _PAGE_SPECIAL) === 0) {
      const f = (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
      const fl = fflags[f]!;
      if ((fl & PG_anon) !== 0) {
        if (pinnedMm && refcount[f]! >= GUP_PIN_COUNTING_BIAS) {
          copy_present_page(ctx, dbase + k, f);
          continue;
        }
        fflags[f] = fl & ~PG_anon_exclusive;
        anon++;
      } else if ((fl & PG_swapbacked) !== 0) {
        shmem++;
      } else {
        file++;
      }
      refcount[f]!++;
      mapcount[f]!++;
    }
    if (cow && (lo & _PAGE_RW) !== 0) {
      lo &= ~_PAGE_RW;
      ent[sbase + k] = lo;
    }
    ent[dbase + k] = lo & ~childClear;
    ent[dbase + k + 1] = hi;
    copied++;
  }
  dstMm.rss[MM_ANONPAGES]! += anon;
  dstMm.rss[MM_FILEPAGES]! += file;
  dstMm.rss[MM_SHMEMPAGES]! += shmem;
  m.events.forkPtesCopied += copied;
}

/**
 * copy_pte_marker: the child keeps a uffd-wp marker only if its VMA has uffd-wp, and poison/guard
 * markers always; anything else (the model's PAGEOUT marker) is not copied.
 */
function copy_pte_marker(ent: Int32Array, doff: number, lo: number, hi: number, keepUffdWp: boolean): void {
  const src = pgtable_types.pte_marker_get(lo, hi);
  const dst = (keepUffdWp ? src & pgtable_types.PTE_MARKER_UFFD_WP : 0) | (src & (pgtable_types.PTE_MARKER_POISONED | pgtable_types.PTE_MARKER_GUARD));
  if (dst === 0) return;
  pgtable_types.set_pte_marker(ent, doff, dst);
}

/** copy_present_page: the child gets its own copy of a pinned page, mapped writable if it may be. */
function copy_present_page(ctx: CopyCtx, doff: number, src: number): void {
  const m = ctx.m;
  const fo = m.folios;
  const dst = ctx.dst;
  const f = fo.alloc(0, 1, 1, PG_anon | PG_anon_exclusive | PG_swapbacked | PG_uptodate, dst.anon_vma!.id, fo.index[src]!);
  fo.content[f] = fo.content[src]!;
  const ent = m.pool.entries;
  ent[doff] = (f << 12) | dst.prot_lo | _PAGE_DIRTY | ((dst.vm_flags & VM_WRITE) !== 0 ? _PAGE_RW : 0);
  ent[doff + 1] = (f >>> 20) | dst.prot_hi;
  dst.vm_mm.rss[MM_ANONPAGES]!++;
  m.events.forkPagesCopied++;
}

/** copy_hugetlb_page_range for one PMD/PUD leaf. */
function copy_hugetlb_leaf(ctx: CopyCtx, doff: number, soff: number): void {
  const m = ctx.m;
  const ent = m.pool.entries;
  const fo = m.folios;
  let lo = ent[soff]!;
  const hi = ent[soff + 1]!;
  if ((lo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) {
    if (hi >>> 27 === SWP_PTE_MARKER) copy_pte_marker(ent, doff, lo, hi, ctx.keepUffdWp);
    return;
  }
  const f = (lo >>> 12) | ((hi & PFN_HI_SHIFTED_MASK) << 20);
  const fl = fo.flags[f]!;
  const dstMm: MmStruct = ctx.dst.vm_mm;
  if (ctx.cow && (fl & PG_anon) !== 0 && ctx.pinned && fo.pincount[f]! > 0) {
    // Pinned anonymous hugetlb page: the child gets a copy.
    const n = fo.alloc(fo.order[f]!, 1, 1, PG_hugetlb | PG_anon | PG_anon_exclusive | PG_uptodate, ctx.dst.anon_vma!.id, fo.index[f]!);
    fo.content[n] = fo.content[f]!;
    ent[doff] = (n << 12) | (lo & ~(_PAGE_ACCESSED)) ;
    ent[doff + 1] = (n >>> 20) | (hi & ~PTE_PFN_HI_MASK);
    dstMm.hugetlb_usage += 1 << fo.order[n]!;
    m.events.forkPagesCopied++;
    return;
  }
  if ((fl & PG_anon) !== 0) fo.flags[f] = fl & ~PG_anon_exclusive;
  fo.refcount[f]!++;
  fo.mapcount[f]!++;
  if (ctx.cow && (lo & _PAGE_RW) !== 0) {
    lo &= ~_PAGE_RW;
    ent[soff] = lo;
  }
  ent[doff] = lo;
  ent[doff + 1] = hi;
  dstMm.hugetlb_usage += 1 << fo.order[f]!;
  m.events.forkPtesCopied++;
}
