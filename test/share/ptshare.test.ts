/**
 * Table sharing through a host mm as the posted code of the 2022/23 RFC does it (design `ptshare`,
 * mm/ptshare.c of "Add support for sharing page tables across processes (Previously mshare)"):
 * ptshare_copy_pmd() at the first mmap points the creator's PUD entry at the host's PMD table;
 * find_shared_vma() at a fault copies the host's PMD entry into a sharer's own PMD table. A PTE table
 * maps 2 MiB, a PMD table 1 GiB; 1 GiB = 512 PTE tables.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelError } from '../../src/mm/errno.js';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_SHARED, MAP_SHARED_PT, PROT_READ } from '../../src/mm/mmap.js';
import { table_of } from '../../src/mm/pagewalk.js';
import { ptshareDesign } from '../../src/share/ptshare.js';
import { assertClean, BASE, folioAt, GiB, machine, MiB, RW, touchAll } from '../helpers.js';
import { VM_SHARED_PT } from '../../src/mm/vma.js';
import { VM_FAULT_SIGSEGV } from '../../src/mm/vm_fault.js';

const PT = MAP_SHARED | MAP_SHARED_PT | MAP_FIXED;

function setup(n: number, size = GiB) {
  const m = machine({ design: ptshareDesign });
  const file = m.memfd_create('sga', size);
  const mms: MmStruct[] = [];
  for (let i = 0; i < n; i++) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: BASE, length: size, prot: RW, flags: PT, file });
    touchAll(m, mm, BASE, size, true);
    mms.push(mm);
  }
  return { m, file, mms };
}

function code(fn: () => unknown): string {
  try { fn(); } catch (e) { if (e instanceof KernelError) return `${e.code} ${e.field}`; throw e; }
  return 'ok';
}

test('16 processes x 1 GiB: the creator links the host PMD table, the others copy its 512 PMD entries', () => {
  const { m, file, mms } = setup(16);
  // Host: PGD + PUD + PMD + 512 PTE tables. Creator: its PGD and PUD; its PUD entry is the host's PMD
  // table. Each of the other 15: its PGD, PUD and its own PMD table, whose entries are the host's
  // (set_pmd in find_shared_vma). Machine-wide: PGD 1 + 16, PUD 1 + 16, PMD 1 + 15, PTE 512.
  const acc = machineAccounting(m);
  assert.deepEqual(acc.tables, { pgd: 17, p4d: 0, pud: 17, pmd: 16, pte: 512 });
  // Shared: the host's PMD table (by the creator) and its 512 PTE tables (by the 15 others).
  assert.equal(acc.sharedTables, 1 + 512);
  assert.equal(m.pool.shareCount[table_of(m, mms[4]!, BASE + 300 * MiB, 0)], 15);
  assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE, 1)], 1);
  // VmPTE counts no linked table (pud_populate and set_pmd do not call mm_inc_nr_pmds/ptes):
  // the creator 1 PUD x 4,096; another (1 PUD + 1 PMD) x 4,096.
  assert.equal(mmAccounting(m, mms[0]!).vmPTEBytes, 4096);
  assert.equal(mmAccounting(m, mms[4]!).vmPTEBytes, 2 * 4096);
  assert.deepEqual(mmAccounting(m, mms[4]!).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 512 });
  // Faults: the creator's entries are the host's, so it faults every page once, in the host; each
  // later process faults once per 2 MiB (the PMD-entry copy returns VM_FAULT_NOPAGE and the access
  // retries into present host PTEs): 262,144 + 15 x 512 = 269,824.
  assert.equal(m.events.pgfault, 262_144 + 15 * 512);
  // The pages are charged to the host mm; the sharers' RSS is empty.
  assert.equal(mmAccounting(m, mms[0]!).rss.shmem, 0);
  const f = folioAt(m, mms[2]!, BASE + 12345 * 4096);
  assert.deepEqual([m.folios.mapcount[f], m.folios.refcount[f]], [1, 2]);
  m.touch(mms[1]!, BASE, true, 7);
  assert.equal(m.read(mms[15]!, BASE), 7);
  for (const mm of mms) m.exit(mm);
  // The last sharer took the host with it.
  m.close(file);
  assertClean(m);
});

test('a 2 GiB mapping: the creator links only the first GiB and copies PMD entries in the second', () => {
  const { m, file, mms } = setup(2, 2 * GiB);
  // Creator: PUD + its own PMD table for the second GiB; the other: PUD + 2 PMD tables.
  assert.equal(mmAccounting(m, mms[0]!).vmPTEBytes, (1 + 1) * 4096);
  assert.equal(mmAccounting(m, mms[1]!).vmPTEBytes, (1 + 2) * 4096);
  // In the second GiB the creator's first touch of each 2 MiB faults twice: once in the host (both
  // PMD entries empty, pmd_same), once to copy the entry. 524,288 + 512 faults for the creator, 1,024
  // for the other.
  assert.equal(m.events.pgfault, 524_288 + 512 + 1024);
  for (const mm of mms) m.exit(mm);
  m.close(file);
  assertClean(m);
});

test('a mapping at another address or length, or not 2 MiB aligned, gets private tables; partial munmap is refused', () => {
  const { m, file, mms } = setup(1, 4 * MiB);
  const mm = m.mm_alloc();
  // do_mmap sets VM_SHARED_PT only at the creator's start and length, on a PMD-aligned VMA.
  m.mmap(mm, { addr: BASE + GiB, length: 4 * MiB, prot: RW, flags: PT, file });
  m.mmap(mm, { addr: BASE + 2 * GiB + 4096, length: 2 * MiB, prot: RW, flags: PT, file });
  assert.deepEqual(mm.vmas.map((v) => v.vm_flags & VM_SHARED_PT), [0, 0]);
  touchAll(m, mm, BASE + GiB, 4 * MiB, true);
  assert.equal(mmAccounting(m, mm).tables.pte, 2);
  assert.equal(code(() => m.munmap(mms[0]!, BASE, 2 * MiB)), 'EINVAL addr');
  assert.throws(() => m.munmap(mms[0]!, BASE, 2 * MiB), /partial munmap of the shared-PT mapping .* is refused/);
  const p = machine();
  const f2 = p.memfd_create('x', 2 * MiB);
  assert.throws(() => p.mmap(p.mm_alloc(), { addr: BASE, length: 2 * MiB, prot: RW, flags: PT, file: f2 }), /MAP_SHARED_PT needs the ptshare design/);
  assert.match(ptshareDesign.checkScenario!({ kind: 'anon', page: '4k' })!, /MAP_SHARED/);
  m.exit(mm);
  m.exit(mms[0]!);
  m.close(file);
  assertClean(m);
});

test('mprotect by one sharer changes the protection for every sharer (the host PTEs)', () => {
  const { m, file, mms } = setup(3, 8 * MiB);
  m.mprotect(mms[0]!, BASE + 2 * MiB, 2 * MiB, PROT_READ);
  // Every guest now faults on a write there, including ones that did not call mprotect.
  for (const mm of mms) assert.equal(m.touch(mm, BASE + 3 * MiB, true), VM_FAULT_SIGSEGV);
  assert.equal(m.touch(mms[2]!, BASE + 5 * MiB, true), 0);
  m.mprotect(mms[1]!, BASE + 2 * MiB, 2 * MiB, RW);
  for (const mm of mms) assert.equal(m.touch(mm, BASE + 3 * MiB, true), 0);
  // Tables are unchanged: the host's PTE tables, still shared by all 3.
  assert.equal(machineAccounting(m).tables.pte, 4);
  for (const mm of mms) m.exit(mm);
  m.close(file);
  assertClean(m);
});

test('a sharer that unmaps or exits unlinks; fork copies no entry, the child copies PMD entries on fault', () => {
  const { m, file, mms } = setup(2, 4 * MiB);
  // The second process's PMD entry is the host's PTE table; the creator reaches it through its
  // linked PMD table.
  const t = table_of(m, mms[1]!, BASE, 0);
  assert.equal(table_of(m, mms[0]!, BASE, 0), t);
  assert.equal(m.pool.shareCount[t], 1);
  m.munmap(mms[1]!, BASE, 4 * MiB);
  assert.equal(m.pool.shareCount[t], 0);
  const child = m.fork(mms[0]!);
  assert.equal(m.events.forkPtesCopied, 0);
  m.touch(child, BASE, false);
  assert.equal(table_of(m, child, BASE, 0), t);
  assert.equal(m.pool.shareCount[t], 1);
  for (const mm of [...mms, child]) m.exit(mm);
  m.close(file);
  assertClean(m);
});

test('hugetlbfs and MAP_SHARED | MAP_ANONYMOUS mappings keep private tables (do_mmap: file && !is_file_hugepages)', () => {
  const m = machine({ design: ptshareDesign });
  const mm = m.mm_alloc();
  const huge = m.hugetlbfs_create('h', 4 * MiB, '2M');
  m.mmap(mm, { addr: BASE, length: 4 * MiB, prot: RW, flags: PT, file: huge });
  // The anonymous shared mapping has no file when the RFC's do_mmap checks (shmem_zero_setup is later).
  m.mmap(mm, { addr: BASE + GiB, length: 4 * MiB, prot: RW, flags: PT | MAP_ANONYMOUS });
  assert.deepEqual(mm.vmas.map((v) => v.vm_flags & VM_SHARED_PT), [0, 0]);
  m.exit(mm);
  m.close(huge);
  assertClean(m);
});
