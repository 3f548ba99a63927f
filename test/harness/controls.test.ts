/**
 * The control tasks (src/harness/controls.ts): each does exactly the bare work it stands for, with
 * counts worked by hand; the lookup control misses exactly where the TLB model's own set-associative
 * array does; and each task's ratio to its control lands in its record.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { attachControlRatios, bareFolios, bareTlb, controlOf, controlTasks, faultWalk, faultWalkFolios, pteCopy, pteCopyFolios, renderControlRatios, setAssocLookups, tlbMissBare } from '../../src/harness/controls.js';
import { runSga } from '../../src/workload/sga.js';
import { privateDesign } from '../../src/share/private.js';
import { Mmu } from '../../src/tlb/mmu.js';
import { cpuProfile } from '../../src/tlb/cpu_profile.js';
import { kernelConfig } from '../../src/mm/kernel_profile.js';
import { SetAssoc } from '../../src/tlb/set_assoc.js';
import type { TaskResultRecord } from '../../src/harness/types.js';

test('fault walk: 64 MiB at 0x7f0000000000 allocates 1 PUD + 1 PMD + 32 PTE tables; a second walk none', () => {
  const pages = (64 * 2 ** 20) / 4096;
  const pool = new Int32Array(64 * 1024);
  // 64 MiB = 32 windows of 2 MiB, all in one GiB and one 512 GiB entry; table 0 is the PGD.
  assert.equal(faultWalk(pool, 0x7f0000000000, pages), 1 + 1 + 1 + 32);
  // Every leaf written: 512 entries in each of the 32 PTE tables (tables 3..34), low word present.
  let leaves = 0;
  for (let t = 3; t < 35; t++) for (let e = 0; e < 512; e++) if (pool[t * 1024 + 2 * e]! & 1) leaves++;
  assert.equal(leaves, pages);
  // A walk over present tables allocates nothing (next stays 1).
  assert.equal(faultWalk(pool, 0x7f0000000000, pages), 1);
});

test('PTE copy: every present entry copied and write-protected on both sides, holes skipped', () => {
  const src = new Int32Array(2 * 1024);
  for (let i = 0; i < 1024; i += 2) src[2 * i] = ((i + 1) << 12) | 3; // every other entry present, RW
  const dst = new Int32Array(2 * 1024);
  assert.equal(pteCopy(src, dst, 1024), 512);
  for (let i = 0; i < 1024; i++) {
    assert.equal(dst[2 * i], i % 2 === 0 ? ((i + 1) << 12) | 1 : 0);
    assert.equal(src[2 * i], dst[2 * i]);
  }
});

test('set-associative lookup: LRU by age stamps, worked by hand, and the same misses as the TLB model\'s array', () => {
  // One set of 2 ways: 0, 2 fill it; 4 evicts 0 (oldest); 0 evicts 2; 2 evicts 4: 5 misses.
  assert.equal(setAssocLookups(new Int32Array(2), new Int32Array(2), 1, 2, Int32Array.from([0, 2, 4, 0, 2]), 0), 5);
  // 0, 2, 0 (hit, refreshed), 4 evicts 2, 0 hits: 3 misses.
  assert.equal(setAssocLookups(new Int32Array(2), new Int32Array(2), 1, 2, Int32Array.from([0, 2, 0, 4, 0]), 0), 3);
  // 20,000 random pages over 4,096 through 128 sets x 12 ways, against src/tlb/set_assoc.ts.
  const stream = new Int32Array(20000);
  let x = 7;
  for (let i = 0; i < stream.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    stream[i] = (x >>> 8) & 4095;
  }
  const ref = new SetAssoc(128 * 12, 12, 'reference');
  let refMisses = 0;
  for (const vpn of stream) {
    if (ref.lookup(vpn, vpn & 127) < 0) {
      refMisses++;
      ref.insert(vpn, vpn & 127, 0);
    }
  }
  assert.equal(setAssocLookups(new Int32Array(1536), new Int32Array(1536), 128, 12, stream, 0), refMisses);
});

test('controls: which task each bounds, the deterministic counts, and ratios written into the records', () => {
  assert.equal(controlOf('fault/shmem-write-seq'), 'control/fault-walk');
  assert.equal(controlOf('fork/anon-1GiB'), 'control/pte-copy');
  assert.equal(controlOf('tlb/zipf-db'), 'control/set-assoc-lookup');
  assert.equal(controlOf('sga/touch-16x64MiB'), undefined);
  assert.equal(controlOf('control/pte-copy'), undefined);
  // The bare-work controls are judged against the control of the tasks they bound.
  assert.equal(controlOf('control/fault-bare'), 'control/fault-walk');
  assert.equal(controlOf('control/tlb-miss-bare'), 'control/set-assoc-lookup');
  assert.equal(controlOf('control/fork-bare'), 'control/pte-copy');
  const [walk, copy] = controlTasks(true);
  walk!.beforeAll();
  walk!.call(() => 0);
  assert.deepEqual(walk!.counts(), { faults: 16384, tables: 35 });
  copy!.beforeAll();
  copy!.call(() => 0);
  // --quick: fork/anon-256MiB's 65,536 PTEs.
  assert.deepEqual(copy!.counts(), { ptesCopied: 65536 });
  const rec = (name: string, opsPerSec: number): TaskResultRecord => ({
    name, design: 'private', what: '', unit: 'faults', opsPerCall: 1, calls: 1, counts: {}, warnings: [],
    latencyMs: { mean: 1, p50: 1, p75: 1, p99: 1, min: 1, max: 1, sd: 0, rme: 0, samples: [1] }, opsPerSec: { median: opsPerSec, mean: opsPerSec },
  });
  const tasks = [rec('control/fault-walk', 200e6), rec('fault/anon-write-seq', 40e6), rec('fault/shmem-write-random', 20e6), rec('sga/touch-16x64MiB', 30e6)];
  attachControlRatios(tasks);
  assert.deepEqual(tasks.map((t) => t.control), [undefined, { task: 'control/fault-walk', ratio: 0.2, goal: 0.5 }, { task: 'control/fault-walk', ratio: 0.1 }, undefined]);
  assert.match(renderControlRatios(tasks), /fault\/anon-write-seq \[private\] +40\.00 M faults\/s +control\/fault-walk +200\.00 M faults\/s +20\.0 % +>= 50 %: not met/);
});

test('bare fork: each present PTE copied write-protected, its folio losing AnonExclusive and gaining a reference and a mapping', () => {
  const src = new Int32Array(2 * 4);
  src[0] = (1 << 12) | 3; // folio 1, present, RW
  src[4] = (2 << 12) | 3; // folio 2; entries 1 and 3 are holes
  const dst = new Int32Array(2 * 4);
  const flags = Int32Array.from([0, 16 | 1, 16 | 1]); // AnonExclusive (bit 4) and one other bit
  const refcount = Int32Array.from([0, 1, 1]);
  const mapcount = Int32Array.from([0, 1, 1]);
  assert.equal(pteCopyFolios(src, dst, 4, flags, refcount, mapcount), 2);
  assert.deepEqual([...dst], [(1 << 12) | 1, 0, 0, 0, (2 << 12) | 1, 0, 0, 0]);
  assert.deepEqual([...src], [...dst]);
  assert.deepEqual([...flags], [0, 1, 1]);
  assert.deepEqual([...refcount], [0, 2, 2]);
  assert.deepEqual([...mapcount], [0, 2, 2]);
});

test('bare TLB miss path: worked by hand, then the same walks and LLC misses as the full model on one stream', () => {
  const base = 0x7f0000000000;
  // Page 0 cold: L1, STLB and both paging-structure caches miss, so the walk reads the PGD, PUD,
  // PMD and PTE entries: 4 line lookups, 4 LLC misses. Page 0 again: an L1 hit. Page 1: L1 and STLB
  // miss, the PDE cache (filled by the first walk) hits, so only the PTE is read, from the line
  // the first walk brought in (entries 0-7 share a line): 1 walk more, no LLC miss.
  const t = bareTlb(base);
  assert.equal(tlbMissBare(t, Float64Array.from([base, base + 8, base + 4096])), 2 * 2 ** 20 + 4);
  // 20,000 uniform random lines over the GiB: the full model (golden-cove, its default 2 MiB LLC
  // share) walks and misses the LLC exactly as often, so the bare control does the model's lookups.
  const r = runSga({ design: privateDesign, procs: 1, size: 2 ** 30, kind: 'shmem', page: '4k', offset: 0, touch: 'all', write: true, levels: 4, cpus: 1, kernel: kernelConfig() });
  assert.equal(r.addr, base);
  const mmu = new Mmu(r.machine, { profile: cpuProfile('golden-cove'), cpus: 1 }).attach();
  const n = 20000;
  const addrs = new Float64Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    addrs[i] = base + (x >>> 8) * 64;
  }
  mmu.switchTo(0, r.mms[0]!);
  mmu.run(0, addrs, new Uint8Array(n), n);
  const k = mmu.counts();
  const bare = tlbMissBare(bareTlb(base), addrs);
  assert.equal(Math.floor(bare / 2 ** 20), k.walks);
  assert.equal(bare % 2 ** 20, k.refsLlcMiss);
  assert.equal(k.walks, 19862); // pinned: the same on every machine
  mmu.detach();
});

test('bare shmem fault: the walk plus a folio per page, referenced by the page cache and the mapping', () => {
  const pool = new Int32Array(8 * 1024);
  const fo = bareFolios(3);
  // 3 pages in one 2 MiB window: PUD, PMD and one PTE table after the PGD (tables 1-3), so 4 in use.
  assert.equal(faultWalkFolios(pool, 0x7f0000000000, 3, fo), 4);
  assert.deepEqual([...fo.pageCache], [1, 2, 3]);
  assert.deepEqual([...fo.refcount], [0, 2, 2, 2]); // page cache + mapping
  assert.deepEqual([...fo.mapcount], [0, 1, 1, 1]);
  assert.deepEqual([...fo.index], [0, 0, 1, 2]);
  assert.equal(fo.rss[0], 3);
  // The PTEs map folios 1-3 present, writable and dirty.
  assert.deepEqual([0, 1, 2].map((e) => pool[3 * 1024 + 2 * e]), [(1 << 12) | 0x43, (2 << 12) | 0x43, (3 << 12) | 0x43]);
});
