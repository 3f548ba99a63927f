/**
 * Exact counts derived from the kernel's rules; the arithmetic is in each test.
 * A 4 KiB page is one PTE (8 bytes); a PTE table (4 KiB) maps 512 pages = 2 MiB; a PMD table maps
 * 512 x 2 MiB = 1 GiB; a PUD table 512 GiB; the 4-level PGD 256 TiB.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import { GUP_PIN_COUNTING_BIAS, PG_anon_exclusive } from '../../src/mm/folio.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_HUGETLB, MAP_HUGE_1GB, MAP_PRIVATE, PROT_NONE, PROT_READ } from '../../src/mm/mmap.js';
import { threadsDesign } from '../../src/share/threads.js';
import { VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV } from '../../src/mm/vm_fault.js';
import {
  assertClean, BASE, folioAt, GiB, KiB, leafStats, machine, mapAnon, mapShared, MiB, RW, touchAll,
} from '../helpers.js';

const PAGES_PER_GIB = GiB / 4096; // 262,144

test('1 GiB of shmem touched at a 1 GiB-aligned address: 512 PTE tables + 1 PMD + 1 PUD + 1 PGD', () => {
  const m = machine();
  const f = m.memfd_create('sga', GiB);
  const mm = m.mm_alloc();
  mapShared(m, mm, f, BASE, GiB);
  touchAll(m, mm, BASE, GiB, true);
  // 262,144 pages / 512 PTEs per table = 512 PTE tables; 1 GiB fits one PMD table; one PUD table
  // covers the 512 GiB slot; one PGD. 515 pages x 4,096 = 2,109,440 bytes.
  const a = mmAccounting(m, mm);
  assert.deepEqual(a.tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 512 });
  assert.equal(a.pageTableBytes, 515 * 4096);
  assert.equal(a.pageTableBytes, 2_109_440);
  // VmPTE counts PTE + PMD + PUD tables: 514 x 4 KiB = 2,056 KiB.
  assert.equal(a.vmPTEBytes, 514 * 4096);
  assert.deepEqual(a.rss, { file: 0, anon: 0, shmem: PAGES_PER_GIB, swapents: 0 });
  assert.equal(m.events.sharedFaults, PAGES_PER_GIB);
  assert.equal(m.events.pgfault, PAGES_PER_GIB);
  assert.equal(machineAccounting(m).folios, PAGES_PER_GIB);
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('32 processes map the same 1 GiB of shmem: 32 times the per-process tables, one page cache', () => {
  const m = machine();
  const f = m.memfd_create('sga', GiB);
  const mms = [];
  for (let i = 0; i < 32; i++) {
    const mm = m.mm_alloc();
    mapShared(m, mm, f, BASE, GiB);
    touchAll(m, mm, BASE, GiB, true);
    mms.push(mm);
  }
  // Private tables: 32 x 515 = 16,480 table pages = 67,502,080 bytes; frames are shared: 262,144.
  const acc = machineAccounting(m);
  assert.deepEqual(acc.tables, { pgd: 32, p4d: 0, pud: 32, pmd: 32, pte: 32 * 512 });
  assert.equal(acc.pageTableBytes, 32 * 515 * 4096);
  assert.equal(acc.sharedTables, 0);
  assert.equal(acc.folios, PAGES_PER_GIB);
  // Each page: 32 mappings; references = page cache + one per mapping = 33.
  const fo = folioAt(m, mms[7]!, BASE + 12345 * 4096);
  assert.equal(m.folios.mapcount[fo], 32);
  assert.equal(m.folios.refcount[fo], 33);
  // Later processes find the pages in the page cache; the first allocated all 262,144.
  for (const mm of mms) m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('munmap of the middle 2 MiB of a touched 1 GiB mapping frees exactly one PTE table', () => {
  const m = machine();
  const f = m.memfd_create('sga', GiB);
  const mm = m.mm_alloc();
  mapShared(m, mm, f, BASE, GiB);
  touchAll(m, mm, BASE, GiB, true);
  const before = m.pool.frees;
  // [BASE+512 MiB, +2 MiB) is exactly one PTE table's span and no remaining VMA overlaps it.
  m.munmap(mm, BASE + 512 * MiB, 2 * MiB);
  assert.equal(m.pool.frees - before, 1);
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 511 });
  assert.equal(mm.vmas.length, 2);
  assert.equal(mm.rss[3], PAGES_PER_GIB - 512);
  // Unmapping one 4 KiB page frees no table: its neighbours still use the PTE table (floor/ceiling).
  m.munmap(mm, BASE + 4096 * 7, 4096);
  assert.equal(m.pool.frees - before, 1);
  assert.equal(mm.vmas.length, 3);
  assert.equal(m.touch(mm, BASE + 4096 * 7, false), VM_FAULT_SIGSEGV);
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('free_pgtables keeps a table that a neighbouring VMA can still use, and frees it with the last one', () => {
  const m = machine();
  const mm = m.mm_alloc();
  // A = [BASE, BASE+1 MiB) and B = [BASE+1 MiB+64 KiB, BASE+2 MiB): both in one 2 MiB PTE-table span.
  mapAnon(m, mm, BASE, MiB);
  mapAnon(m, mm, BASE + MiB + 64 * KiB, MiB - 64 * KiB);
  touchAll(m, mm, BASE, MiB, true);
  touchAll(m, mm, BASE + MiB + 64 * KiB, MiB - 64 * KiB, true);
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 1 });
  m.munmap(mm, BASE, MiB);
  // B's start (ceiling) lies in the same 2 MiB span: the PTE table stays, and so do PMD and PUD.
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 1 });
  m.munmap(mm, BASE + MiB + 64 * KiB, MiB - 64 * KiB);
  // Nothing left: PTE, PMD and PUD tables all go; the PGD stays with the mm.
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 0, pmd: 0, pte: 0 });
  m.exit(mm);
  assertClean(m);
});

test('fork of 1 GiB of touched private anon copies 262,144 PTEs and write-protects both sides', () => {
  const m = machine();
  const parent = m.mm_alloc();
  mapAnon(m, parent, BASE, GiB);
  touchAll(m, parent, BASE, GiB, true);
  assert.deepEqual(leafStats(m, parent, BASE, GiB), { present: PAGES_PER_GIB, writable: PAGES_PER_GIB });
  const child = m.fork(parent);
  assert.equal(m.events.forkPtesCopied, PAGES_PER_GIB);
  assert.equal(m.events.forkPagesCopied, 0);
  // vma_needs_copy: the VMA has an anon_vma, so the child gets the same 515 tables.
  assert.deepEqual(mmAccounting(m, child).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 512 });
  assert.deepEqual(leafStats(m, parent, BASE, GiB), { present: PAGES_PER_GIB, writable: 0 });
  assert.deepEqual(leafStats(m, child, BASE, GiB), { present: PAGES_PER_GIB, writable: 0 });
  assert.equal(child.rss[1], PAGES_PER_GIB);
  // Every page: two mappings, two references, no longer AnonExclusive.
  const fo = folioAt(m, parent, BASE + 777 * 4096);
  assert.equal(fo, folioAt(m, child, BASE + 777 * 4096));
  assert.equal(m.folios.mapcount[fo], 2);
  assert.equal(m.folios.refcount[fo], 2);
  assert.equal(m.folios.flags[fo]! & PG_anon_exclusive, 0);
  m.exit(child);
  m.exit(parent);
  assertClean(m);
});

test('fork with 1 GiB MAP_SHARED copies no PTE; the child refaults with fault-around (16 PTEs per fault)', () => {
  const m = machine();
  const f = m.memfd_create('sga', GiB);
  const parent = m.mm_alloc();
  mapShared(m, parent, f, BASE, GiB);
  touchAll(m, parent, BASE, GiB, true);
  const flushes = m.events.tlbFlushes;
  const child = m.fork(parent);
  assert.equal(m.events.forkPtesCopied, 0);
  // dup_mmap() ends with flush_tlb_mm(oldmm) even when it copied nothing (kernel/fork.c): one flush.
  assert.equal(m.events.tlbFlushes - flushes, 1);
  // No anon_vma on a shared mapping: only the child's PGD exists.
  assert.deepEqual(mmAccounting(m, child).tables, { pgd: 1, p4d: 0, pud: 0, pmd: 0, pte: 0 });
  const faults = m.events.pgfault;
  touchAll(m, child, BASE, GiB, false);
  // fault_around_bytes = 64 KiB: each read fault maps the 16-page aligned block around it, so
  // 262,144 / 16 = 16,384 faults; 15 of every 16 PTEs come from fault-around.
  assert.equal(m.events.pgfault - faults, PAGES_PER_GIB / 16);
  assert.equal(m.events.faultAroundPtes, PAGES_PER_GIB / 16 * 15);
  assert.deepEqual(mmAccounting(m, child).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 512 });
  m.exit(child);
  m.exit(parent);
  m.close(f);
  assertClean(m);
});

test('fault-around disabled (fault_around_bytes = 4096): one fault per page', () => {
  const m = machine({ faultAroundBytes: 4096 });
  const f = m.memfd_create('f', 64 * 4096);
  const a = m.mm_alloc();
  const b = m.mm_alloc();
  mapShared(m, a, f, BASE, 64 * 4096);
  mapShared(m, b, f, BASE, 64 * 4096);
  touchAll(m, a, BASE, 64 * 4096, true);
  const before = m.events.pgfault;
  touchAll(m, b, BASE, 64 * 4096, false);
  assert.equal(m.events.pgfault - before, 64);
  assert.equal(m.events.faultAroundPtes, 0);
  m.exit(a);
  m.exit(b);
  m.close(f);
  assertClean(m);
});

test('COW after fork: the child\'s write copies; the parent\'s write after the child exits reuses', () => {
  const m = machine();
  const parent = m.mm_alloc();
  mapAnon(m, parent, BASE, 4 * 4096);
  for (let i = 0; i < 4; i++) m.touch(parent, BASE + i * 4096, true, 100 + i);
  const child = m.fork(parent);
  const p0 = folioAt(m, parent, BASE);
  // Child writes page 0: refcount 2 > 1, not exclusive -> wp_page_copy.
  assert.equal(m.touch(child, BASE, true, 999), 0);
  assert.equal(m.events.wpCopy, 1);
  assert.notEqual(folioAt(m, child, BASE), p0);
  assert.equal(m.read(child, BASE), 999);
  assert.equal(m.read(parent, BASE), 100);
  // The old page is back to one mapping and one reference (still not flagged exclusive).
  assert.equal(m.folios.mapcount[p0], 1);
  assert.equal(m.folios.refcount[p0], 1);
  // Parent writes page 0: not exclusive, but wp_can_reuse_anon_folio sees refcount 1 -> reuse.
  m.touch(parent, BASE, true, 101);
  assert.equal(m.events.wpReuse, 1);
  assert.equal(folioAt(m, parent, BASE), p0);
  // Page 1 is still shared by both: the parent's write must copy while the child lives...
  const p1 = folioAt(m, parent, BASE + 4096);
  m.touch(parent, BASE + 4096, true, 201);
  assert.equal(m.events.wpCopy, 2);
  assert.notEqual(folioAt(m, parent, BASE + 4096), p1);
  // ...and page 2, after the child has exited, is reused without a copy.
  m.exit(child);
  const p2 = folioAt(m, parent, BASE + 2 * 4096);
  m.touch(parent, BASE + 2 * 4096, true, 202);
  assert.equal(m.events.wpCopy, 2);
  assert.equal(m.events.wpReuse, 2);
  assert.equal(folioAt(m, parent, BASE + 2 * 4096), p2);
  assert.equal(m.read(parent, BASE + 3 * 4096), 103);
  m.exit(parent);
  assertClean(m);
});

test('read faults on private anon map the shared zero page; a write copies it; fork of a zero-page-only VMA copies nothing', () => {
  const m = machine();
  const mm = m.mm_alloc();
  mapAnon(m, mm, BASE, 8 * 4096);
  touchAll(m, mm, BASE, 8 * 4096, false);
  assert.equal(m.events.zeroPageFaults, 8);
  assert.equal(mm.rss[1], 0);
  assert.equal(m.folios.inUse, 0);
  assert.equal(m.read(mm, BASE), 0);
  // No anon_vma yet (do_anonymous_page maps the zero page without anon_vma_prepare): fork copies nothing.
  const child = m.fork(mm);
  assert.equal(m.events.forkPtesCopied, 0);
  m.exit(child);
  m.touch(mm, BASE, true, 5);
  assert.equal(m.events.wpCopy, 1);
  assert.equal(mm.rss[1], 1);
  assert.equal(m.folios.inUse, 1);
  m.exit(mm);
  assertClean(m);
});

test('pinned anonymous pages are copied eagerly at fork; the rest are shared', () => {
  const m = machine();
  const parent = m.mm_alloc();
  mapAnon(m, parent, BASE, 16 * 4096);
  for (let i = 0; i < 16; i++) m.touch(parent, BASE + i * 4096, true, i);
  const pinned = m.pin(parent, BASE + 3 * 4096, true);
  assert.equal(m.folios.refcount[pinned], 1 + GUP_PIN_COUNTING_BIAS);
  const child = m.fork(parent);
  // 15 PTEs copied and shared, 1 page copied for the child (copy_present_page).
  assert.equal(m.events.forkPtesCopied, 15);
  assert.equal(m.events.forkPagesCopied, 1);
  const c3 = folioAt(m, child, BASE + 3 * 4096);
  assert.notEqual(c3, pinned);
  assert.equal(m.read(child, BASE + 3 * 4096), 3);
  // The parent keeps its pinned page writable and exclusive: a write does not fault.
  const faults = m.events.pgfault;
  m.touch(parent, BASE + 3 * 4096, true, 33);
  assert.equal(m.events.pgfault, faults);
  assert.equal(folioAt(m, parent, BASE + 3 * 4096), pinned);
  assert.equal(m.read(child, BASE + 3 * 4096), 3);
  m.unpin(pinned);
  m.exit(child);
  m.exit(parent);
  assertClean(m);
});

test('a read-only pin of a page shared after fork unshares it (FAULT_FLAG_UNSHARE): pin and mapping never diverge', () => {
  const m = machine();
  const parent = m.mm_alloc();
  mapAnon(m, parent, BASE, 4096);
  m.touch(parent, BASE, true, 1);
  const child = m.fork(parent);
  // The child takes a R/O pin: its page is not exclusive, so the pin first unshares (copies) it.
  const pin = m.pin(child, BASE, false);
  assert.equal(m.events.unshareCopy, 1);
  assert.equal(folioAt(m, child, BASE), pin);
  assert.ok((m.folios.flags[pin]! & PG_anon_exclusive) !== 0);
  assert.deepEqual(leafStats(m, child, BASE, 4096), { present: 1, writable: 0 });
  // The parent writes: its page (refcount 1 after the unshare) is reused, not the child's.
  m.touch(parent, BASE, true, 2);
  assert.equal(m.read(child, BASE), 1);
  // The child writes: its page is exclusive, so it is reused — the pinned page stays the mapped one.
  m.touch(child, BASE, true, 3);
  assert.equal(folioAt(m, child, BASE), pin);
  assert.equal(m.folios.content[pin], 3);
  assert.equal(m.read(parent, BASE), 2);
  m.unpin(pin);
  m.exit(child);
  m.exit(parent);
  assertClean(m);
});

test('private file mappings: reads map the page cache, writes copy; fork without COW copies nothing', () => {
  const m = machine();
  const f = m.open_file('lib.so', 32 * 4096);
  const mm = m.mm_alloc();
  m.mmap(mm, { addr: BASE, length: 32 * 4096, prot: RW, flags: MAP_PRIVATE | MAP_FIXED, file: f });
  touchAll(m, mm, BASE, 32 * 4096, false);
  // Fresh file: each read fault reads its page (major fault); fault-around finds nothing else cached.
  assert.equal(m.events.pgmajfault, 32);
  assert.equal(mm.rss[0], 32);
  const child = m.fork(mm);
  assert.equal(m.events.forkPtesCopied, 0, 'no anon_vma: the child refaults from the page cache');
  m.exit(child);
  // A write to a mapped page-cache page: wp_page_copy to an anonymous page.
  m.touch(mm, BASE, true, 7);
  assert.equal(m.events.wpCopy, 1);
  assert.deepEqual([mm.rss[0], mm.rss[1]], [31, 1]);
  // Now the VMA has an anon_vma: fork copies all 32 present PTEs.
  const child2 = m.fork(mm);
  assert.equal(m.events.forkPtesCopied, 32);
  m.exit(child2);
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('access beyond the end of the file raises SIGBUS; PROT_NONE raises SIGSEGV', () => {
  const m = machine();
  const f = m.memfd_create('small', 4096);
  const mm = m.mm_alloc();
  mapShared(m, mm, f, BASE, 2 * 4096);
  assert.equal(m.touch(mm, BASE, true), 0);
  assert.equal(m.touch(mm, BASE + 4096, true), VM_FAULT_SIGBUS);
  mapAnon(m, mm, BASE + MiB, 4096, PROT_NONE);
  assert.equal(m.touch(mm, BASE + MiB, false), VM_FAULT_SIGSEGV);
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('hugetlb 2 MiB: 1 GiB needs no PTE table, 512 PMD leaves; 1 GiB pages need no PMD table', () => {
  const m = machine();
  const f = m.hugetlbfs_create('huge', GiB, '2M');
  const mm = m.mm_alloc();
  mapShared(m, mm, f, BASE, GiB);
  touchAll(m, mm, BASE, GiB, true, 2 * MiB);
  // 512 huge pages, one PMD table of 512 leaves, one PUD table, one PGD.
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 0 });
  assert.equal(mm.hugetlb_usage, PAGES_PER_GIB);
  assert.equal(m.folios.inUse, 512);
  assert.equal(mm.rss.reduce((x, y) => x + y), 0, 'hugetlb pages are not in RSS');
  const g = m.mm_alloc();
  m.mmap(g, { addr: BASE, length: 2 * GiB, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_1GB | MAP_FIXED });
  touchAll(m, g, BASE, 2 * GiB, true, GiB);
  // Two PUD leaves: only the PUD table and PGD.
  assert.deepEqual(mmAccounting(m, g).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 0, pte: 0 });
  assert.equal(g.hugetlb_usage, 2 * PAGES_PER_GIB);
  // Private hugetlb fork: the leaves are shared write-protected, then COW on write.
  const child = m.fork(g);
  assert.equal(m.events.forkPtesCopied, 2);
  m.touch(child, BASE, true, 9);
  assert.equal(m.events.wpCopy, 1);
  assert.equal(m.read(g, BASE), 0);
  m.exit(child);
  m.exit(g);
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('mprotect splits VMAs, write-protects PTEs, and restores them as the kernel does', () => {
  const m = machine();
  const f = m.memfd_create('sga', 4 * MiB);
  const mm = m.mm_alloc();
  mapShared(m, mm, f, BASE, 4 * MiB);
  mapAnon(m, mm, BASE + GiB, 4 * MiB);
  touchAll(m, mm, BASE, 4 * MiB, true);
  touchAll(m, mm, BASE + GiB, 4 * MiB, true);
  m.mprotect(mm, BASE + MiB, MiB, PROT_READ);
  m.mprotect(mm, BASE + GiB + MiB, MiB, PROT_READ);
  assert.equal(mm.vmas.length, 6);
  assert.deepEqual(leafStats(m, mm, BASE + MiB, MiB), { present: 256, writable: 0 });
  assert.equal(m.touch(mm, BASE + MiB, true), VM_FAULT_SIGSEGV);
  // Back to read-write: shared shmem takes vm_page_prot (writable); private anon pages are
  // exclusive, so can_change_pte_writable upgrades them too. No fault needed for either.
  m.mprotect(mm, BASE + MiB, MiB, RW);
  m.mprotect(mm, BASE + GiB + MiB, MiB, RW);
  assert.deepEqual(leafStats(m, mm, BASE + MiB, MiB), { present: 256, writable: 256 });
  assert.deepEqual(leafStats(m, mm, BASE + GiB + MiB, MiB), { present: 256, writable: 256 });
  // Tables did not change: 2 x (2 PTE tables) + 2 PMD tables + 1 PUD + 1 PGD.
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 2, pte: 4 });
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('5-level paging adds a P4D table', () => {
  const m = machine({ levels: 5 });
  const f = m.memfd_create('sga', GiB);
  const mm = m.mm_alloc();
  mapShared(m, mm, f, BASE, GiB);
  touchAll(m, mm, BASE, GiB, true);
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 1, pud: 1, pmd: 1, pte: 512 });
  m.exit(mm);
  m.close(f);
  assertClean(m);
});

test('threads design: one mm for every task; the mm goes with the last task', () => {
  const m = machine({ design: threadsDesign });
  const mm = m.mm_alloc();
  mm.mm_users = 4;
  mapAnon(m, mm, BASE, 2 * MiB);
  touchAll(m, mm, BASE, 2 * MiB, true);
  for (let i = 0; i < 3; i++) m.exit(mm);
  assert.equal(m.mms.size, 1);
  m.exit(mm);
  assertClean(m);
});

test('mprotect back to read-write does not make a page shared with a child writable (can_change_pte_writable)', () => {
  const m = machine();
  const parent = m.mm_alloc();
  mapAnon(m, parent, BASE, 2 * 4096);
  touchAll(m, parent, BASE, 2 * 4096, true);
  const child = m.fork(parent);
  // Page 1 becomes exclusive again once the child drops it.
  m.munmap(child, BASE + 4096, 4096);
  m.mprotect(parent, BASE, 2 * 4096, PROT_READ);
  m.mprotect(parent, BASE, 2 * 4096, RW);
  // Page 0 is still mapped by the child (refcount 2, not exclusive): it stays write-protected so the
  // next write copies. Page 1 is not exclusive either (fork cleared the bit): it also stays
  // write-protected, and the next write reuses it (refcount 1) without a copy.
  assert.deepEqual(leafStats(m, parent, BASE, 2 * 4096), { present: 2, writable: 0 });
  m.touch(parent, BASE, true, 1);
  m.touch(parent, BASE + 4096, true, 2);
  assert.equal(m.events.wpCopy, 1);
  assert.equal(m.events.wpReuse, 1);
  // Now both are exclusive: a read-only/read-write round trip upgrades them without faults.
  m.mprotect(parent, BASE, 2 * 4096, PROT_READ);
  m.mprotect(parent, BASE, 2 * 4096, RW);
  assert.deepEqual(leafStats(m, parent, BASE, 2 * 4096), { present: 2, writable: 2 });
  m.exit(child);
  m.exit(parent);
  assertClean(m);
});

test('the fault walk cache: a fault in the same 2 MiB reuses the walk; after the tables go, the next fault walks and allocates them again', () => {
  const m = machine();
  const mm = m.mm_alloc();
  mapAnon(m, mm, BASE, 2 * MiB);
  let allocs = m.pool.allocs;
  m.fault(mm, BASE, true);
  // First fault: PUD, PMD and PTE tables (the PGD came with mm_alloc).
  assert.equal(m.pool.allocs - allocs, 3);
  allocs = m.pool.allocs;
  m.fault(mm, BASE + 4096, true);
  assert.equal(m.pool.allocs - allocs, 0, 'same 2 MiB: the cached walk, nothing allocated');
  // munmap of the only VMA: free_pgtables frees the PTE, PMD and PUD tables, each a new walk generation.
  const gen = m.pool.walkGen();
  m.munmap(mm, BASE, 2 * MiB);
  assert.equal(m.pool.walkGen() - gen, 3);
  mapAnon(m, mm, BASE, 2 * MiB);
  allocs = m.pool.allocs;
  m.fault(mm, BASE + 8192, true);
  // The cached walk pointed into the freed PMD table: it must not be used. 3 tables again.
  assert.equal(m.pool.allocs - allocs, 3);
  assert.deepEqual(mmAccounting(m, mm).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 1 });
  assert.deepEqual(leafStats(m, mm, BASE, 2 * MiB), { present: 1, writable: 1 });
  m.exit(mm);
  assertClean(m);
});
