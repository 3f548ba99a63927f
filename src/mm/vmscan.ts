/**
 * Reclaim of one shmem page, after mm/vmscan.c shrink_folio_list -> try_to_unmap (mm/rmap.c
 * try_to_unmap_one over the file's i_mmap) -> shmem_writeout: every mapping's entry for the page is
 * cleared, then the page leaves the page cache for swap and a later fault swaps it back in (a major
 * fault). A uffd-wp-protected entry is replaced by a PTE marker so the protection survives (Peter Xu,
 * 5.19).
 *
 * The TLB flushes follow try_to_unmap_one with TTU_BATCH_FLUSH (since 4.3) as shrink_folio_list
 * calls it. Reclaim runs on RECLAIM_CPU (kswapd's, or the allocating task's). An entry whose mm may
 * be cached by another CPU (should_defer_flush) is not flushed at once: arch_tlbbatch_add_pending
 * adds the CPUs of its mm, or of every sharer of a shared table, to a batch. An entry whose mm only
 * the reclaiming CPU may cache is flushed there at once (ptep_clear_flush, no IPI). A written page
 * is dirty, so try_to_unmap_flush_dirty sends the batch before the page is written out: one
 * flush_tlb_multi per page, one IPI per target CPU but the reclaiming one. (A clean page's batch
 * would wait for the rest of its folio list; the model reclaims one folio per call.) mshare's host
 * tables flush every CPU through its MMU notifier (flush_tlb_all).
 *
 * What it counts (VmEvents): rmapVmasVisited (VMAs the rmap walk looked at), rmapEntriesCleared
 * (entries cleared: one per mapping with private tables, one per shared table with sharing), plus
 * the flushes through src/mm/tlbflush.ts, rmapTablesVisited (distinct leaf tables an entry was cleared
 * in). With shared tables the second and later VMAs reaching the same table find the entry already
 * clear.
 *
 * Under the pagemap variant 'pte-marker' (machine option shmemSwapReport, Peter Xu's unmerged 2021
 * proposal) each cleared entry keeps a PTE_MARKER_PAGEOUT marker instead, so pagemap can report the
 * page as swapped without a page-cache lookup; the marker is cleared by the next fault on it.
 */
import * as pgtable_types from '../arch/pgtable_types.js';
import { fail } from './errno.js';
import { flush_targets, flush_targets_range, flush_tlb_all, flush_tlb_batch, targets_cpus } from './tlbflush.js';
import type { MmStruct } from './mm_types.js';

/** The CPU reclaim runs on in the model (kswapd's, or the allocating task's). */
export const RECLAIM_CPU = 0;
import type { AddressSpace } from './address_space.js';
import { PG_dirty } from './folio.js';
import type { MachineState } from './machine_types.js';
import * as mm_counters from './mm_types.js';

const _PAGE_PRESENT = pgtable_types._PAGE_PRESENT;
const _PAGE_DIRTY = pgtable_types._PAGE_DIRTY;
const _PAGE_UFFD_WP = pgtable_types._PAGE_UFFD_WP;
const PFN_HI_SHIFTED_MASK = pgtable_types.PFN_HI_SHIFTED_MASK;

export interface ReclaimResult {
  vmasVisited: number;
  /** Distinct leaf tables an entry was cleared in. */
  tablesVisited: number;
  entriesCleared: number;
  /** Markers left in cleared entries (uffd-wp, or PAGEOUT under the 'pte-marker' pagemap variant). */
  markers: number;
  flushes: number;
  ipis: number;
}

