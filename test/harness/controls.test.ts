/**
 * The control tasks (src/harness/controls.ts): each does exactly the bare work it stands for, with
 * counts worked by hand; the lookup control misses exactly where the TLB model's own set-associative
 * array does; and each task's ratio to its control lands in its record.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { attachControlRatios, controlOf, controlTasks, faultWalk, pteCopy, renderControlRatios, setAssocLookups } from '../../src/harness/controls.js';
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
