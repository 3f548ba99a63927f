/**
 * The neighbouring arguments (issue 8): per-process state in page tables of shared memory. uffd-wp and
 * PTE markers on shmem and hugetlb, reclaim through rmap per design, pagemap of swapped shmem in its
 * three variants, GUP pins with FAULT_FLAG_UNSHARE against COW after fork, and KSM merging. Every
 * count is derived from the kernel rules in the comments next to it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KernelError } from '../../src/mm/errno.js';
import { PG_anon_exclusive, PG_ksm } from '../../src/mm/folio.js';
import { Machine, type MachineOptions } from '../../src/mm/machine.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED } from '../../src/mm/mmap.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import type { AddressSpace } from '../../src/mm/address_space.js';
import { designByName } from '../../src/share/index.js';
import { runReclaimExperiment } from '../../src/workload/reclaim.js';
import { VM_FAULT_RETRY } from '../../src/mm/vm_fault.js';
import { assertClean, BASE, GiB, machine, MiB, RW } from '../helpers.js';


function shmemWorld(procs: number, bytes: number, opts: MachineOptions = {}, design = 'private'): { m: Machine; mms: MmStruct[]; f: AddressSpace } {
  const d = designByName(design);
  const m = new Machine({ ptPages: 8192, frames: 65536, design: d, ...opts });
  const f = m.memfd_create('shm', bytes);
  const mms: MmStruct[] = [];
  for (let i = 0; i < procs; i++) {
    const mm = m.mm_alloc();
    if (d.mapShared !== undefined) d.mapShared(m, mm, f, BASE, bytes, RW, 0);
    else m.mmap(mm, { addr: BASE, length: bytes, prot: RW, flags: MAP_SHARED | MAP_FIXED | (d.mmapFlags ?? 0), file: f });
    mms.push(mm);
  }
  return { m, mms, f };
}

function teardown(m: Machine, mms: MmStruct[]): void {
  for (const mm of mms) while (!mm.dead) m.exit(mm);
  for (const f of m.files) if (f !== undefined) m.close(f);
  assert.deepEqual(m.leakCheck(), []);
}

describe('uffd-wp and PTE markers on shmem and hugetlb', () => {
  it('write-protect marks present PTEs and puts markers in the empty ones; writes go to the monitor', () => {
    const { m, mms: [a], f } = shmemWorld(1, 4 * MiB);
    for (let p = 0; p < 256; p++) m.touch(a!, BASE + p * 4096, true, 1000 + p); // the first 1 MiB
    m.uffd_register_wp(a!, BASE, 4 * MiB);
    const tables0 = m.pool.inUse;
    const r = m.uffd_writeprotect(a!, BASE, 4 * MiB, true);
    // 4 MiB = 1,024 PTEs: 256 present get the uffd-wp bit; 1,024 - 256 = 768 empty ones get a marker.
    assert.equal(r.entries, 256);
    assert.equal(r.markers, 768);
    // The first 2 MiB had its PTE table; the second 2 MiB had none: one table allocated for its markers.
    assert.equal(r.tablesAllocated, 1);
    assert.equal(m.pool.inUse, tables0 + 1);
    // A write to a protected page is a userfault: the store waits, the content is unchanged.
    assert.equal(m.touch(a!, BASE, true, 7), VM_FAULT_RETRY);
    assert.equal(m.events.uffdWpFaults, 1);
    assert.equal(m.read(a!, BASE), 1000);
    // A read of a marker maps the page read-only with the uffd-wp bit (handle_pte_marker).
    assert.equal(m.read(a!, BASE + 600 * 4096), 0);
    const pm = m.pagemap(a!, BASE + 600 * 4096);
    assert.equal(pm.present && pm.uffdWp, true);
    // A write to a marker maps the page (protected) and then goes to the monitor.
    assert.equal(m.touch(a!, BASE + 700 * 4096, true, 5), VM_FAULT_RETRY);
    assert.equal(m.events.uffdWpFaults, 2);
    assert.equal(m.events.pteMarkerFaults, 2);
    assert.equal(m.pagemap(a!, BASE + 700 * 4096).uffdWp, true);
    // Resolve one page: the write goes through. The page was written before (dirty): writable at once.
    assert.deepEqual(m.uffd_writeprotect(a!, BASE, 4096, false), { entries: 1, markers: 0, tablesAllocated: 0 });
    assert.equal(m.touch(a!, BASE, true, 7), 0);
    assert.equal(m.read(a!, BASE), 7);
    assert.equal(f.nrpages, 256 + 2);
    teardown(m, [a!]);
  });

  it('the protection survives MADV_DONTNEED (a marker replaces the zapped PTE) and pagemap shows the marker as the kernel does', () => {
    const { m, mms: [a] } = shmemWorld(1, 2 * MiB);
    m.touch(a!, BASE, true, 42);
    m.uffd_register_wp(a!, BASE, 2 * MiB);
    m.uffd_writeprotect(a!, BASE, 4096, true);
    const markers0 = m.events.uffdWpMarkers;
    m.madvise_dontneed(a!, BASE, 2 * MiB);
    // One protected PTE zapped -> one marker (pte_install_uffd_wp_if_needed); the page stays in the cache.
    assert.equal(m.events.uffdWpMarkers - markers0, 1);
    // pte_to_pagemap_entry: a marker is a swap PTE (PM_SWAP) of type 31 with offset PTE_MARKER_UFFD_WP = 1,
    // so frame = 31 | 1 << 5 = 63, plus PM_UFFD_WP and soft-dirty (the VMA has VM_SOFTDIRTY):
    // bits 62, 57, 55 -> high word 0x42800000.
    assert.equal(m.pagemap(a!, BASE).raw, '428000000000003f');
    // Refault (read): the page comes back protected; a write goes to the monitor; the content survived.
    assert.equal(m.read(a!, BASE), 42);
    assert.equal(m.pagemap(a!, BASE).uffdWp, true);
    assert.equal(m.touch(a!, BASE, true, 1), VM_FAULT_RETRY);
    // Without uffd-wp, MADV_DONTNEED leaves nothing behind.
    m.uffd_unregister(a!, BASE, 2 * MiB);
    m.madvise_dontneed(a!, BASE, 2 * MiB);
    assert.equal(m.pagemap(a!, BASE).raw, '0080000000000000');
    teardown(m, [a!]);
  });

  it('a page write-protected by uffd-wp stays protected after reclaim and refault (swap-in)', () => {
    const { m, mms: [a], f } = shmemWorld(1, 2 * MiB);
    m.touch(a!, BASE + 4096, true, 99);
    m.uffd_register_wp(a!, BASE, 2 * MiB);
    m.uffd_writeprotect(a!, BASE + 4096, 4096, true);
    const rr = m.reclaim_shmem_page(f, 1);
    assert.equal(rr.entriesCleared, 1);
    assert.equal(rr.markers, 1); // the uffd-wp marker kept in the cleared PTE
    assert.equal(m.events.pswpout, 1);
    // Refault: swap-in (major fault) with the contents, and the protection.
    assert.equal(m.read(a!, BASE + 4096), 99);
    assert.equal(m.events.pswpin, 1);
    assert.equal(m.pagemap(a!, BASE + 4096).uffdWp, true);
    assert.equal(m.touch(a!, BASE + 4096, true, 1), VM_FAULT_RETRY);
    assert.equal(m.read(a!, BASE + 4096), 99);
    teardown(m, [a!]);
  });

  it('hugetlb: markers go into empty PMD entries; fork copies the tables of a uffd-wp VMA, markers included', () => {
    const m = new Machine({ ptPages: 1024, frames: 1024 });
    const f = m.hugetlbfs_create('huge', 8 * MiB, '2M');
    const a = m.mm_alloc();
    m.mmap(a, { addr: BASE, length: 8 * MiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f });
    m.touch(a, BASE, true, 3);
    m.uffd_register_wp(a, BASE, 8 * MiB);
    // 8 MiB = 4 huge pages in one PMD table: 1 present protected, 3 empty PMD entries get markers,
    // no table allocated (the PMD table exists).
    assert.deepEqual(m.uffd_writeprotect(a, BASE, 8 * MiB, true), { entries: 1, markers: 3, tablesAllocated: 0 });
    assert.equal(m.touch(a, BASE, true, 4), VM_FAULT_RETRY);
    assert.throws(() => m.uffd_writeprotect(a, BASE, 4096, true), /whole 2097152-byte pages/);
    // fork: a MAP_SHARED VMA is normally not copied; a uffd-wp one is (vma_needs_copy: userfaultfd_wp(dst)).
    const copied0 = m.events.forkPtesCopied;
    const c = m.fork(a);
    assert.equal(m.events.forkPtesCopied - copied0, 1); // the one present huge PMD
    assert.equal(m.pagemap(c, BASE + 2 * MiB).uffdWp, true); // a marker, copied
    assert.equal(m.touch(c, BASE, true, 4), VM_FAULT_RETRY);
    assert.equal(m.touch(c, BASE + 4 * MiB, true, 4), VM_FAULT_RETRY); // marker -> page mapped protected -> userfault
    teardown(m, [a, c]);
  });

  it('designs: hugetlb-pmd unshares on registration, file-pt never shares a uffd-wp VMA, ptshare and mshare refuse', () => {
    // hugetlb-pmd: A and B share the PMD table of 1 GiB of 2 MiB pages.
    {
      const m = new Machine({ ptPages: 1024, frames: 2048, design: designByName('hugetlb-pmd') });
      const f = m.hugetlbfs_create('huge', GiB, '2M');
      const [a, b] = [m.mm_alloc(), m.mm_alloc()];
      for (const mm of [a, b]) {
        m.mmap(mm, { addr: BASE, length: GiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f });
        m.touch(mm, BASE, true);
      }
      const unshared0 = m.events.tablesUnshared;
      m.uffd_register_wp(a, BASE, GiB);
      assert.equal(m.events.tablesUnshared - unshared0, 1); // hugetlb_unshare_all_pmds
      // A dropped its link: nothing of the GiB is mapped in A any more. Protecting it needs A's own PMD
      // table (1 allocated) holding 512 markers, one per 2 MiB page; no present entry to protect.
      assert.deepEqual(m.uffd_writeprotect(a, BASE, GiB, true), { entries: 0, markers: 512, tablesAllocated: 1 });
      assert.equal(m.touch(b, BASE, true, 9), 0); // B is not protected
      assert.equal(m.touch(a, BASE, true, 9), VM_FAULT_RETRY);
      teardown(m, [a, b]);
    }
    // file-pt: registration drops A's links to the cached tables; B keeps sharing and writing.
    {
      const { m, mms: [a, b] } = shmemWorld(2, 4 * MiB, {}, 'file-pt');
      for (const mm of [a!, b!]) m.touch(mm, BASE, true);
      m.uffd_register_wp(a!, BASE, 4 * MiB);
      const r = m.uffd_writeprotect(a!, BASE, 4 * MiB, true);
      assert.equal(r.entries, 0); // A refaults privately; nothing present yet
      assert.equal(r.markers, 1024);
      assert.equal(r.tablesAllocated, 2); // A's own two PTE tables for the markers
      assert.equal(m.touch(b!, BASE, true, 1), 0);
      assert.equal(m.touch(a!, BASE, true, 1), VM_FAULT_RETRY);
      teardown(m, [a!, b!]);
    }
    for (const name of ['ptshare', 'mshare']) {
      const { m, mms } = shmemWorld(2, 4 * MiB, {}, name);
      assert.throws(() => m.uffd_register_wp(mms[0]!, BASE, 4 * MiB), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL');
      teardown(m, mms);
    }
  });

  it('bad input: UFFDIO_WRITEPROTECT on an unregistered range is ENOENT; unaligned is EINVAL; state unchanged', () => {
    const { m, mms: [a] } = shmemWorld(1, 2 * MiB);
    m.touch(a!, BASE, true);
    assert.throws(() => m.uffd_writeprotect(a!, BASE, 4096, true), (e: unknown) => e instanceof KernelError && e.code === 'ENOENT');
    m.uffd_register_wp(a!, BASE, 2 * MiB);
    assert.throws(() => m.uffd_writeprotect(a!, BASE + 1, 4096, true), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL');
    assert.throws(() => m.uffd_writeprotect(a!, BASE, 100, true), (e: unknown) => e instanceof KernelError && e.code === 'EINVAL');
    assert.equal(m.events.uffdWpProtected + m.events.uffdWpMarkers, 0);
    assert.equal(m.touch(a!, BASE, true), 0);
    teardown(m, [a!]);
  });
});

describe('reclaim of a shared shmem page and pagemap of the swapped page', () => {
  it('128 processes share a page: reclaim clears 128 entries in 128 tables with private tables, 1 in 1 with file-pt, ptshare, mshare', () => {
    // Reclaim runs on CPU 0 (vmscan.ts RECLAIM_CPU); the 128 mms ran on CPUs 0 and 1 alternately.
    // try_to_unmap_one with TTU_BATCH_FLUSH: an mm only CPU 0 may cache is flushed at once
    // (ptep_clear_flush, no IPI); one another CPU may cache joins the batch (should_defer_flush),
    // which goes out as one flush_tlb_multi before the dirty page is written out: one IPI, to CPU 1.
    const expect: Record<string, { entries: number; tables: number; flushes: number; ipis: number }> = {
      // 128 VMAs, 128 private PTEs: 64 local flushes + 1 batched flush for the 64 mms on CPU 1.
      private: { entries: 128, tables: 128, flushes: 64 + 1, ipis: 1 },
      // hugetlb-pmd shares only hugetlb PMD tables: shmem is private to it.
      'hugetlb-pmd': { entries: 128, tables: 128, flushes: 64 + 1, ipis: 1 },
      // One shared PTE table: the first VMA clears the entry, the other 127 find it clear. Its flush
      // reaches every sharer's CPUs (0 and 1): deferred, one batched flush, one IPI...
      ptshare: { entries: 1, tables: 1, flushes: 1, ipis: 1 },
      'file-pt': { entries: 1, tables: 1, flushes: 1, ipis: 1 },
      // ... or every CPU through mshare's MMU notifier (flush_tlb_all): one IPI on 2 CPUs.
      mshare: { entries: 1, tables: 1, flushes: 1, ipis: 1 },
      // One mm (128 tasks), which the model ran on CPU 0 only: one local flush.
      threads: { entries: 1, tables: 1, flushes: 1, ipis: 0 },
    };
    for (const [design, e] of Object.entries(expect)) {
      const r = runReclaimExperiment({ design: designByName(design), procs: 128, size: 2 * MiB, pages: 1 });
      assert.equal(r.reclaim.entriesCleared, e.entries, design);
      assert.equal(r.reclaim.tablesVisited, e.tables, design);
      assert.equal(r.reclaim.flushes, e.flushes, design);
      assert.equal(r.reclaim.ipis, e.ipis, design);
      assert.equal(r.reclaim.pagesReclaimed, 1, design);
    }
  });

  it('pagemap of a swapped shmem page: 0 by default (like a page never touched), swap under the page-cache lookup, swap under the PTE-marker variant', () => {
    const variants = ['none', 'pagecache-lookup', 'pte-marker'] as const;
    const raw: Record<string, string> = {};
    for (const v of variants) {
      const { m, mms: [a], f } = shmemWorld(1, 4 * MiB, { shmemSwapReport: v });
      for (let p = 0; p < 512; p++) m.touch(a!, BASE + p * 4096, true, p); // first 2 MiB touched
      m.clear_refs_soft_dirty(a!); // start soft-dirty tracking: VM_SOFTDIRTY off, so empty entries read 0
      m.reclaim_shmem_page(f, 5);
      const out = new Uint32Array(2 * 1024);
      const e0 = m.events.pagemapEntries;
      const l0 = m.events.pagemapLookups;
      assert.equal(m.pagemap_range(a!, BASE, BASE + 4 * MiB, out), 1024);
      assert.equal(m.events.pagemapEntries - e0, 1024);
      // Lookups: only the lookup variant, one per empty entry of the shmem VMA: the reclaimed page plus
      // the 512 pages of the untouched second 2 MiB = 513 over the 1,024-entry read.
      assert.equal(m.events.pagemapLookups - l0, v === 'pagecache-lookup' ? 513 : 0, v);
      raw[v] = m.pagemap(a!, BASE + 5 * 4096).raw;
      const untouched = m.pagemap(a!, BASE + 3 * MiB).raw;
      if (v === 'none') assert.equal(raw[v], untouched); // indistinguishable from never touched
      // Swap-in on the next access: the marker variant first clears this mm's marker.
      const mf0 = m.events.pteMarkerFaults;
      assert.equal(m.read(a!, BASE + 5 * 4096), 5);
      assert.equal(m.events.pteMarkerFaults - mf0, v === 'pte-marker' ? 1 : 0, v);
      assert.equal(m.pagemap(a!, BASE + 5 * 4096).present, true);
      teardown(m, [a!]);
    }
    // Today's kernel: all zero. Lookup: PM_SWAP | PM_FILE (bits 62, 61 -> 0x60000000), swap type 0,
    // offset = slot 1 (slot 0 is the swap header) << 5 = 0x20. Marker: PM_SWAP, frame = type 31 |
    // PTE_MARKER_PAGEOUT (16) << 5 = 543 = 0x21f.
    assert.deepEqual(raw, { none: '0000000000000000', 'pagecache-lookup': '6000000000000020', 'pte-marker': '400000000000021f' });
  });

  it('the experiment: every variant and design reports its reclaim and pagemap costs; the machine is clean afterwards', () => {
    const r = runReclaimExperiment({ design: designByName('private'), procs: 4, size: 2 * MiB, pages: 512, shmemSwapReport: 'pte-marker' });
    // 512 pages x 4 mappings: 2,048 entries cleared, each leaving a PAGEOUT marker.
    assert.equal(r.reclaim.entriesCleared, 2048);
    assert.equal(r.reclaim.markers, 2048);
    // Process 0 reads its pagemap: 512 entries, all reported swapped, no lookups.
    assert.deepEqual({ entries: r.pagemap.entries, swapped: r.pagemap.reportedSwapped, lookups: r.pagemap.lookups }, { entries: 512, swapped: 512, lookups: 0 });
    // Process 0 reads every page back: 512 swap-ins, each clearing one marker first.
    assert.equal(r.refault.swapIns, 512);
    assert.equal(r.refault.markerFaults, 512);
  });
});

describe('GUP pins, FAULT_FLAG_UNSHARE and COW after fork (the AnonExclusive series)', () => {
  function anonWorld(): { m: Machine; p: MmStruct } {
    const m = new Machine({ ptPages: 256, frames: 4096 });
    const p = m.mm_alloc();
    m.mmap(p, { addr: BASE, length: 2 * MiB, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    m.touch(p, BASE, true, 1);
    return { m, p };
  }
  const mapped = (m: Machine, mm: MmStruct) => m.leafFolio(m.follow_page(mm, BASE));

  it('R/O pin in the child after fork (CVE-2020-29374, vmsplice): the child unshares, so it never sees the parent\'s later writes', () => {
    const { m, p } = anonWorld();
    const c = m.fork(p);
    const pinned = m.pin(c, BASE, false);
    // gup_must_unshare: the page is shared with the parent, not AnonExclusive -> unshare fault copies it.
    assert.equal(m.events.unshareCopy, 1);
    assert.equal(pinned, mapped(m, c));
    assert.notEqual(pinned, mapped(m, p));
    // The parent's page is now mapped once: its write reuses it (no copy)...
    const copies0 = m.events.wpCopy;
    m.touch(p, BASE, true, 2);
    assert.equal(m.events.wpCopy, copies0);
    // ...and the child's pin still reads what the child had: 1.
    assert.equal(m.folios.content[pinned], 1);
    m.unpin(pinned);
    teardown(m, [p, c]);
  });

  it('R/O pin in the parent after fork: unshare makes the parent\'s page exclusive; pin and mapping never diverge', () => {
    const { m, p } = anonWorld();
    const c = m.fork(p);
    const pinned = m.pin(p, BASE, false);
    assert.equal(m.events.unshareCopy, 1); // refcount 2 (child maps it too): copy, mapped read-only but exclusive
    assert.equal(pinned, mapped(m, p));
    assert.notEqual(m.folios.flags[pinned]! & PG_anon_exclusive, 0);
    m.touch(c, BASE, true, 3); // the child's write: its page is mapped once now -> reuse
    m.touch(p, BASE, true, 2); // the parent's write: exclusive -> wp_page_reuse, no COW
    assert.equal(mapped(m, p), pinned);
    assert.equal(m.folios.content[pinned], 2); // the pin sees the write: no divergence
    assert.equal(m.read(c, BASE), 3);
    m.unpin(pinned);
    teardown(m, [p, c]);
  });

  it('pin before fork: fork copies the possibly-pinned page eagerly; the parent keeps writing to the pinned page', () => {
    const { m, p } = anonWorld();
    const pinned = m.pin(p, BASE, false); // exclusive already: no unshare
    assert.equal(m.events.unshareCopy + m.events.unshareReuse, 0);
    const c = m.fork(p);
    assert.equal(m.events.forkPagesCopied, 1);
    m.touch(p, BASE, true, 2);
    assert.equal(mapped(m, p), pinned);
    assert.equal(m.folios.content[pinned], 2);
    assert.equal(m.read(c, BASE), 1);
    m.unpin(pinned);
    teardown(m, [p, c]);
  });
});

describe('KSM merging of identical anonymous pages', () => {
  it('256 pages with 4 distinct contents -> 4 KSM pages, 252 frames saved, tables unchanged; a write breaks COW', () => {
    const m = new Machine({ ptPages: 256, frames: 4096 });
    const a = m.mm_alloc();
    m.mmap(a, { addr: BASE, length: MiB, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    for (let p = 0; p < 256; p++) m.touch(a, BASE + p * 4096, true, p % 4);
    const pinned = m.pin(a, BASE + 255 * 4096, false); // content 3, pinned: KSM must skip it
    assert.equal(m.madvise_mergeable(a, BASE, MiB), 1);
    const tables0 = m.pool.inUse;
    const nr0 = [...a.nr];
    const folios0 = m.folios.inUse;
    const r = m.ksm_scan();
    // 256 scanned; the pinned page is skipped; the other 255 fall into 4 groups (64, 64, 64, 63 pages):
    // each group's first page becomes the KSM page and the rest merge into it: 255 - 4 = 251 merged.
    assert.deepEqual(r, { pagesScanned: 256, pagesMerged: 251, pagesShared: 4, pagesSharing: 251 });
    assert.equal(m.folios.inUse, folios0 - 251);
    assert.equal(m.pool.inUse, tables0);
    assert.deepEqual(a.nr, nr0);
    const k = m.leafFolio(m.follow_page(a, BASE + 4 * 4096));
    assert.notEqual(m.folios.flags[k]! & PG_ksm, 0);
    assert.equal(m.folios.flags[k]! & PG_anon_exclusive, 0);
    assert.equal(m.folios.mapcount[k], 64);
    // A write to a merged page copies it (KSM folios are never reused).
    m.touch(a, BASE + 4 * 4096, true, 77);
    assert.equal(m.events.ksmCowBreaks, 1);
    assert.equal(m.read(a, BASE), 0);
    assert.equal(m.read(a, BASE + 4 * 4096), 77);
    assert.equal(m.folios.mapcount[k], 63);
    // A second pass: nothing new; pages_sharing dropped by the one broken page.
    assert.deepEqual(m.ksm_scan(), { pagesScanned: 256, pagesMerged: 0, pagesShared: 4, pagesSharing: 250 });
    m.unpin(pinned);
    teardown(m, [a]);
  });

  it('a MAP_PRIVATE file mapping is mergeable (vma_ksm_compatible checks flags only): its COWed pages merge, its page-cache pages do not', () => {
    // vma_ksm_compatible() (mm/ksm.c, v6.4 onwards; the same flag checks in ksm_madvise() before it)
    // refuses VM_SHARED, VM_MAYSHARE, VM_HUGETLB, VM_PFNMAP, VM_IO, VM_MIXEDMAP, VM_DONTEXPAND and DAX,
    // not file VMAs. ksmd then merges only anonymous pages (PageAnon), in VMAs with an anon_vma.
    const m = machine();
    const mm = m.mm_alloc();
    const f = m.open_file('lib.so', 4 * 4096);
    m.mmap(mm, { addr: BASE, length: 4 * 4096, prot: RW, flags: MAP_PRIVATE | MAP_FIXED, file: f });
    // Pages 0 and 1 written with equal content: two COWed anonymous pages. Pages 2 and 3 only read:
    // page-cache pages (their content is equal too, 0), which KSM does not touch.
    m.touch(mm, BASE, true, 7);
    m.touch(mm, BASE + 4096, true, 7);
    m.touch(mm, BASE + 2 * 4096, false);
    m.touch(mm, BASE + 3 * 4096, false);
    assert.equal(m.madvise_mergeable(mm, BASE, 4 * 4096), 1);
    const folios0 = m.folios.inUse;
    const r = m.ksm_scan();
    // 2 anonymous pages scanned, 1 merged into the other: one KSM page mapped twice (pages_sharing 1).
    assert.deepEqual(r, { pagesScanned: 2, pagesMerged: 1, pagesShared: 1, pagesSharing: 1 });
    assert.equal(m.folios.inUse, folios0 - 1);
    assert.equal(m.read(mm, BASE + 4096), 7);
    m.exit(mm);
    m.close(f);
    assertClean(m);
  });

  it('shared mappings are never merged (so no design\'s shared tables see KSM); fork-shared pages are not merged with themselves', () => {
    const { m, mms: [a] } = shmemWorld(1, 2 * MiB);
    assert.equal(m.madvise_mergeable(a!, BASE, 2 * MiB), 0);
    m.mmap(a!, { addr: BASE + GiB, length: 8192, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    m.touch(a!, BASE + GiB, true, 5);
    m.touch(a!, BASE + GiB + 4096, true, 5);
    m.madvise_mergeable(a!, BASE + GiB, 8192);
    const c = m.fork(a!);
    // Both processes map both pages (fork), 4 mappings of 2 folios with equal content: one KSM page,
    // mapped 4 times: pages_sharing 3, and one frame saved.
    const folios0 = m.folios.inUse;
    const r = m.ksm_scan();
    assert.equal(r.pagesShared, 1);
    assert.equal(r.pagesSharing, 3);
    assert.equal(m.folios.inUse, folios0 - 1);
    teardown(m, [a!, c]);
  });
});
