/**
 * KSM, after mm/ksm.c. madvise(MADV_MERGEABLE) marks private VMAs VM_MERGEABLE: vma_ksm_compatible()
 * skips VM_SHARED, VM_MAYSHARE, VM_HUGETLB, VM_PFNMAP, VM_IO, VM_MIXEDMAP, VM_DONTEXPAND, VM_DROPPABLE
 * and DAX VMAs, so no sharing design's shared mapping is ever merged, but it does not skip file VMAs:
 * a MAP_PRIVATE file mapping is mergeable, and its anonymous (COWed) pages merge while its page-cache
 * pages do not. A full ksmd pass (ksm_do_scan -> cmp_and_merge_page) looks at every present anonymous
 * page of those VMAs (a VMA without an anon_vma has none), in mm and address order:
 * - stable tree (content -> KSM folio): a page equal to a stable page is merged into it
 *   (try_to_merge_with_ksm_page);
 * - unstable tree (content -> the first page seen with it in this pass): a second equal page turns the
 *   first into a new KSM page in place and is merged into it (try_to_merge_two_pages).
 * Merging is write_protect_page (write permission dropped, the dirty bit moved to the folio, flushed)
 * then replace_page (the entry points at the KSM folio, which gains a mapping and a reference; the old
 * folio loses them and is freed). A page with references beyond its mappings (a GUP pin) is skipped,
 * as write_protect_page's `mapcount + 1 != refcount` check does. KSM folios are never AnonExclusive;
 * a write to one breaks COW (do_wp_page never reuses a KSM folio). Page tables keep their shape: the
 * same tables, the same entries present; only the frames behind them change.
 *
 * Not modelled: the checksum rule (a page must be unchanged across two scans before it enters the
 * unstable tree: here one pass merges), use_zero_pages, max_page_sharing chains, KSM rmap items.
 * Pages are compared by their modelled content (one 32-bit value per frame).
 */
import * as pgtable_types from '../arch/pgtable_types.js';
import { PAGE_SIZE } from '../arch/pgtable_64_types.js';
import { flush_vma_range } from './tlbflush.js';
import { PG_anon, PG_anon_exclusive, PG_dirty, PG_ksm, type FolioTable } from './folio.js';
import type { MachineState } from './machine_types.js';
import { madvise_range } from './madvise.js';
import type { MmStruct } from './mm_types.js';
import { check_munmap_splits, split_vma } from './mmap.js';
import { VM_DONTEXPAND, VM_HUGETLB, VM_MAYSHARE, VM_MERGEABLE, VM_MIXEDMAP, VM_PFNMAP, VM_SHARED, type VmAreaStruct } from './vma.js';

const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_RW = pgtable_types._PAGE_RW;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_SPECIAL = pgtable_types._PAGE_SPECIAL;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;

const KSM_INCOMPATIBLE = VM_SHARED | VM_MAYSHARE | VM_HUGETLB | VM_PFNMAP | VM_MIXEDMAP | VM_DONTEXPAND;

/** madvise(MADV_MERGEABLE): returns the number of VMAs now mergeable (incompatible ones are skipped). */
export function ksm_madvise_mergeable(m: MachineState, mm: MmStruct, start: number, length: number): number {
  const end = madvise_range(mm, start, length);
  // vma_ksm_compatible(): flags only; file VMAs are not excluded (their anonymous pages can merge).
  const compatible = (v: VmAreaStruct) => (v.vm_flags & KSM_INCOMPATIBLE) === 0;
  const inRange = () => mm.vmas.filter((v) => v.vm_start < end && v.vm_end > start && compatible(v) && (v.vm_flags & VM_MERGEABLE) === 0);
  const todo = inRange();
  if (todo.length === 0) return 0;
  check_munmap_splits(mm, Math.max(start, todo[0]!.vm_start), Math.min(end, todo[todo.length - 1]!.vm_end));
  if (todo[0]!.vm_start < start) split_vma(m, mm, start);
  if (todo[todo.length - 1]!.vm_end > end) split_vma(m, mm, end);
  const marked = inRange();
  for (const v of marked) v.vm_flags |= VM_MERGEABLE;
  mm.mmap_cache = null;
  return marked.length;
}

export interface KsmScanResult {
  /** Anonymous pages looked at in this pass. */
  pagesScanned: number;
  /** Mappings redirected to a KSM page in this pass (each freed one frame unless it was mapped elsewhere too). */
  pagesMerged: number;
  /** After the pass, as /sys/kernel/mm/ksm: KSM pages in use, and extra mappings of them (= frames saved). */
  pagesShared: number;
  pagesSharing: number;
}

interface Candidate { vma: VmAreaStruct; addr: number; folio: number }

