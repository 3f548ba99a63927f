/**
 * The TLB and page-walk model (src/tlb/): counts derived by hand from the CPU profile's geometry,
 * Linux's ASID and flush rules, and the page-table layout; plus the lackey trace reader.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';

import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KernelError } from '../../src/mm/errno.js';
import { Machine } from '../../src/mm/machine.js';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ } from '../../src/mm/mmap.js';
import type { MmStruct } from '../../src/mm/mm_types.js';
import { DESIGNS, designByName } from '../../src/share/index.js';
import { CPU_PROFILES, cpuProfile, type CpuProfile } from '../../src/tlb/cpu_profile.js';
import { replayTrace, runTlbDb } from '../../src/workload/tlb/experiment.js';
import { LackeyParser, readLackeyTrace } from '../../src/workload/tlb/lackey.js';
import { Mmu } from '../../src/tlb/mmu.js';
import { runSchedule } from '../../src/workload/tlb/schedule.js';
import { AccessStream } from '../../src/workload/tlb/stream.js';
import { decodeTrace, TRACE_DEFAULTS, TraceReplay } from '../../src/workload/tlb/replay.js';
import { tlbTasks } from '../../src/harness/tasks.js';
import { UsageError } from '../../src/lib/errors.js';
import { GiB, RW, tempDir } from '../helpers.js';

const LOW_BASE = 16 * GiB; // 1 GiB-aligned (so also 2 MiB- and 128-page-aligned)
/** Where the shared region goes: 512 GiB-aligned, as an mshare region must be. */
const SHM = 2 ** 39;
const skylake = cpuProfile('skylake');
const FIXTURE = new URL('../fixtures/lackey/walk.trace.gz', import.meta.url).pathname;
const SQLITE_FIXTURE = new URL('../fixtures/lackey/sqlite.trace.gz', import.meta.url).pathname;

/** A machine with `procs` processes, each with `bytes` of private anonymous memory at LOW_BASE, all written. */
function world(procs: number, bytes: number, cpus = 1, profile: CpuProfile = skylake, pcid = true): { m: Machine; mms: MmStruct[]; mmu: Mmu } {
  const m = new Machine({ cpus, ptPages: 8192, frames: procs * (bytes / 4096) + 1024 });
  const mms: MmStruct[] = [];
  for (let i = 0; i < procs; i++) {
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: LOW_BASE, length: bytes, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    for (let a = LOW_BASE; a < LOW_BASE + bytes; a += 4096) m.touch(mm, a, true);
    mms.push(mm);
  }
  const mmu = new Mmu(m, { profile, cpus, pcid }).attach();
  return { m, mms, mmu };
}

/** One access to each of `pages` consecutive pages from LOW_BASE on `cpu`, `passes` times. */
function pagesPass(mmu: Mmu, cpu: number, pages: number, passes = 1): void {
  const addrs = new Float64Array(pages);
  for (let i = 0; i < pages; i++) addrs[i] = LOW_BASE + i * 4096;
  const w = new Uint8Array(pages);
  for (let p = 0; p < passes; p++) mmu.run(cpu, addrs, w, pages);
}

describe('CPU profiles', () => {
  it('golden-cove, zen4 and skylake exist, every figure has a source, and unknown names are refused', () => {
    assert.deepEqual(CPU_PROFILES.map((p) => p.name).sort(), ['golden-cove', 'skylake', 'zen4']);
    for (const p of CPU_PROFILES) {
      for (const a of [...p.l1, ...p.stlb, ...Object.values(p.psc), p.latency]) assert.ok(a.source.length > 10, `${p.name}: a figure without a source`);
    }
    assert.throws(() => cpuProfile('pentium'), (e: unknown) => e instanceof KernelError && /unknown CPU profile 'pentium'; known: golden-cove, zen4, skylake/.test(e.message));
  });
});

