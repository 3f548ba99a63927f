/**
 * PTE-table sharing through a host mm (design `ptshare`, the 2023 RFC). A PTE table maps 2 MiB;
 * 1 GiB = 512 PTE tables.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelError } from '../../src/mm/errno.js';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import { MAP_FIXED, MAP_SHARED, MAP_SHARED_PT, PROT_READ } from '../../src/mm/mmap.js';
import { table_of } from '../../src/mm/pagewalk.js';
import { ptshareDesign } from '../../src/share/ptshare.js';
import { assertClean, BASE, folioAt, GiB, machine, MiB, RW, touchAll } from '../helpers.js';
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

test('16 guests share 512 PTE tables of a 1 GiB shmem mapping through one host mm', () => {
  const { m, file, mms } = setup(16);
  // Host: PGD + PUD + PMD + 512 PTE tables. Each guest: its own PGD, PUD and PMD table; its PMD
  // entries point at the host's PTE tables (pt_share_count 16 each: the host owns them).
  const acc = machineAccounting(m);
  assert.deepEqual(acc.tables, { pgd: 17, p4d: 0, pud: 17, pmd: 17, pte: 512 });
  assert.equal(acc.sharedTables, 512);
  assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE + 300 * MiB, 0)], 16);
  assert.deepEqual(mmAccounting(m, mms[4]!).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 512 });
  // Faults: the first guest faults every page (through the host); every later guest faults once per
  // 2 MiB, to link the table: 262,144 + 15 x 512 = 269,824.
  assert.equal(m.events.pgfault, 262_144 + 15 * 512);
  // The pages are charged to the host mm; the guests' RSS is empty.
  assert.equal(mmAccounting(m, mms[0]!).rss.shmem, 0);
  const f = folioAt(m, mms[2]!, BASE + 12345 * 4096);
  assert.deepEqual([m.folios.mapcount[f], m.folios.refcount[f]], [1, 2]);
  m.touch(mms[1]!, BASE, true, 7);
  assert.equal(m.read(mms[15]!, BASE), 7);
  for (const mm of mms) m.exit(mm);
  // The last guest took the host with it.
  m.close(file);
  assertClean(m);
});

test('refusals: 2 MiB alignment and size, the same address for every mapping, partial unmap, the design', () => {
  const { m, file, mms } = setup(1, 4 * MiB);
  const mm = m.mm_alloc();
  assert.equal(code(() => m.mmap(mm, { addr: BASE + 4096, length: 4 * MiB, prot: RW, flags: PT, file })), 'EINVAL addr');
  assert.equal(code(() => m.mmap(mm, { addr: BASE, length: 3 * MiB, prot: RW, flags: PT, file })), 'EINVAL length');
  assert.equal(code(() => m.mmap(mm, { addr: BASE + GiB, length: 4 * MiB, prot: RW, flags: PT, file })), 'EINVAL addr');
  assert.throws(() => m.mmap(mm, { addr: BASE + GiB, length: 4 * MiB, prot: RW, flags: PT, file }), /every mapping must use the same address, length and offset/);
  assert.equal(code(() => m.munmap(mms[0]!, BASE, 2 * MiB)), 'EINVAL addr');
  assert.throws(() => m.munmap(mms[0]!, BASE, 2 * MiB), /partial munmap of the shared-PT mapping .* is refused/);
  assert.equal(mm.vmas.length, 0);
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

test('a guest that unmaps or exits unlinks; fork links on fault without copying', () => {
  const { m, file, mms } = setup(2, 4 * MiB);
  const t = table_of(m, mms[0]!, BASE, 0);
  assert.equal(m.pool.shareCount[t], 2);
  m.munmap(mms[0]!, BASE, 4 * MiB);
  assert.equal(m.pool.shareCount[t], 1);
  const child = m.fork(mms[1]!);
  assert.equal(m.events.forkPtesCopied, 0);
  m.touch(child, BASE, false);
  assert.equal(table_of(m, child, BASE, 0), t);
  assert.equal(m.pool.shareCount[t], 2);
  for (const mm of [...mms, child]) m.exit(mm);
  m.close(file);
  assertClean(m);
});