/** One full ksmd pass over every mergeable VMA of every mm. */
export function ksm_scan(m: MachineState): KsmScanResult {
  const fo = m.folios;
  const ent = m.pool.entries;
  const stable = m.ksmStable;
  const unstable = new Map<number, Candidate>();
  let scanned = 0;
  let merged = 0;
  for (const mm of m.mms) {
    for (const vma of mm.vmas) {
      if ((vma.vm_flags & VM_MERGEABLE) === 0 || vma.anon_vma === null) continue;
      for (let addr = vma.vm_start; addr < vma.vm_end; addr += PAGE_SIZE) {
        const off = m.follow_page(mm, addr);
        if (off < 0) continue;
        const lo = ent[off]!;
        if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_SPECIAL) !== 0) continue;
        const f = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
        if ((fo.flags[f]! & PG_anon) === 0 || fo.order[f]! !== 0) continue;
        scanned++;
        if ((fo.flags[f]! & PG_ksm) !== 0) continue; // already in the stable tree
        if (fo.refcount[f] !== fo.mapcount[f]) continue; // pinned (or otherwise referenced): not merged
        const c = fo.content[f]!;
        let k = stable.get(c);
        if (k !== undefined && !isStableKsm(fo, k, c)) {
          stable.delete(c); // that KSM page is gone
          k = undefined;
        }
        if (k === undefined) {
          const g = unstable.get(c);
          if (g !== undefined && g.folio === f) continue; // the same page again (shared by fork)
          if (g === undefined || !stillMaps(m, g)) {
            unstable.set(c, { vma, addr, folio: f });
            continue;
          }
          // try_to_merge_two_pages: the first page becomes the KSM page in place.
          unstable.delete(c);
          write_protect_page(m, g.vma, g.addr);
          fo.flags[g.folio] = (fo.flags[g.folio]! | PG_ksm) & ~PG_anon_exclusive;
          stable.set(c, g.folio);
          k = g.folio;
        }
        write_protect_page(m, vma, addr);
        replace_page(m, off, f, k);
        flush_vma_range(m, vma, addr, addr + PAGE_SIZE, 1);
        merged++;
      }
    }
  }
  let pagesShared = 0;
  let pagesSharing = 0;
  for (const [c, k] of stable) {
    if (!isStableKsm(fo, k, c)) {
      stable.delete(c);
      continue;
    }
    pagesShared++;
    pagesSharing += fo.mapcount[k]! - 1;
  }
  m.events.ksmPagesScanned += scanned;
  m.events.ksmPagesMerged += merged;
  return { pagesScanned: scanned, pagesMerged: merged, pagesShared, pagesSharing };
}

/** Is folio `k` still the live KSM page for content `c` (not freed, not reused for something else)? */
function isStableKsm(fo: FolioTable, k: number, c: number): boolean {
  return (fo.flags[k]! & PG_ksm) !== 0 && fo.content[k] === c && fo.refcount[k]! > 0;
}

/** Does the unstable-tree candidate still map the same unchanged, unpinned, non-KSM folio? */
function stillMaps(m: MachineState, g: Candidate): boolean {
  const off = m.follow_page(g.vma.vm_mm, g.addr);
  if (off < 0 || g.vma.vm_mm.dead) return false;
  const lo = m.pool.entries[off]!;
  if ((lo & _PAGE_PRESENT) === 0 || (lo & _PAGE_SPECIAL) !== 0) return false;
  const fo = m.folios;
  const f = m.leafFolio(off);
  return f === g.folio && (fo.flags[f]! & PG_ksm) === 0 && fo.refcount[f] === fo.mapcount[f];
}

/** write_protect_page: drop write permission, move the dirty bit to the folio, flush the page. */
function write_protect_page(m: MachineState, vma: VmAreaStruct, addr: number): void {
  const off = m.follow_page(vma.vm_mm, addr);
  const ent = m.pool.entries;
  const lo = ent[off]!;
  if ((lo & (_PAGE_RW | _PAGE_DIRTY)) === 0) return;
  if ((lo & _PAGE_DIRTY) !== 0) m.folios.flags[m.leafFolio(off)]! |= PG_dirty;
  ent[off] = lo & ~(_PAGE_RW | _PAGE_DIRTY);
  if ((lo & _PAGE_RW) !== 0) flush_vma_range(m, vma, addr, addr + PAGE_SIZE, 1);
}

/** replace_page: the entry at `off` maps KSM folio `k` instead of `f` (same protection bits). */
function replace_page(m: MachineState, off: number, f: number, k: number): void {
  const ent = m.pool.entries;
  const fo = m.folios;
  ent[off] = (k << 12) | (ent[off]! & 0xfff);
  ent[off + 1] = (k >>> 20) | (ent[off + 1]! & ~PFN_HI_SHIFTED_MASK);
  fo.refcount[k]!++;
  fo.mapcount[k]!++;
  fo.mapcount[f]!--;
  fo.put(f);
}