describe('TLB model: hand-derived counts (skylake: L1 64 x 4K 4-way = 16 sets, STLB 1536 12-way = 128 sets)', () => {
  it('a sequential pass over 1 GiB of 4 KiB pages, cold: every access misses both levels and walks', () => {
    const { mmu, mms } = world(1, GiB);
    mmu.switchTo(0, mms[0]!);
    pagesPass(mmu, 0, 262144);
    const k = mmu.counts();
    // 1 GiB / 4 KiB = 262,144 accesses, each to a new page: all L1 misses, all STLB misses (cold).
    assert.equal(k.accesses, 262144);
    assert.equal(k.l1Misses, 262144);
    assert.equal(k.stlbMisses, 262144);
    assert.equal(k.walks, 262144);
    // Paging-structure caches: the very first walk reads PML4E, PDPTE, PDE, PTE (4 references);
    // the first page of each of the other 511 2 MiB windows hits the PDPTE cache (2 references:
    // PDE + PTE); every other page hits the PDE cache (1 reference: the PTE).
    assert.equal(k.pscMiss, 1);
    assert.equal(k.pscHitPdpte, 511);
    assert.equal(k.pscHitPde, 262144 - 512);
    assert.equal(k.walkRefs, 4 + 511 * 2 + (262144 - 512)); // 262,658
    // LLC (2 MiB of page-table lines): each 64-byte line holds 8 entries. PTE lines: 262,144 / 8 =
    // 32,768, PD lines: 512 / 8 = 64, one PDPT line, one PML4 line - each missed once, then hit.
    assert.equal(k.refsLlcMiss, 32768 + 64 + 1 + 1); // 32,834
    assert.equal(k.refsLlcHit, 262658 - 32834); // 229,824
    assert.equal(k.faults, 0);
    // Derived cycles: STLB hits x 9 + LLC-served refs x 42 + DRAM-served refs x 200.
    assert.equal(mmu.cycles(k), 0 * 9 + 229824 * 42 + 32834 * 200);
  });

  it('a loop over a working set that just fits the L1 (64 pages) versus just exceeds it (65)', () => {
    for (const [pages, l1Misses] of [[64, 0], [65, 5]] as const) {
      const { mmu, mms } = world(1, 1 << 20);
      mmu.switchTo(0, mms[0]!);
      pagesPass(mmu, 0, pages);
      mmu.resetCounts();
      pagesPass(mmu, 0, pages);
      const k = mmu.counts();
      // 64 pages spread 4 per set over the 16 sets: all stay. With 65, set 0 holds VPN offsets
      // 0, 16, 32, 48, 64: five pages cycling through a 4-way LRU set, so all five miss every pass
      // (and hit the STLB); the other sets still fit.
      assert.equal(k.l1Misses, l1Misses, `${pages} pages`);
      assert.equal(k.stlbHits, l1Misses);
      assert.equal(k.stlbMisses, 0);
    }
  });

  it('a loop over a working set that just fits the STLB (1536 pages) versus just exceeds it (1537)', () => {
    for (const [pages, stlbMisses] of [[1536, 0], [1537, 13]] as const) {
      const { mmu, mms } = world(1, 8 << 20);
      mmu.switchTo(0, mms[0]!);
      pagesPass(mmu, 0, pages);
      mmu.resetCounts();
      pagesPass(mmu, 0, pages);
      const k = mmu.counts();
      // A cyclic loop over more pages than the 64-entry L1 holds misses the L1 every time.
      assert.equal(k.l1Misses, pages);
      // 1536 pages fill the 128 sets x 12 ways exactly. With 1537, set 0 gets offsets 0, 128, ...,
      // 1536: 13 pages in a 12-way LRU set, so all 13 miss every pass.
      assert.equal(k.stlbMisses, stlbMisses, `${pages} pages`);
      assert.equal(k.stlbHits, pages - stlbMisses);
    }
  });

  it('context switches: two processes keep their ASIDs; seven on one CPU recycle the 6 dynamic ASIDs; nopcid flushes every time', () => {
    const slices = (procs: number, rounds: number, pcid: boolean): number => {
      const { mmu, mms } = world(procs, 32 * 4096, 1, skylake, pcid);
      for (let r = 0; r < rounds; r++) {
        for (const mm of mms) {
          mmu.switchTo(0, mm);
          pagesPass(mmu, 0, 32);
        }
      }
      return mmu.counts().stlbMisses;
    };
    // Two processes, 4 rounds: each walks its 32 pages once (64), then both keep their entries
    // under their own ASIDs (choose_new_asid finds the slot, tlb_gen unchanged: no flush).
    assert.equal(slices(2, 4, true), 2 * 32);
    // Six processes fit the 6 dynamic ASIDs: 6 x 32 compulsory walks, none afterwards.
    assert.equal(slices(6, 2, true), 6 * 32);
    // Seven processes round-robin: next_asid hands out 1..5, 0, 1, ... so every switch takes the
    // slot of the process that ran six switches ago and flushes it: 7 x 32 walks every round.
    assert.equal(slices(7, 2, true), 2 * 7 * 32);
    // Without PCID every switch of mm flushes the TLB: 2 processes x 4 rounds x 32 pages.
    assert.equal(slices(2, 4, false), 2 * 4 * 32);
  });

  it('L1 hits refresh LRU; a store through a clean entry refills it in place (dirty-bit assist); worked by hand in one set', () => {
    // Pages 0..4 of a shmem mapping, 128 pages apart: VPNs differ by multiples of 128, so all five
    // sit in L1 set 0 (VPN mod 16) and STLB set 0 (VPN mod 128). A read fault on MAP_SHARED shmem
    // maps the page writable and clean, so the first store through it needs the assist.
    const m = new Machine({ cpus: 1, ptPages: 256, frames: 4096 });
    const f = m.memfd_create('shm', 8 << 20);
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: LOW_BASE, length: 8 << 20, prot: RW, flags: MAP_SHARED | MAP_FIXED, file: f });
    const page = (p: number) => LOW_BASE + p * 128 * 4096;
    for (let p = 0; p < 5; p++) m.touch(mm, page(p), false);
    const mmu = new Mmu(m, { profile: skylake, cpus: 1 }).attach();
    mmu.switchTo(0, mm); // first ASID handed out: 1
    const key = (p: number) => (LOW_BASE / 4096 + p * 128) * 32 + 0 * 8 + 1; // VPN, size code 0, ASID 1
    const l1 = mmu.cpu[0]!.l1[0]!.arr;
    const stlb = mmu.cpu[0]!.stlb[0]!.arr;
    const setOf = (a: typeof l1) => [...a.keys.subarray(0, a.ways)].filter((k) => k >= 0);
    const run = (p: number, w: number) => mmu.run(0, new Float64Array([page(p)]), new Uint8Array([w]), 1);
    for (let p = 0; p < 4; p++) run(p, 0); // 4 misses in both levels, 4 walks: L1 [3 2 1 0]
    run(0, 0); // L1 hit on the least recent entry, which becomes the most recent: [0 3 2 1]
    assert.deepEqual(setOf(l1), [key(0), key(3), key(2), key(1)]);
    run(1, 1); // store: L1 hit on a clean entry -> assist walk, refilled in place in both levels
    assert.deepEqual(setOf(l1), [key(1), key(0), key(3), key(2)]);
    assert.deepEqual(setOf(stlb), [key(1), key(3), key(2), key(0)]);
    run(4, 0); // miss in both: walk; L1 evicts its LRU entry, page 2: [4 1 0 3]
    run(2, 0); // L1 miss, STLB hit; the L1 evicts page 3: [2 4 1 0]
    run(1, 1); // store through the now dirty entry: an L1 hit, no walk: [1 2 4 0]
    run(3, 0); // L1 miss, STLB hit; the L1 evicts page 0: [3 1 2 4]
    assert.deepEqual(setOf(l1), [key(3), key(1), key(2), key(4)]);
    // STLB set 0: [1 3 2 0] after the assist; page 4 filled in front, the hits on 2 and 3 moved
    // them to the front in turn: [3 2 4 1 0].
    assert.deepEqual(setOf(stlb), [key(3), key(2), key(4), key(1), key(0)]);
    const k = mmu.counts();
    assert.equal(k.accesses, 10);
    assert.equal(k.stores, 2);
    assert.equal(k.l1Hits, 3); // page 0 again, both stores to page 1
    assert.equal(k.l1Misses, 7); // 4 cold + pages 4, 2, 3
    assert.equal(k.stlbHits, 2); // pages 2 and 3
    assert.equal(k.stlbMisses, 5); // 4 cold + page 4
    assert.equal(k.assistWalks, 1);
    assert.equal(k.walks, 6); // 5 misses + 1 assist
    assert.equal(k.faults, 0);
    assert.deepEqual([...l1.check(), ...stlb.check()], []);
  });

  it('shootdowns: a ranged flush drops exactly the range, above 33 pages a full flush drops the ASID, a CPU not running the mm defers to its next switch', () => {
    const { m, mmu, mms } = world(2, 64 * 4096, 2);
    const [a, b] = mms as [MmStruct, MmStruct];
    mmu.switchTo(0, a);
    pagesPass(mmu, 0, 64); // 64 pages cached in the L1 (4 per set) and the STLB
    mmu.resetCounts();
    m.mprotect(a, LOW_BASE, 16 * 4096, PROT_READ);
    let k = mmu.counts();
    // 16 pages <= 33: INVLPG of each; each page sat in both the L1 and the STLB: 32 entries.
    assert.equal(m.lastFlush!.kind, 'ranged');
    assert.equal(k.shootdownsApplied, 1);
    assert.equal(k.entriesInvalidated, 32);
    pagesPass(mmu, 0, 64);
    k = mmu.counts();
    assert.equal(k.walksAfterShootdown, 16);
    assert.equal(k.stlbMisses, 16);
    assert.deepEqual(mmu.staleEntries(), []);
    mmu.resetCounts();
    // 34 pages > 33 (pages 16..49 change; 0..15 already read-only): a full flush of the mm's ASID,
    // all 64 pages in both levels = 128 entries.
    m.mprotect(a, LOW_BASE + 16 * 4096, 34 * 4096, PROT_READ);
    assert.equal(m.lastFlush!.kind, 'full');
    assert.equal(mmu.counts().entriesInvalidated, 128);
    // Deferred: b ran on CPU 1 and CPU 1 now runs a, so b's flush waits for b's next switch there.
    mmu.switchTo(1, b);
    pagesPass(mmu, 1, 64);
    mmu.switchTo(1, a);
    mmu.resetCounts();
    m.mprotect(b, LOW_BASE, 16 * 4096, PROT_READ);
    k = mmu.counts();
    assert.equal(k.shootdownsDeferred, 1);
    assert.equal(k.shootdownsApplied, 0);
    assert.equal((b.cpumask >>> 1) & 1, 0, 'CPU 1 left b\'s mm_cpumask (lazy mm_cpumask, 2024)');
    mmu.switchTo(1, b);
    pagesPass(mmu, 1, 64);
    k = mmu.counts();
    // The switch finds b's slot behind tlb_gen and flushes it: all 64 pages walk again, all of them
    // translations the flush removed.
    assert.equal(k.deferredFlushes, 1);
    assert.equal(k.stlbMisses, 64);
    assert.equal(k.walksAfterShootdown, 64);
  });

  it('no translation survives the flushes of munmap, mprotect, COW after fork, MADV_DONTNEED and reclaim, under every design', () => {
    for (const d of DESIGNS) {
      const m = new Machine({ cpus: 2, design: d, ptPages: 4096, frames: 65536 });
      const f = m.memfd_create('shm', 4 << 20);
      const mmu = new Mmu(m, { profile: cpuProfile('zen4'), cpus: 2 }).attach();
      const mms = [m.mm_alloc(), d.mmPerProcess ? m.mm_alloc() : null].filter((x): x is MmStruct => x !== null);
      for (const mm of mms) {
        if (d.mapShared) d.mapShared(m, mm, f, SHM, 4 << 20, RW, 0);
        else m.mmap(mm, { addr: SHM, length: 4 << 20, prot: RW, flags: MAP_SHARED | MAP_FIXED | (d.mmapFlags ?? 0), file: f });
        m.mmap(mm, { addr: LOW_BASE, length: 1 << 20, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
      }
      const tasks = mms.map((mm, i) => ({ mm, source: new AccessStream({ kind: 'uniform', base: SHM, length: 4 << 20, writeFraction: 0.3, seed: 7 + i }) }));
      const anon = mms.map((mm, i) => ({ mm, source: new AccessStream({ kind: 'uniform', base: LOW_BASE, length: 1 << 20, writeFraction: 0.5, seed: 70 + i }) }));
      const step = () => {
        runSchedule(mmu, [...tasks, ...anon], { quantum: 500, accessesPerTask: 1000 });
        assert.deepEqual(mmu.staleEntries(), [], d.name);
        // Every array kept its layout through the lookups, fills and flushes (SetAssoc.check).
        const arrays = [mmu.llc, ...mmu.cpu.flatMap((c) => [...c.tlbArrays, ...c.psc.filter((p) => p !== null)])];
        assert.deepEqual(arrays.flatMap((a) => a.check(d.name)), []);
      };
      step();
      m.reclaim_shmem_page(f, 17);
      step();
      try {
        m.mprotect(mms[0]!, SHM, 1 << 21, PROT_READ);
        tasks[0]!.source = new AccessStream({ kind: 'uniform', base: SHM, length: 4 << 20, seed: 9 });
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
      }
      step();
      const child = m.fork(mms[0]!);
      anon.push({ mm: child, source: new AccessStream({ kind: 'uniform', base: LOW_BASE, length: 1 << 20, writeFraction: 1, seed: 99 }) });
      step();
      m.madvise_dontneed(mms[0]!, LOW_BASE, 1 << 19);
      m.munmap(mms[0]!, LOW_BASE + (1 << 19), 1 << 19);
      anon[0]!.source = new AccessStream({ kind: 'uniform', base: LOW_BASE, length: 1 << 19, writeFraction: 0.5, seed: 5 });
      step();
      assert.equal(mmu.counts().pscStale, 0, `${d.name}: a paging-structure cache entry outlived its table`);

      mmu.detach();
      for (const mm of [...mms, child]) while (!mm.dead) m.exit(mm);
      for (const x of m.files) if (x !== undefined) m.close(x); // the shmem file, and mshare's msharefs file
      assert.deepEqual(m.leakCheck(), [], d.name);
    }
  });
});

