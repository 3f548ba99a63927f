import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelError } from '../../src/mm/errno.js';
import type { Machine } from '../../src/mm/machine.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import {
  MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, PROT_READ,
} from '../../src/mm/mmap.js';
import { BASE, GiB, machine, mapAnon, MiB, RW, touchAll } from '../helpers.js';

/** Everything observable about an mm and the machine, to prove a failed call changed nothing. */
function snapshot(m: Machine, mm: MmStruct): string {
  return JSON.stringify({
    vmas: mm.vmas.map((v) => [v.vm_start, v.vm_end, v.vm_flags, v.vm_pgoff]),
    nr: mm.nr, rss: mm.rss, tables: m.pool.inUse, folios: m.folios.inUse, events: m.events.snapshot(),
  });
}

function expectErr(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KernelError, `expected KernelError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.equal(e.field, field);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.match(e.message, new RegExp(`^${code}: ${field}: `));
    return true;
  });
}

function setup(): { m: Machine; mm: MmStruct } {
  const m = machine();
  const mm = m.mm_alloc();
  mapAnon(m, mm, BASE, 4 * MiB);
  touchAll(m, mm, BASE, 4 * MiB, true);
  return { m, mm };
}

test('mmap: zero or malformed length, unaligned MAP_FIXED, unknown flags and prot are EINVAL and change nothing', () => {
  const { m, mm } = setup();
  const before = snapshot(m, mm);
  const anon = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  expectErr(() => m.mmap(mm, { addr: BASE + GiB, length: 0, prot: RW, flags: anon }), 'EINVAL', 'length');
  expectErr(() => m.mmap(mm, { addr: BASE + GiB, length: 1.5, prot: RW, flags: anon }), 'EINVAL', 'length');
  expectErr(() => m.mmap(mm, { addr: BASE + GiB + 100, length: 4096, prot: RW, flags: anon }), 'EINVAL', 'addr');
  expectErr(() => m.mmap(mm, { addr: BASE + GiB, length: 4096, prot: RW, flags: anon | 0x800000 }), 'EINVAL', 'flags');
  expectErr(() => m.mmap(mm, { addr: BASE + GiB, length: 4096, prot: 0x10, flags: anon }), 'EINVAL', 'prot');
  expectErr(() => m.mmap(mm, { addr: BASE + GiB, length: 4096, prot: RW, flags: MAP_ANONYMOUS | MAP_FIXED }), 'EINVAL', 'flags');
  expectErr(() => m.mmap(mm, { addr: 4096, length: 4096, prot: RW, flags: anon }), 'EPERM', 'addr');
  expectErr(() => m.mmap(mm, { addr: 2 ** 47 - 4096, length: 8192, prot: RW, flags: anon }), 'ENOMEM', 'addr');
  expectErr(() => m.mmap(mm, { addr: 0, length: 2 ** 48, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS }), 'ENOMEM', 'length');
  expectErr(() => m.mmap(mm, { addr: BASE + GiB, length: 4096, prot: RW, flags: MAP_SHARED | MAP_FIXED }), 'EBADF', 'file');
  assert.equal(snapshot(m, mm), before);
});

test('MAP_FIXED_NOREPLACE over an existing mapping is EEXIST; MAP_FIXED replaces it', () => {
  const { m, mm } = setup();
  const before = snapshot(m, mm);
  expectErr(() => m.mmap(mm, { addr: BASE + MiB, length: 4096, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE }), 'EEXIST', 'addr');
  assert.equal(snapshot(m, mm), before);
  m.mmap(mm, { addr: BASE + MiB, length: 4096, prot: PROT_READ, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
  assert.equal(mm.vmas.length, 3);
  assert.equal(mm.rss[1], 1024 - 1);
});

test('munmap: unaligned address or zero length is EINVAL; unmapping nothing succeeds and changes nothing, as Linux does', () => {
  const { m, mm } = setup();
  const before = snapshot(m, mm);
  expectErr(() => m.munmap(mm, BASE + 1, 4096), 'EINVAL', 'addr');
  expectErr(() => m.munmap(mm, BASE, 0), 'EINVAL', 'length');
  expectErr(() => m.munmap(mm, BASE, -4096), 'EINVAL', 'length');
  // munmap(2): "It is not an error if the indicated range does not contain any mapped pages."
  assert.equal(m.munmap(mm, BASE + GiB, 4096), 0);
  assert.equal(snapshot(m, mm), before);
});

test('mprotect: a hole in the range is ENOMEM, unknown prot bits EINVAL; zero length succeeds', () => {
  const { m, mm } = setup();
  const before = snapshot(m, mm);
  expectErr(() => m.mprotect(mm, BASE, 8 * MiB, PROT_READ), 'ENOMEM', 'addr');
  expectErr(() => m.mprotect(mm, BASE, 4096, 0x40), 'EINVAL', 'prot');
  expectErr(() => m.mprotect(mm, BASE + 3, 4096, PROT_READ), 'EINVAL', 'addr');
  m.mprotect(mm, BASE, 0, PROT_READ);
  assert.equal(snapshot(m, mm), before);
});

test('hugetlb: splitting inside a huge page is EINVAL before anything changes', () => {
  const m = machine();
  const f = m.hugetlbfs_create('h', 4 * MiB, '2M');
  const mm = m.mm_alloc();
  m.mmap(mm, { addr: BASE, length: 4 * MiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f });
  touchAll(m, mm, BASE, 4 * MiB, true, 2 * MiB);
  const before = snapshot(m, mm);
  expectErr(() => m.munmap(mm, BASE + 4096, 4096), 'EINVAL', 'addr');
  expectErr(() => m.mprotect(mm, BASE, 4096, PROT_READ), 'EINVAL', 'addr');
  expectErr(() => m.mmap(mm, { addr: BASE + 4096, length: 2 * MiB, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f }), 'EINVAL', 'addr');
  expectErr(() => m.hugetlbfs_create('bad', 3 * MiB), 'EINVAL', 'length');
  assert.equal(snapshot(m, mm), before);
});

test('running out of table pages or frames is ENOMEM, and the machine stays consistent', () => {
  // 515 tables are needed for 1 GiB; give 100.
  const m = machine({ ptPages: 100 });
  const mm = m.mm_alloc();
  mapAnon(m, mm, BASE, GiB);
  expectErr(() => touchAll(m, mm, BASE, GiB, true), 'ENOMEM', 'page-table pool');
  // Every table allocated is linked and accounted: 1 PGD + 1 PUD + 1 PMD + 97 PTE tables.
  assert.equal(m.pool.inUse, 100);
  assert.deepEqual(mm.nr, [97, 1, 1, 1, 0]);
  m.exit(mm);
  assert.deepEqual(m.leakCheck(), []);

  const m2 = machine({ frames: 10 });
  const mm2 = m2.mm_alloc();
  mapAnon(m2, mm2, BASE, MiB);
  expectErr(() => touchAll(m2, mm2, BASE, MiB, true), 'ENOMEM', 'frame table');
  assert.equal(mm2.rss[1], 9);
  m2.exit(mm2);
  assert.deepEqual(m2.leakCheck(), []);
});

test('use after exit and double exit are refused', () => {
  const { m, mm } = setup();
  m.exit(mm);
  expectErr(() => m.exit(mm), 'EINVAL', 'mm');
  expectErr(() => m.fork(mm), 'EINVAL', 'mm');
});
