/** Page tables cached on the file (design `file-pt`, a model of the proposal on the list). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import { MAP_FIXED, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { table_of } from '../../src/mm/pagewalk.js';
import { file_pt_shrink, filePtDesign } from '../../src/share/file_pt.js';
import { assertClean, BASE, GiB, machine, MiB, RW, touchAll } from '../helpers.js';

function setup(n: number, size: number, addr: number, write = true) {
  const m = machine({ design: filePtDesign });
  const file = m.memfd_create('sga', size);
  const mms: MmStruct[] = [];
  for (let i = 0; i < n; i++) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr, length: size, prot: RW, flags: MAP_SHARED | MAP_FIXED, file });
    touchAll(m, mm, addr, size, write);
    mms.push(mm);
  }
  return { m, file, mms };
}

test('1 GiB mapped congruently modulo 1 GiB: every process links the one cached PMD table', () => {
  const { m, file, mms } = setup(16, GiB, BASE);
  // The cache (a host mm): PGD + PUD + PMD + 512 PTE tables. Each process: PGD + PUD of its own and a
  // PUD entry pointing at the cached PMD table (pt_share_count 16).
  assert.deepEqual(machineAccounting(m).tables, { pgd: 17, p4d: 0, pud: 17, pmd: 1, pte: 512 });
  assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE, 1)], 16);
  assert.deepEqual(mmAccounting(m, mms[0]!).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 1, pte: 0 });
  // The first process faults every page in through the cache; each other links once per GiB.
  assert.equal(m.events.pgfault, 262_144 + 15);
  for (const mm of mms) m.exit(mm);
  m.close(file);
  assertClean(m);
});

test('2 MiB off 1 GiB alignment: the PMD tables are private, the 512 cached PTE tables are linked', () => {
  const { m, file, mms } = setup(16, GiB, BASE + 2 * MiB);
  // Congruent modulo 2 MiB, not 1 GiB: each process has 2 private PMD tables (the mapping spans two
  // GiB windows) whose entries point at the cache's 512 PTE tables: 16 x 2 + 1 (cache) = 33 PMD tables.
  assert.deepEqual(machineAccounting(m).tables, { pgd: 17, p4d: 0, pud: 17, pmd: 33, pte: 512 });
  assert.equal(m.pool.shareCount[table_of(m, mms[5]!, BASE + 100 * MiB, 0)], 16);
  for (const mm of mms) m.exit(mm);
  m.close(file);
  assertClean(m);
});

test('a mapping whose address is not congruent to its file offset shares nothing', () => {
  const { m, file, mms } = setup(4, 8 * MiB, BASE + 4096);
  // [BASE+4 KiB, +8 MiB) at file offset 0: no 2 MiB window lines up; all tables private, no cache.
  // Per process 1 PGD + 1 PUD + 1 PMD + 5 PTE tables (the range touches 5 PTE-table spans).
  assert.deepEqual(machineAccounting(m).tables, { pgd: 4, p4d: 0, pud: 4, pmd: 4, pte: 20 });
  assert.equal(machineAccounting(m).sharedTables, 0);
  for (const mm of mms) m.exit(mm);
  m.close(file);
  assertClean(m);
});

test('mprotect unshares; the process refaults into the cached set for its new protection', () => {
  const { m, file, mms } = setup(4, GiB, BASE, false);
  const pmd = table_of(m, mms[0]!, BASE, 1);
  m.mprotect(mms[1]!, BASE + 10 * MiB, 2 * MiB, PROT_READ);
  // mm 1 dropped its link to the cached PMD table (the whole GiB leaves it); the others keep it.
  assert.equal(m.events.tablesUnshared, 1);
  assert.equal(m.pool.shareCount[pmd], 3);
  touchAll(m, mms[1]!, BASE, GiB, false);
  // No piece of mm 1 covers the whole GiB now: it gets a private PMD table whose 511 entries point at
  // the read-write cache's PTE tables and 1 at a new read-only cache (its own PGD, PUD, PMD, 1 PTE).
  assert.equal(table_of(m, mms[1]!, BASE + 20 * MiB, 0), table_of(m, mms[0]!, BASE + 20 * MiB, 0));
  assert.notEqual(table_of(m, mms[1]!, BASE + 10 * MiB, 0), table_of(m, mms[0]!, BASE + 10 * MiB, 0));
  assert.deepEqual(machineAccounting(m).tables, { pgd: 6, p4d: 0, pud: 6, pmd: 3, pte: 513 });
  assert.equal(m.touch(mms[1]!, BASE + 11 * MiB, true), 64, 'read-only for mm 1 (SIGSEGV)');
  assert.equal(m.touch(mms[2]!, BASE + 11 * MiB, true), 0, 'still writable for the others');
  for (const mm of mms) m.exit(mm);
  // All users gone, the file still open: the cached sets stay until the shrinker step frees them:
  // read-write cache 1 + 1 + 1 + 512 tables, read-only cache 1 + 1 + 1 + 1 = 519 table pages.
  assert.equal(m.pool.inUse, 519);
  assert.equal(file_pt_shrink(m), 519);
  assert.equal(m.events.ptCacheShrunk, 519);
  m.close(file);
  assertClean(m);
});