describe('the database workload under the TLB model', () => {
  it('reclaim of a page shared by 8 processes clears 8 entries with private tables and 1 with shared PTE tables', () => {
    const run = (design: string) => runTlbDb({
      design: designByName(design), procs: 8, cpus: 2, size: 32 << 20, page: '4k', profile: skylake, quantum: 500,
      stream: 'zipf', seed: 3, accesses: 2000, warmup: 1000, probes: true,
    });
    const priv = run('private');
    assert.equal(priv.probes!.reclaim.entriesCleared, 8);
    assert.equal(priv.probes!.reclaim.vmasVisited, 8);
    // The 4 mms only the reclaiming CPU 0 may cache are flushed there at once; the other 4 are
    // deferred into one batched flush (TTU_BATCH_FLUSH): 4 + 1.
    assert.equal(priv.probes!.reclaim.flushes, 4 + 1);
    const pt = run('ptshare');
    assert.equal(pt.probes!.reclaim.entriesCleared, 1); // one entry in the one shared PTE table
    assert.equal(pt.probes!.reclaim.flushes, 1); // ... flushed on every sharer's CPUs
    assert.equal(pt.probes!.reclaim.cpusTargeted, 2);
    const ms = run('mshare');
    assert.equal(ms.probes!.reclaim.kind, 'global'); // host tables: flush_tlb_all
    assert.match(ms.probes!.mprotect.refused!, /not supported/);
    // Same seeds, same accesses: the designs differ only in which tables the walks read.
    assert.equal(priv.counts.accesses, 8 * 2000);
    assert.equal(priv.counts.stlbMisses, pt.counts.stlbMisses);
    assert.ok(pt.counts.refsLlcMiss <= priv.counts.refsLlcMiss, 'shared PTE tables cannot miss the LLC more than private copies');
  });

  it('is deterministic: the same seed gives the same counts', () => {
    const o = { design: designByName('file-pt'), procs: 4, cpus: 2, size: 16 << 20, page: '4k' as const, profile: cpuProfile('golden-cove'), quantum: 300, stream: 'zipf' as const, seed: 11, accesses: 3000, warmup: 0, probes: false };
    assert.deepEqual(runTlbDb(o).counts, runTlbDb(o).counts);
  });
});

