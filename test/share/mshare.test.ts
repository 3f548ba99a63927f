/** mshare (2025 series): a host mm per region, processes link its PUD table (512 GiB per entry). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelError } from '../../src/mm/errno.js';
import { machineAccounting, mmAccounting } from '../../src/mm/accounting.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import { MAP_FIXED, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import { table_of } from '../../src/mm/pagewalk.js';
import { mshare_create_mapping, mshareDesign, mshareProtectAllDesign } from '../../src/share/mshare.js';
import { assertClean, BASE, GiB, machine, MiB, RW, touchAll } from '../helpers.js';
import { VM_FAULT_SIGSEGV } from '../../src/mm/vm_fault.js';

const REGION = 2 ** 39; // 512 GiB

function setup(design = mshareDesign, n = 16, objSize = GiB, attach = (i: number) => BASE + 0 * i) {
  const m = machine({ design });
  const obj = m.memfd_create('sga', objSize);
  const region = m.msharefs_create('db', REGION);
  mshare_create_mapping(m, region, 0, objSize, RW, obj);
  const mms: MmStruct[] = [];
  for (let i = 0; i < n; i++) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: attach(i), length: REGION, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: region });
    touchAll(m, mm, attach(i), objSize, true);
    mms.push(mm);
  }
  const done = () => {
    for (const mm of mms) m.exit(mm);
    m.close(obj);
    m.close(region);
    assertClean(m);
  };
  return { m, mms, done };
}

function code(fn: () => unknown): string {
  try { fn(); } catch (e) { if (e instanceof KernelError) return `${e.code} ${e.field}`; throw e; }
  return 'ok';
}

test('16 processes attach a 512 GiB region holding 1 GiB of shmem: one PUD table shared, the host holds the rest', () => {
  const { m, mms, done } = setup();
  // Host: PGD + PUD + PMD + 512 PTE tables. Each process: only its PGD, whose entry points at the
  // host PUD table (pt_share_count 16).
  assert.deepEqual(machineAccounting(m).tables, { pgd: 17, p4d: 0, pud: 1, pmd: 1, pte: 512 });
  assert.equal(m.pool.shareCount[table_of(m, mms[3]!, BASE, 2)], 16);
  assert.deepEqual(mmAccounting(m, mms[3]!).tables, { pgd: 1, p4d: 0, pud: 1, pmd: 0, pte: 0 });
  // find_shared_vma() (v3): the first process's first fault runs in the host (both top-level entries
  // empty), its second copies the host's entry (VM_FAULT_NOPAGE); then every page faults once in the
  // host. Each later process faults once, to copy the entry: 262,144 + 1 + 15.
  assert.equal(m.events.pgfault, 262_144 + 1 + 15);
  // set_p4d() does not call mm_inc_nr_puds(): the linked PUD table is not in the process's VmPTE.
  assert.equal(mmAccounting(m, mms[3]!).vmPTEBytes, 0);
  m.touch(mms[0]!, BASE + 5 * MiB, true, 99);
  assert.equal(m.read(mms[15]!, BASE + 5 * MiB), 99);
  // A hole in the region is SIGBUS (nothing mapped there in the host).
  assert.equal(m.touch(mms[1]!, BASE + 2 * GiB, false), 2);
  done();
});

test('processes may attach the region at different 512 GiB-aligned addresses (v2+)', () => {
  const { m, mms, done } = setup(mshareDesign, 2, 64 * MiB, (i) => BASE - i * REGION);
  assert.equal(table_of(m, mms[0]!, BASE, 2), table_of(m, mms[1]!, BASE - REGION, 2));
  done();
});

test('refusals: region size, attach alignment and length, partial munmap, mprotect inside (v3)', () => {
  const { m, mms, done } = setup(mshareDesign, 1, 64 * MiB);
  assert.equal(code(() => m.msharefs_create('bad', GiB)), 'EINVAL size');
  assert.throws(() => m.msharefs_create('bad', GiB), /multiple of 512 GiB/);
  const region = m.files.find((f) => f?.kind === 'msharefs')!;
  const other = m.mm_alloc();
  assert.equal(code(() => m.mmap(other, { addr: BASE + GiB, length: REGION, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: region })), 'EINVAL addr');
  assert.equal(code(() => m.mmap(other, { addr: BASE, length: GiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: region })), 'EINVAL length');
  assert.equal(code(() => m.munmap(mms[0]!, BASE, GiB)), 'EINVAL addr');
  assert.equal(code(() => m.mprotect(mms[0]!, BASE, 2 * MiB, PROT_READ)), 'EINVAL addr');
  assert.throws(() => m.mprotect(mms[0]!, BASE, 2 * MiB, PROT_READ), /mshare \(v3\): mprotect inside an msharefs mapping is not supported/);
  m.exit(other);
  done();
});

test('mshare-protect-all: one process mprotects, every sharer sees it, one global TLB flush', () => {
  const { m, mms, done } = setup(mshareProtectAllDesign, 3, 8 * MiB);
  m.mprotect(mms[0]!, BASE + 2 * MiB, 2 * MiB, PROT_READ);
  assert.equal(m.events.flushTlbAll, 1);
  for (const mm of mms) assert.equal(m.touch(mm, BASE + 3 * MiB, true), VM_FAULT_SIGSEGV);
  assert.equal(m.touch(mms[2]!, BASE + 5 * MiB, true), 0);
  // The tables stay shared: still one PUD table, linked by all three.
  assert.equal(m.pool.shareCount[table_of(m, mms[0]!, BASE, 2)], 3);
  done();
});