/** Reclaim page `pgoff` of the shmem file `file` (it must be in the page cache and not pinned). */
export function shrink_shmem_folio(m: MachineState, file: AddressSpace, pgoff: number): ReclaimResult {
  if (file.kind !== 'shmem') fail('EINVAL', 'file', `reclaim is modelled for shmem pages; ${file.name} is ${file.kind}${file.kind === 'hugetlbfs' ? ' (hugetlb folios are never reclaimed)' : ''}`);
  if (!Number.isInteger(pgoff) || pgoff < 0 || pgoff >= file.limit) fail('EINVAL', 'pgoff', `page ${pgoff} is outside ${file.name} (0..${file.limit - 1})`);
  const f = file.pages[pgoff]! - 1;
  if (f < 0) fail('ENOENT', 'pgoff', `page ${pgoff} of ${file.name} is not in the page cache`);
  const fo = m.folios;
  if (fo.maybeDmaPinned(f)) fail('EBUSY', 'pgoff', `page ${pgoff} of ${file.name} is pinned (GUP); reclaim skips it`);
  const ev = m.events;
  const flushes0 = ev.tlbFlushes;
  const ipis0 = ev.tlbIpis;
  const ent = m.pool.entries;
  let visited = 0;
  let cleared = 0;
  let markers = 0;
  const tables: number[] = [];
  const pageout = m.shmemSwapReport === 'pte-marker' ? pgtable_types.PTE_MARKER_PAGEOUT : 0;
  let batchCpus = 0;
  const batchMms = new Set<MmStruct>();
  // try_to_unmap: rmap walk over every VMA mapping the page's offset.
  for (const vma of file.i_mmap) {
    if (pgoff < vma.vm_pgoff || pgoff >= vma.vm_pgoff + (vma.vm_end - vma.vm_start) / 4096) continue;
    visited++;
    const addr = vma.vm_start + (pgoff - vma.vm_pgoff) * 4096;
    const mm = vma.vm_mm;
    const off = m.follow_page(mm, addr);
    if (off < 0) continue;
    const lo = ent[off]!;
    if ((lo & _PAGE_PRESENT) === 0) continue; // already cleared through a shared table
    const pf = (lo >>> 12) | ((ent[off + 1]! & PFN_HI_SHIFTED_MASK) << 20);
    if (pf !== f) continue;
    if ((lo & _PAGE_DIRTY) !== 0) fo.flags[f]! |= PG_dirty;
    const marker = ((lo & _PAGE_UFFD_WP) !== 0 ? pgtable_types.PTE_MARKER_UFFD_WP : 0) | pageout;
    if (marker !== 0) {
      pgtable_types.set_pte_marker(ent, off, marker);
      markers++;
      if ((marker & pgtable_types.PTE_MARKER_UFFD_WP) !== 0) ev.uffdWpMarkers++;
      if (pageout !== 0) ev.pageoutMarkers++;
    } else {
      ent[off] = 0;
      ent[off + 1] = 0;
    }
    cleared++;
    const t = off >>> 10;
    if (!tables.includes(t)) tables.push(t);
    (m.design.rssOwner?.(m, vma, addr, off) ?? mm).rss[mm_counters.MM_SHMEMPAGES]!--;
    fo.mapcount[f]!--;
    fo.put(f);
    const targets = flush_targets(m, vma);
    if (targets === 'all') {
      flush_tlb_all(m, mm);
      continue;
    }
    const cpus = targets_cpus(m, targets);
    if ((cpus & ~(1 << RECLAIM_CPU)) !== 0) {
      // should_defer_flush: another CPU may cache it; arch_tlbbatch_add_pending.
      batchCpus |= cpus;
      for (const t of targets) batchMms.add(t.vm_mm);
    } else {
      flush_targets_range(m, vma, targets, addr, addr + 4096, 1);
    }
  }
  // try_to_unmap_flush_dirty before the dirty page is written out (try_to_unmap_flush otherwise).
  if (batchCpus !== 0) flush_tlb_batch(m, RECLAIM_CPU, batchCpus, batchMms);
  if (fo.mapcount[f]! !== 0) throw new Error(`BUG: page ${pgoff} of ${file.name} still mapped ${fo.mapcount[f]} time(s) after try_to_unmap`);
  // shmem_writeout: the page cache slot now holds the swap entry; the folio is freed.
  file.swapOut(fo, pgoff, m.nextSwapSlot++);
  ev.rmapVmasVisited += visited;
  ev.rmapEntriesCleared += cleared;
  ev.rmapTablesVisited += tables.length;
  ev.pswpout++;
  return { vmasVisited: visited, tablesVisited: tables.length, entriesCleared: cleared, markers, flushes: ev.tlbFlushes - flushes0, ipis: ev.tlbIpis - ipis0 };
}