describe('access streams', () => {
  it('are seeded and stay in the region; seq walks every 64-byte line in order', () => {
    const n = 5000;
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    const w = new Uint8Array(n);
    for (const kind of ['seq', 'strided', 'uniform', 'zipf'] as const) {
      new AccessStream({ kind, base: LOW_BASE, length: 1 << 20, seed: 4 }).fill(a, w, n);
      new AccessStream({ kind, base: LOW_BASE, length: 1 << 20, seed: 4 }).fill(b, w, n);
      assert.deepEqual(a, b, kind);
      for (const x of a) assert.ok(x >= LOW_BASE && x < LOW_BASE + (1 << 20) && x % 64 === 0, kind);
    }
    new AccessStream({ kind: 'seq', base: LOW_BASE, length: 4096 }).fill(a, w, 70);
    assert.equal(a[0], LOW_BASE);
    assert.equal(a[63], LOW_BASE + 63 * 64);
    assert.equal(a[64], LOW_BASE); // wraps after 4096 / 64 = 64 lines
  });

  it('Zipf (s = 1) over 1000 pages picks the hottest page about 1/H(1000) = 13.4% of the time', () => {
    const n = 200000;
    const a = new Float64Array(n);
    new AccessStream({ kind: 'zipf', base: 0, length: 1000 * 4096, zipfS: 1, seed: 1 }).fill(a, new Uint8Array(n), n);
    const counts = new Map<number, number>();
    for (const x of a) counts.set(Math.floor(x / 4096), (counts.get(Math.floor(x / 4096)) ?? 0) + 1);
    const top = Math.max(...counts.values()) / n;
    let h = 0;
    for (let k = 1; k <= 1000; k++) h += 1 / k;
    assert.ok(Math.abs(top - 1 / h) < 0.005, `hottest page share ${top}, expected ${1 / h}`);
  });
});

