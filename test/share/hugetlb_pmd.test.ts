/**
 * hugetlb PMD sharing (design `hugetlb-pmd`), pinned to the kernel's rules (mm/hugetlb.c,
 * want_pmd_share / huge_pmd_share / huge_pmd_unshare). A PMD table maps 1 GiB = 512 x 2 MiB pages.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import type { Machine } from '../../src/mm/machine.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import { MAP_FIXED, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { VM_DONTDUMP, VM_LOCKED, VM_LOCKONFAULT } from '../../src/mm/vma.js';
import { table_of } from '../../src/mm/pagewalk.js';
import { hugetlbPmdDesign } from '../../src/share/hugetlb_pmd.js';
import { assertClean, BASE, folioAt, GiB, machine, MiB, RW, touchAll } from '../helpers.js';

const H = 2 * MiB;

function sharers(m: Machine, n: number, size: number, offset: number, prot = RW): { mms: MmStruct[]; file: ReturnType<Machine['hugetlbfs_create']> } {
  const file = m.hugetlbfs_create('sga', size, '2M');
  const mms: MmStruct[] = [];
  for (let i = 0; i < n; i++) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: BASE + offset, length: size, prot, flags: MAP_SHARED | MAP_FIXED, file });
    touchAll(m, mm, BASE + offset, size, (prot & 2) !== 0, H);
    mms.push(mm);
  }
  return { mms, file };
}

function teardown(m: Machine, mms: MmStruct[], file: ReturnType<Machine['hugetlbfs_create']>): void {
  for (const mm of mms) if (!mm.dead) m.exit(mm);
  m.close(file);
  assertClean(m);
}

test('128 processes map a 2 GiB hugetlb file at 1 GiB-aligned addresses: 2 PMD tables machine-wide, each with 127 extra sharers', () => {
  const m = machine({ design: hugetlbPmdDesign });
  const { mms, file } = sharers(m, 128, 2 * GiB, 0);
  // Windows [BASE, +1 GiB) and [BASE+1 GiB, +2 GiB) each lie wholly inside every VMA: process 1
  // allocates the two PMD tables, processes 2..128 find them through i_mmap: pt_share_count 127.
  const acc = machineAccounting(m);
  assert.deepEqual(acc.tables, { pgd: 128, p4d: 0, pud: 128, pmd: 2, pte: 0 });
  assert.equal(acc.sharedTables, 2);
  for (const w of [0, 1]) assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE + w * GiB, 1)], 127);
  // Every process sees both tables (VmPTE counts a shared PMD table in each sharer, as the kernel does).
  assert.deepEqual(mmAccounting(m, mms[77]!).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 2, pte: 0 });
  // 1,024 huge pages, each mapped once (one PMD entry, however many sharers): mapcount 1, refcount 2.
  assert.equal(m.folios.inUse, 1024);
  const f = folioAt(m, mms[100]!, BASE + 300 * H);
  assert.equal(f, folioAt(m, mms[3]!, BASE + 300 * H));
  assert.deepEqual([m.folios.mapcount[f], m.folios.refcount[f]], [1, 2]);
  // Process 1 faulted the 1,024 pages in; each other process took one fault per GiB, which only linked
  // the shared table: 1,024 + 127 x 2 = 1,278 faults, not 128 x 1,024 = 131,072.
  assert.equal(m.events.hugetlbFaults, 1024 + 127 * 2);
  // A write through one sharer is read through another.
  m.touch(mms[5]!, BASE + 7 * H, true, 42);
  assert.equal(m.read(mms[120]!, BASE + 7 * H), 42);
  teardown(m, mms, file);
});

test('the same mapping 2 MiB off alignment: only the GiB window wholly inside the VMA is shared (kernel range_in_vma)', () => {
  const m = machine({ design: hugetlbPmdDesign });
  const { mms, file } = sharers(m, 128, 2 * GiB, H);
  // [BASE+2 MiB, BASE+2 GiB+2 MiB) touches windows 0, 1 and 2; only window 1 lies wholly inside.
  // The issue text expected none shared; the kernel's vma_shareable() shares window 1:
  // 128 (window 0) + 1 (window 1) + 128 (window 2) = 257 PMD tables, 3 per process.
  assert.deepEqual(machineAccounting(m).tables, { pgd: 128, p4d: 0, pud: 128, pmd: 257, pte: 0 });
  assert.equal(machineAccounting(m).sharedTables, 1);
  assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE + GiB, 1)], 127);
  assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE, 1)], 0);
  assert.deepEqual(mmAccounting(m, mms[9]!).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 3, pte: 0 });
  teardown(m, mms, file);
});

test('one process mprotects 2 MiB: it unshares that GiB and refaults into private tables; the others still share', () => {
  const m = machine({ design: hugetlbPmdDesign });
  const { mms, file } = sharers(m, 8, 2 * GiB, 0);
  const w0 = table_of(m, mms[0]!, BASE, 1);
  assert.equal(m.pool.shareCount[w0], 7);
  m.mprotect(mms[3]!, BASE + 10 * H, H, PROT_READ);
  // The split inside window 0 unshared it for mm 3 (hugetlb_split): one sharer fewer, no PUD entry.
  assert.equal(m.pool.shareCount[w0], 6);
  assert.equal(table_of(m, mms[3]!, BASE, 1), -1);
  assert.equal(m.events.tablesUnshared, 1);
  // mm 3 refaults window 0: its VMAs no longer cover the whole GiB, so it gets a private PMD table.
  touchAll(m, mms[3]!, BASE, GiB, false, H);
  const mine = table_of(m, mms[3]!, BASE, 1);
  assert.notEqual(mine, w0);
  assert.equal(m.pool.shareCount[mine], 0);
  assert.equal(m.touch(mms[3]!, BASE + 10 * H, true), 64, 'the protected 2 MiB page is read-only now (SIGSEGV)');
  // Window 1 is untouched: still shared by all 8. Machine-wide: 2 shared tables + 1 private = 3.
  assert.equal(m.pool.shareCount[table_of(m, mms[3]!, BASE + GiB, 1)], 7);
  assert.equal(machineAccounting(m).tables.pmd, 3);
  teardown(m, mms, file);
});

test('munmap of part drops the whole GiB from that mm only; fork re-shares on fault without copying', () => {
  const m = machine({ design: hugetlbPmdDesign });
  const { mms, file } = sharers(m, 4, GiB, 0);
  const w0 = table_of(m, mms[0]!, BASE, 1);
  assert.equal(m.pool.shareCount[w0], 3);
  m.munmap(mms[2]!, BASE, H);
  assert.equal(m.pool.shareCount[w0], 2);
  // The other 511 pages of that GiB are gone from mm 2 too (huge_pmd_unshare), refaulted later.
  assert.equal(table_of(m, mms[2]!, BASE + H, 1), -1);
  assert.equal(m.read(mms[0]!, BASE + H), 0);
  // fork of mm 1: no PTE copied (MAP_SHARED hugetlb has no anon_vma); the child's fault re-shares.
  const child = m.fork(mms[1]!);
  assert.equal(m.events.forkPtesCopied, 0);
  m.touch(child, BASE + 5 * H, false);
  assert.equal(table_of(m, child, BASE, 1), w0);
  assert.equal(m.pool.shareCount[w0], 3);
  // The creator exits first: the table survives with the remaining sharers; the last one frees it.
  m.exit(mms[0]!);
  assert.equal(m.pool.shareCount[w0], 2);
  mms.push(child);
  teardown(m, mms, file);
});

test('no sharing for different flags, for 1 GiB pages, or with the private design', () => {
  const m = machine({ design: hugetlbPmdDesign });
  const ro = sharers(m, 1, GiB, 0, PROT_READ);
  const rw = sharers(m, 1, GiB, 0, RW);
  // VM_WRITE differs: page_table_shareable refuses; two private PMD tables.
  assert.equal(machineAccounting(m).sharedTables, 0);
  assert.equal(machineAccounting(m).tables.pmd, 2);
  m.close(rw.file);
  teardown(m, [...ro.mms, ...rw.mms], ro.file);
  const g = machine({ design: hugetlbPmdDesign });
  const file = g.hugetlbfs_create('g', 2 * GiB, '1G');
  const a = g.mm_alloc();
  const b = g.mm_alloc();
  for (const mm of [a, b]) {
    g.mmap(mm, { addr: BASE, length: 2 * GiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file });
    touchAll(g, mm, BASE, 2 * GiB, true, GiB);
  }
  // 1 GiB pages are PUD leaves: no PMD table at all, nothing shared; each process has its PUD table.
  assert.deepEqual(machineAccounting(g).tables, { pgd: 2, p4d: 0, pud: 2, pmd: 0, pte: 0 });
  teardown(g, [a, b], file);
  assert.match(hugetlbPmdDesign.checkScenario!({ kind: 'hugetlb', page: '1g' })!, /never shared/);
});

test('unlinking a shared PMD table from one sharer moves the walk generation (cached walks through it are redone), freeing nothing', () => {
  const m = machine({ design: hugetlbPmdDesign });
  const { mms, file } = sharers(m, 2, GiB, 0);
  const gen = m.pool.walkGen();
  const frees = m.pool.frees;
  // Process 2's munmap unshares the PMD table (huge_pmd_unshare) and frees its now-empty PUD table.
  m.munmap(mms[1]!, BASE, GiB);
  assert.equal(m.pool.frees - frees, 1);
  // One generation for the unshare, one for the freed PUD table.
  assert.equal(m.pool.walkGen() - gen, 2);
  teardown(m, mms, file);
});

test('pagemap: a hugetlb page in a shared PMD table is never PM_MMAP_EXCLUSIVE (pagemap_hugetlb_range, hugetlb_pmd_shared)', () => {
  // fs/proc/task_mmu.c, pagemap_hugetlb_range() since "fs/proc/task_mmu: convert pagemap_hugetlb_range()
  // to work on folios" (David Hildenbrand, April 2024, for 6.10; so in both profiles, 6.12 and 6.18):
  // PM_MMAP_EXCLUSIVE only if !folio_maybe_mapped_shared(folio) && !hugetlb_pmd_shared(ptep). Under PMD
  // sharing the folio is mapped once (one PMD entry), so the mapcount alone would call it exclusive.
  const m = machine({ design: hugetlbPmdDesign });
  const { mms: [a], file } = sharers(m, 1, GiB, 0);
  // One process: its own PMD table, the folio mapped once: exclusive.
  assert.equal(m.pagemap(a!, BASE).exclusive, true);
  const b = m.mm_alloc();
  m.mmap(b, { addr: BASE, length: GiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file });
  touchAll(m, b, BASE, GiB, true, H);
  // b linked a's PMD table (pt_share_count 1): the folio is still mapped once, yet shared for both.
  assert.equal(folioAt(m, a!, BASE), folioAt(m, b, BASE));
  assert.equal(m.pagemap(a!, BASE).exclusive, false);
  assert.equal(m.pagemap(b, BASE).exclusive, false);
  m.exit(b);
  // b gone, the table is a's alone again: exclusive.
  assert.equal(m.pagemap(a!, BASE).exclusive, true);
  teardown(m, [a!], file);
});

test('clear_refs (soft-dirty) clears VM_SOFTDIRTY on hugetlb VMAs too, and pagemap reports hugetlb soft-dirty from the VMA alone', () => {
  // fs/proc/task_mmu.c: clear_refs_write() clears VM_SOFTDIRTY on every VMA; its page walk has no
  // hugetlb_entry, so the huge entries are untouched. pagemap_hugetlb_range() sets PM_SOFT_DIRTY from
  // VM_SOFTDIRTY only. So a hugetlb page reads soft-dirty after mmap and clean after clear_refs, and a
  // later write does not make it soft-dirty again (nothing re-sets VM_SOFTDIRTY but a VMA change).
  const m = machine();
  const { mms: [a], file } = sharers(m, 1, GiB, 0);
  assert.equal(m.pagemap(a!, BASE).softDirty, true);
  m.clear_refs_soft_dirty(a!);
  assert.equal(m.pagemap(a!, BASE).softDirty, false);
  m.touch(a!, BASE, true, 9);
  assert.equal(m.pagemap(a!, BASE).softDirty, false);
  assert.equal(m.read(a!, BASE), 9);
  teardown(m, [a!], file);
});

test('sharing compares vm_flags without VM_LOCKED_MASK: an mlocked (on fault) sharer still shares, another flag does not', () => {
  // want_pmd_share() -> page_table_shareable() (mm/hugetlb.c): vm_flags & ~VM_LOCKED_MASK must be
  // equal, VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT (include/linux/mm.h).
  const m = machine({ design: hugetlbPmdDesign });
  const file = m.hugetlbfs_create('sga', GiB, '2M');
  const mms: MmStruct[] = [];
  for (const extra of [0, VM_LOCKED | VM_LOCKONFAULT, VM_DONTDUMP]) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: BASE, length: GiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file });
    mm.vmas[0]!.vm_flags |= extra;
    touchAll(m, mm, BASE, GiB, true, H);
    mms.push(mm);
  }
  const t = table_of(m, mms[0]!, BASE, 1);
  assert.equal(table_of(m, mms[1]!, BASE, 1), t, 'VM_LOCKED | VM_LOCKONFAULT ignored: shared');
  assert.notEqual(table_of(m, mms[2]!, BASE, 1), t, 'VM_DONTDUMP differs: a PMD table of its own');
  assert.equal(m.pool.shareCount[t], 1);
  teardown(m, mms, file);
});

test('GUP-fast sync on unshare (hugetlb_unshare_sync): one IPI broadcast per operation that leaves a table to one owner', async () => {
  const { kernelConfig } = await import('../../src/mm/kernel_profile.js');
  // 4 processes share both PMD tables of a 2 GiB file (pt_share_count 3) on 2 CPUs: each sync is
  // one IPI (smp_call_function to every CPU but the caller's).
  const m = machine({ design: hugetlbPmdDesign, kernel: kernelConfig('6.18') });
  const { mms, file } = sharers(m, 4, 2 * GiB, 0);
  const ev = m.events;
  // Exits 1 and 2: each drops both links (counts 3 -> 2 -> 1): the tables still have two owners: no sync.
  m.exit(mms[0]!);
  m.exit(mms[1]!);
  assert.equal(ev.gupFastSyncs, 0);
  // Exit 3 unshares both tables, each now left to process 4 alone (count 0): huge_pmd_unshare sets
  // fully_unshared_tables for both, and tlb_flush_unshared_tables() syncs once for the exit's
  // mmu_gather (include/asm-generic/tlb.h, batched since "mm/hugetlb: fix excessive IPI broadcasts
  // when unsharing PMD tables using mmu_gather"): 1 sync, 1 IPI; the race fix alone (1013af4f585f)
  // sent one per table, 2.
  const ipis0 = ev.tlbIpis;
  m.exit(mms[2]!);
  assert.equal(ev.gupFastSyncs, 1);
  assert.equal(ev.tlbIpis - ipis0, 1);
  // Process 4's own tables are private now: its exit zaps them, no unshare, no sync.
  m.exit(mms[3]!);
  assert.equal(ev.gupFastSyncs, 1);
  teardown(m, mms, file);
});

test('GUP-fast sync: mprotect of one GiB by the second-last sharer syncs once; a lone split syncs at once', async () => {
  const { kernelConfig } = await import('../../src/mm/kernel_profile.js');
  const m = machine({ design: hugetlbPmdDesign, kernel: kernelConfig('6.12') });
  const { mms, file } = sharers(m, 2, 2 * GiB, 0);
  // 2 sharers (count 1). mprotect of the first GiB by process 1: hugetlb_change_protection unshares
  // that GiB's table, leaving it to process 2 (count 0): one sync at the end of its mmu_gather.
  m.mprotect(mms[0]!, BASE, GiB, PROT_READ);
  assert.equal(m.events.gupFastSyncs, 1);
  // munmap of 2 MiB inside the second GiB by process 2 splits the VMA there: hugetlb_split unshares
  // that window's table (count 1 -> 0) outside any operation's gather: a sync at once.
  m.munmap(mms[1]!, BASE + GiB + H, H);
  assert.equal(m.events.gupFastSyncs, 2);
  teardown(m, mms, file);
});