describe('lackey traces', () => {
  it('replays the shipped fixture (walk.c under valgrind 3.19) as a stream', async () => {
    const r = await replayTrace({ path: FIXTURE, procs: 1, cpus: 1, profile: skylake, quantum: 4096 });
    // Counted from the file: 71,783 lines, 25 valgrind lines, 59,326 instruction fetches (skipped),
    // 6,826 loads, 5,577 stores, 29 modifies, no access crossing a page.
    assert.deepEqual(r.trace, { lines: 71783, instructionFetches: 59326, loads: 6826, stores: 5577, modifies: 29, pageCrossings: 0, translations: 6826 + 5577 + 29 });
    assert.equal(r.counts.accesses, 12432);
    // The data accesses touch 83 distinct pages in 5 distinct 2 MiB windows: each window is mapped
    // (private anonymous) on its first access, and each page is walked at least once.
    assert.equal(r.windowsMapped, 5);
    assert.ok(r.counts.stlbMisses >= 83);
    // Two copies run every slice in turn on two CPUs: twice the accesses.
    const r2 = await replayTrace({ path: FIXTURE, procs: 2, cpus: 2, profile: skylake, quantum: 4096 });
    assert.equal(r2.counts.accesses, 2 * 12432);
    assert.equal(r2.windowsMapped, 10);
  });

  it('replays a real program: sqlite3 under valgrind (record-sqlite.sh), 4 copies on 2 CPUs, as ptbench tlb --trace and the bench task do', async () => {
    const r = await replayTrace({ path: SQLITE_FIXTURE, procs: 4, cpus: 2, profile: cpuProfile('golden-cove'), quantum: TRACE_DEFAULTS.quantum });
    // Counted from the file itself (zcat | python): 1,900,674 lines (25 valgrind lines, no
    // instruction fetches: the recorder drops them), 1,277,489 loads, 592,390 stores, 30,770
    // modifies, 20 accesses whose bytes cross a 4 KiB boundary (translated twice).
    const translations = 1277489 + 592390 + 30770 + 20; // 1,900,669
    assert.deepEqual(r.trace, { lines: 1900674, instructionFetches: 0, loads: 1277489, stores: 592390, modifies: 30770, pageCrossings: 20, translations });
    // Every copy replays every translation; none is dropped (the PIE binary's pages at 0x108000
    // and up lie in the first window, which starts at mmap_min_addr, 0x10000).
    assert.equal(r.counts.accesses, 4 * translations);
    assert.equal(r.counts.segv, r.windowsMapped);
    // The bench task (tlb/trace-sqlite) decodes the file first and replays the same slices: the
    // same counts.
    const t = await decodeTrace(SQLITE_FIXTURE, TRACE_DEFAULTS.quantum);
    assert.deepEqual(t.counts, r.trace);
    const rr = new TraceReplay({ profile: cpuProfile('golden-cove'), procs: 4, cpus: 2 });
    rr.replay(t, TRACE_DEFAULTS.quantum);
    assert.deepEqual(rr.mmu.counts(), r.counts);
    assert.equal(rr.windowsMapped, r.windowsMapped);
    assert.deepEqual(rr.close(), []);
    const task = tlbTasks().find((x) => x.name === 'tlb/trace-sqlite')!;
    await task.beforeAll();
    task.call(() => performance.now());
    assert.equal(task.opsPerCall, 4 * translations);
    assert.deepEqual(task.counts(), { accesses: r.counts.accesses, l1Misses: r.counts.l1Misses, stlbMisses: r.counts.stlbMisses, walks: r.counts.walks, walkRefs: r.counts.walkRefs,
      refsLlcMiss: r.counts.refsLlcMiss, faults: r.counts.faults, windowsMapped: r.windowsMapped });
  });

  it('maps the first window from mmap_min_addr; an access below it is a SIGSEGV and is dropped', async () => {
    const dir = tempDir('ptbench-lackey-');
    const path = join(dir, 'low.trace');
    writeFileSync(path, ' L 00108000,8\n L 00008000,8\n S 00108010,8\n');
    const r = await replayTrace({ path, procs: 1, cpus: 1, profile: skylake, quantum: 16 });
    // 1. Load 0x108000: no VMA -> SIGSEGV; the handler maps [0x10000, 0x200000) and the load retries:
    //    a page fault (the zero page, read-only), then the walk succeeds.          segv 1, faults 2
    // 2. Load 0x8000: inside the 2 MiB window but below mmap_min_addr and below the VMA -> SIGSEGV,
    //    which maps nothing: the access is dropped.                                 segv 2, faults 3
    // 3. Store 0x108010: the L1 holds the page read-only -> the walk finds the PTE read-only -> a
    //    write fault (COW of the zero page), then the walk succeeds.                        faults 4
    assert.equal(r.counts.accesses, 3);
    assert.equal(r.counts.segv, 2);
    assert.equal(r.counts.faults, 4);
    assert.equal(r.windowsMapped, 1);
  });

  it('reports a corrupt gzip file as one, but an error of the model during a replay as itself', async () => {
    const dir = tempDir('ptbench-lackey-');
    const whole = readFileSync(FIXTURE);
    const cut = join(dir, 'cut.trace.gz');
    writeFileSync(cut, whole.subarray(0, whole.length >> 1));
    await assert.rejects(readLackeyTrace(cut, 4096, () => {}), (e: unknown) => e instanceof UsageError && /cut\.trace\.gz: unexpected end of file \(a corrupt or truncated gzip file\?\)$/.test(e.message));
    await assert.rejects(readLackeyTrace(FIXTURE, 4096, () => { throw new RangeError('model says no'); }), (e: unknown) => e instanceof RangeError && e.message === 'model says no');
  });

  it('names the line of a malformed or truncated line, after handing over what came before; a missing file is one clear error', async () => {
    const dir = tempDir('ptbench-lackey-');
    const bad = join(dir, 'bad.trace');
    writeFileSync(bad, '==1== Lackey\nI  00401000,3\n L 1fff000780,8\n S 1fff00077g,8\n');
    let seen = 0;
    await assert.rejects(readLackeyTrace(bad, 16, (_a, _w, n) => { seen += n; }), /trace line 4: expected '<I\|L\|S\|M> <hex address>,<decimal size>'.*got ' S 1fff00077g,8'/);
    assert.equal(seen, 1); // the load on line 3 was replayed before the error
    const trunc = join(dir, 'trunc.trace');
    writeFileSync(trunc, ' L 1fff000780,8\n S 1fff0');
    await assert.rejects(readLackeyTrace(trunc, 16, () => {}), /trace line 2: .*truncated last line ' S 1fff0'/);
    await assert.rejects(readLackeyTrace(join(dir, 'nope.trace'), 16, () => {}), /--trace .*nope\.trace: no such file/);
    // Chunk boundaries anywhere in a line do not matter.
    const p = new LackeyParser(4, () => {});
    for (const piece of [' L 10', '00,4\n S 2000,8\nI  3', '000,2\n M 40', '00,4\n']) p.push(Buffer.from(piece));
    p.end();
    assert.deepEqual(p.counts, { lines: 4, instructionFetches: 1, loads: 1, stores: 1, modifies: 1, pageCrossings: 0, translations: 3 });
  });
});

describe('INVLPGB (KERNEL_RULES.invlpgb, 6.15): broadcast flushes without IPIs on zen4', () => {
  const setup = async (profile: string, kernel: string, active: number) => {
    const { kernelConfig } = await import('../../src/mm/kernel_profile.js');
    const m = new Machine({ cpus: 4, ptPages: 512, frames: 4096, kernel: kernelConfig(kernel) });
    const mm = m.mm_alloc();
    m.mmap(mm, { addr: LOW_BASE, length: 2 ** 21, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
    for (let a = LOW_BASE; a < LOW_BASE + 2 ** 21; a += 4096) m.touch(mm, a, true);
    const mmu = new Mmu(m, { profile: cpuProfile(profile), cpus: 4 }).attach();
    // One mm (a multi-threaded process) running on `active` CPUs at once.
    for (let c = 0; c < active; c++) mmu.switchTo(c, mm);
    return { m, mm };
  };
  it('an mm active on 4 CPUs gets a global ASID; its mprotect flush is an INVLPGB broadcast, 0 IPIs', async () => {
    const { m, mm } = await setup('zen4', '6.18', 4);
    // consider_global_asid(): mm_active_cpus_exceeds(mm, 3).
    assert.equal(mm.globalAsid, true);
    const ipis0 = m.events.tlbIpis;
    m.mprotect(mm, LOW_BASE, 4096, PROT_READ);
    assert.equal(m.events.tlbIpis - ipis0, 0);
    assert.equal(m.events.invlpgbFlushes, 1);
  });
  it('on 3 CPUs no global ASID: IPIs to the other 2; without INVLPGB (golden-cove, or 6.12) 3 IPIs on 4', async () => {
    const three = await setup('zen4', '6.18', 3);
    assert.equal(three.mm.globalAsid, false);
    let i0 = three.m.events.tlbIpis;
    three.m.mprotect(three.mm, LOW_BASE, 4096, PROT_READ);
    // mm_cpumask {0,1,2}, the change made on CPU 0: IPIs to 1 and 2.
    assert.equal(three.m.events.tlbIpis - i0, 2);
    for (const [profile, kernel] of [['golden-cove', '6.18'], ['zen4', '6.12']] as const) {
      const w = await setup(profile, kernel, 4);
      assert.equal(w.mm.globalAsid, false, `${profile} ${kernel}`);
      i0 = w.m.events.tlbIpis;
      w.m.mprotect(w.mm, LOW_BASE, 4096, PROT_READ);
      assert.equal(w.m.events.tlbIpis - i0, 3, `${profile} ${kernel}: CPUs 1, 2 and 3`);
      assert.equal(w.m.events.invlpgbFlushes, 0);
    }
  });
  it('flush_tlb_all (mshare\'s host-table changes) is invlpgb_flush_all on zen4 with 6.18: 0 IPIs instead of 3', async () => {
    const { flush_tlb_all } = await import('../../src/mm/tlbflush.js');
    const a = await setup('zen4', '6.18', 1);
    assert.equal(flush_tlb_all(a.m, a.mm).ipis, 0);
    assert.equal(a.m.events.invlpgbFlushes, 1);
    const b = await setup('golden-cove', '6.18', 1);
    assert.equal(flush_tlb_all(b.m, b.mm).ipis, 3);
  });
});

describe('flush IPIs follow who runs what (KERNEL_RULES.lazy_mm_cpumask, 209954cbc7d0)', () => {
  // 3 CPUs. Process A ran on all three; then CPU 1 switched to process B and CPU 2's task slept
  // (lazy TLB mode, A still loaded). A, on CPU 0, changes its tables.
  const setup = async (kernel: string) => {
    const { kernelConfig } = await import('../../src/mm/kernel_profile.js');
    const m = new Machine({ cpus: 3, ptPages: 512, frames: 4096, kernel: kernelConfig(kernel) });
    const [a, b] = [m.mm_alloc(), m.mm_alloc()];
    for (const mm of [a, b]) {
      m.mmap(mm, { addr: LOW_BASE, length: 2 ** 21, prot: RW, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED });
      for (let x = LOW_BASE; x < LOW_BASE + 2 ** 21; x += 4096) m.touch(mm, x, true);
    }
    const mmu = new Mmu(m, { profile: cpuProfile('golden-cove'), cpus: 3 }).attach();
    for (let c = 0; c < 3; c++) mmu.switchTo(c, a!);
    mmu.switchTo(1, b!);
    mmu.unload(2);
    return { m, a: a! };
  };
  // Per kernel: A's mm_cpumask, then the IPIs of an mprotect of one page and of a munmap that frees
  // the tables (freed_tables).
  // - 6.18: the mask is kept lazily, {0, 1, 2}. should_flush_tlb() skips CPU 1 (runs B) and CPU 2
  //   (lazy): 0 IPIs, where the model before this rule sent 2. Skipped CPUs stay in the mask, so the
  //   munmap's on_each_cpu_mask(mm_cpumask) reaches CPUs 1 and 2: 2 IPIs.
  // - 6.12: switch_mm_irqs_off() cleared CPU 1 when it switched to B; lazy CPU 2 keeps its bit:
  //   {0, 2}. tlb_is_not_lazy() skips CPU 2: 0 IPIs; the freed-tables flush reaches it: 1 IPI.
  for (const [kernel, mask, mprotectIpis, munmapIpis] of [['6.18', 0b111, 0, 2], ['6.12', 0b101, 0, 1]] as const) {
    it(`${kernel}: mm_cpumask ${mask.toString(2)}, mprotect ${mprotectIpis} IPIs, munmap freeing tables ${munmapIpis}`, async () => {
      const { m, a } = await setup(kernel);
      assert.equal(a.cpumask, mask);
      let i0 = m.events.tlbIpis;
      m.mprotect(a, LOW_BASE, 4096, PROT_READ);
      assert.equal(m.events.tlbIpis - i0, mprotectIpis);
      assert.equal(a.cpumask, mask);
      i0 = m.events.tlbIpis;
      m.munmap(a, LOW_BASE, 2 ** 21);
      assert.equal(m.events.tlbIpis - i0, munmapIpis);
    });
  }
});
