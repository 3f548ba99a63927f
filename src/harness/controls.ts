/**
 * Control tasks: the bare work a suite's tasks cannot do faster than, written as plainly as plain
 * JavaScript on typed arrays allows, and measured in the same run, so a task's speed is judged as a
 * ratio to its control (absolute rates swing with the host from hour to hour).
 *
 * - control/fault-walk (fault suite): per 4 KiB page, a 4-level walk over tables of 1,024 Int32 words
 *   (512 entries of two words, as the pool keeps them), allocating a missing table from a bump
 *   allocator and writing the leaf entry. No VMA, folio, rmap, RSS or locks: a first-touch fault's
 *   table work and nothing else.
 * - control/pte-copy (fork suite): copy_pte_range's inner work for 1 GiB (256 MiB with --quick): each
 *   present PTE write-protected in the parent and copied into a fresh table, 512 entries per table.
 * - control/set-assoc-lookup (tlb suite): a 12-way, 128-set array (the STLB's 1,536 entries) with LRU
 *   by age stamps, Int32 tags, looked up with uniform random page numbers over 1 GiB (nearly every
 *   lookup misses and evicts), the stream generated before timing.
 *
 * Each task names its control (CONTROL_OF); the ratio task / control of the median rates is written
 * into the results file (TaskResultRecord.control) and printed by bench and compare.
 *
 * Two more controls measure what the model cannot do without (CEILING_OF), each against the control
 * above whose tasks it bounds: the ratio a task could reach if the model added nothing to the work
 * the kernel's rules require.
 * - control/fault-bare (fault suite): control/fault-walk plus the folio work a first-touch write
 *   fault on a shmem file cannot skip (page-cache miss, a folio allocated with its reference,
 *   mapcount, flags, mapping and index, stored in the page cache, mapped dirty, RSS raised). No VMA
 *   lookup, locks, zone or LRU: the struct page and page-cache stores of shmem_fault and
 *   finish_fault over typed arrays.
 * - control/tlb-miss-bare (tlb suite): the lookups and fills one 4 KiB miss makes in the full TLB
 *   model, hand-inlined over typed arrays of the golden-cove geometry with move-to-front LRU: L1
 *   (96 entries, 6-way), STLB (2,048, 16-way), PDE and PDPTE caches (32/4, 4/4), the PGD and PUD
 *   entries read past the PDPTE-cache hit, the PMD and PTE entries read from 515 tables laid out as
 *   the pool keeps them, each looked up in the page-table LLC share (2 MiB, 16-way) and filled on a
 *   miss, then the PDE cache, L1 and STLB filled. No counters, no flush attribution, no dirty or
 *   accessed bits, no fault path: tlb/uniform-1GiB's stream shape (uniform lines over 1 GiB).
 * - control/fork-bare (fork suite): control/pte-copy plus what copy_pte_range does per present
 *   anonymous PTE beyond copying it (AnonExclusive cleared, refcount and mapcount raised on the
 *   folio: the struct page writes of folio_try_dup_anon_rmap_pte), into child tables zeroed inside
 *   the timing (page tables come zeroed from the allocator, __GFP_ZERO).
 */
import { taskRate } from './stats/rate.js';
import type { BenchTaskDef, TaskResultRecord } from './types.js';
import * as geometry from '../arch/pgtable_64_types.js';
import { plainTable, rate } from '../lib/format.js';

const WORDS = 1024;
const PRESENT = 1;
const RW = 2;
/** Folio flags of the bare controls (their own encoding). */
const ANON_EXCLUSIVE = 1 << 4;
const UPTODATE_SWAPBACKED = 1 << 1 | 1 << 2;
const DIRTY = 1 << 3;
/** _PAGE_DIRTY. */
const DIRTY_BIT = 1 << 6;

/** The control whose rate bounds a task, by task-name prefix. */
export const CONTROL_OF: ReadonlyArray<[prefix: string, control: string]> = [
  ['fault/', 'control/fault-walk'],
  ['fork/', 'control/pte-copy'],
  ['tlb/', 'control/set-assoc-lookup'],
];

/**
 * The goals, as ratios to the control measured in the same run: the TLB miss path at 25 % of
 * the bare lookup, first-touch faults and fork at half their bare ceilings.
 */
export const CONTROL_GOALS: Readonly<Record<string, number>> = {
  'tlb/uniform-1GiB': 0.25,
  'tlb/zipf-db': 0.25,
  'fault/shmem-write-seq': 0.5,
  'fault/anon-write-seq': 0.5,
  'fork/anon-1GiB': 0.5,
};

/** The bare-work controls, each with the control it is judged against (see the file comment). */
export const CEILING_OF: ReadonlyArray<[ceiling: string, control: string, bounds: string]> = [
  ['control/fault-bare', 'control/fault-walk', 'first-touch shmem faults'],
  ['control/tlb-miss-bare', 'control/set-assoc-lookup', 'a task whose every access misses (tlb/uniform-1GiB)'],
  ['control/fork-bare', 'control/pte-copy', 'fork'],
];

export function controlOf(task: string): string | undefined {
  const ceiling = CEILING_OF.find(([c]) => c === task);
  if (ceiling !== undefined) return ceiling[1];
  if (task.startsWith('control/')) return undefined;
  return CONTROL_OF.find(([p]) => task.startsWith(p))?.[1];
}

/** The fault walk: `pages` first-touch faults from `base`, tables from `pool` (table 0 = the PGD). */
export function faultWalk(pool: Int32Array, base: number, pages: number): number {
  let next = 1;
  for (let i = 0; i < pages; i++) {
    const va = base + i * 4096;
    // Indices by division (the address exceeds 32 bits): 512 GiB, 1 GiB, 2 MiB, 4 KiB.
    let w = ((Math.floor(va / 549755813888) & 511) << 1);
    if ((pool[w]! & PRESENT) === 0) pool[w] = (next++ << 12) | PRESENT | RW;
    w = (pool[w]! >>> 12) * WORDS + ((Math.floor(va / 1073741824) & 511) << 1);
    if ((pool[w]! & PRESENT) === 0) pool[w] = (next++ << 12) | PRESENT | RW;
    w = (pool[w]! >>> 12) * WORDS + ((Math.floor(va / 2097152) & 511) << 1);
    if ((pool[w]! & PRESENT) === 0) pool[w] = (next++ << 12) | PRESENT | RW;
    w = (pool[w]! >>> 12) * WORDS + ((Math.floor(va / 4096) & 511) << 1);
    pool[w] = ((i + 1) << 12) | PRESENT | RW;
    pool[w + 1] = 0;
  }
  return next;
}

/** The bare folio state of a shmem file's first-touch faults: one slot per folio, the page cache by index. */
export interface BareFolios { refcount: Int32Array; mapcount: Int32Array; flags: Int32Array; mapping: Int32Array; index: Float64Array; pageCache: Int32Array; rss: Int32Array }

export function bareFolios(pages: number): BareFolios {
  return { refcount: new Int32Array(pages + 1), mapcount: new Int32Array(pages + 1), flags: new Int32Array(pages + 1), mapping: new Int32Array(pages + 1), index: new Float64Array(pages + 1),
    pageCache: new Int32Array(pages), rss: new Int32Array(1) };
}

/**
 * The fault walk plus the folio work a first-touch write fault on shmem cannot skip: the page-cache
 * lookup misses, a folio is allocated (a bump allocator) with its reference (page cache + mapping),
 * mapcount, flags, mapping and index set, stored in the page cache, mapped dirty, and the RSS
 * counter raised. Returns the tables in use.
 */
export function faultWalkFolios(pool: Int32Array, base: number, pages: number, fo: BareFolios): number {
  let next = 1;
  let folio = 1;
  for (let i = 0; i < pages; i++) {
    const va = base + i * 4096;
    // faultWalk's walk, written out again so that neither control pays for sharing it.
    let w = ((Math.floor(va / 549755813888) & 511) << 1);
    if ((pool[w]! & PRESENT) === 0) pool[w] = (next++ << 12) | PRESENT | RW;
    w = (pool[w]! >>> 12) * WORDS + ((Math.floor(va / 1073741824) & 511) << 1);
    if ((pool[w]! & PRESENT) === 0) pool[w] = (next++ << 12) | PRESENT | RW;
    w = (pool[w]! >>> 12) * WORDS + ((Math.floor(va / 2097152) & 511) << 1);
    if ((pool[w]! & PRESENT) === 0) pool[w] = (next++ << 12) | PRESENT | RW;
    w = (pool[w]! >>> 12) * WORDS + ((Math.floor(va / 4096) & 511) << 1);
    let f = fo.pageCache[i]!;
    if (f === 0) {
      f = folio++;
      fo.refcount[f] = 1;
      fo.flags[f] = UPTODATE_SWAPBACKED;
      fo.mapping[f] = 1;
      fo.index[f] = i;
      fo.pageCache[i] = f;
    }
    fo.refcount[f]!++;
    fo.mapcount[f]!++;
    fo.flags[f] = fo.flags[f]! | DIRTY;
    fo.rss[0]!++;
    pool[w] = (f << 12) | PRESENT | RW | DIRTY_BIT;
    pool[w + 1] = 0;
  }
  return next;
}

/** copy_pte_range's inner loop: every present entry write-protected in `src` and copied to `dst`. */
export function pteCopy(src: Int32Array, dst: Int32Array, entries: number): number {
  let copied = 0;
  for (let i = 0; i < entries; i++) {
    const lo = src[2 * i]!;
    if ((lo & PRESENT) === 0) continue;
    const wp = lo & ~RW;
    src[2 * i] = wp;
    dst[2 * i] = wp;
    dst[2 * i + 1] = src[2 * i + 1]!;
    copied++;
  }
  return copied;
}

/**
 * copy_pte_range's bare work with the folio writes it cannot skip: every present entry
 * write-protected in `src` and copied to `dst`, and its folio (the PFN) loses AnonExclusive and
 * gains a reference and a mapping. Returns the entries copied.
 */
export function pteCopyFolios(src: Int32Array, dst: Int32Array, entries: number, flags: Int32Array, refcount: Int32Array, mapcount: Int32Array): number {
  let copied = 0;
  for (let i = 0; i < entries; i++) {
    const lo = src[2 * i]!;
    if ((lo & PRESENT) === 0) continue;
    const f = lo >>> 12;
    flags[f] = flags[f]! & ~ANON_EXCLUSIVE;
    refcount[f]!++;
    mapcount[f]!++;
    const wp = lo & ~RW;
    src[2 * i] = wp;
    dst[2 * i] = wp;
    dst[2 * i + 1] = src[2 * i + 1]!;
    copied++;
  }
  return copied;
}

/** One set-associative array of the bare miss path: Float64 keys, move-to-front LRU (as src/tlb/set_assoc.ts). */
interface BareArray { keys: Float64Array; ways: number; mask: number }

function bareArray(entries: number, ways: number): BareArray {
  return { keys: new Float64Array(entries).fill(-1), ways, mask: entries / ways - 1 };
}

/** Look `key` up in its set; a hit moves to the front. */
function bareLookup(a: BareArray, key: number, set: number): boolean {
  const k = a.keys;
  const base = set * a.ways;
  if (k[base] === key) return true;
  for (let i = base + 1, end = base + a.ways; i < end; i++) {
    if (k[i] === key) {
      for (let j = i; j > base; j--) k[j] = k[j - 1]!;
      k[base] = key;
      return true;
    }
  }
  return false;
}

/** Fill `key` at the front of its set, evicting the last (LRU) slot. */
function bareFill(a: BareArray, key: number, set: number): void {
  const k = a.keys;
  const base = set * a.ways;
  for (let j = base + a.ways - 1; j > base; j--) k[j] = k[j - 1]!;
  k[base] = key;
}

/** The bare miss path's state: golden-cove arrays, the LLC share, and 1 GiB of 4 KiB tables. */
export interface BareTlb {
  l1: BareArray;
  stlb: BareArray;
  pde: BareArray;
  pdpte: BareArray;
  llc: BareArray;
  pool: Int32Array;
}

/** Tables 0 (PGD), 1 (PUD), 2 (PMD) and 3.. (512 PTE tables) mapping the GiB at `base`, as the pool lays them out. */
export function bareTlb(base: number): BareTlb {
  const pool = new Int32Array((3 + 512) * WORDS);
  pool[((Math.floor(base / 2 ** 39) & 511) << 1)] = (1 << 12) | PRESENT | RW;
  pool[WORDS + ((Math.floor(base / 2 ** 30) & 511) << 1)] = (2 << 12) | PRESENT | RW;
  for (let i = 0; i < 512; i++) {
    pool[2 * WORDS + (((Math.floor(base / 2 ** 21) + i) & 511) << 1)] = ((3 + i) << 12) | PRESENT | RW;
    for (let e = 0; e < 512; e++) pool[(3 + i) * WORDS + 2 * e] = ((1024 + i * 512 + e) << 12) | PRESENT | RW;
  }
  return { l1: bareArray(96, 6), stlb: bareArray(2048, 16), pde: bareArray(32, 4), pdpte: bareArray(4, 4), llc: bareArray(32768, 16), pool };
}

/** A module-local copy of arch's inverse entry spans (V8 reloads an imported binding on every use). */
const INV_SPAN = geometry.INV_ENTRY_SPAN;

/**
 * The accesses `addrs` through the bare miss path (see the file comment), PGD at table 0; returns
 * the walks (accesses that missed L1 and STLB) * 2^20 + the LLC misses (both below 2^20 here).
 */
export function tlbMissBare(t: BareTlb, addrs: Float64Array): number {
  const { l1, stlb, pde, pdpte, llc, pool } = t;
  let walks = 0;
  let llcMisses = 0;
  for (let i = 0; i < addrs.length; i++) {
    const va = addrs[i]!;
    const vpn = Math.floor(va * 2 ** -12);
    const key = vpn * 32;
    if (bareLookup(l1, key, vpn & l1.mask)) continue;
    if (bareLookup(stlb, key, vpn & stlb.mask)) {
      bareFill(l1, key, vpn & l1.mask);
      continue;
    }
    walks++;
    // Deepest paging-structure-cache hit: PDE (read the PTE only), else PDPTE (read PMD and PTE).
    const pdeTag = Math.floor(va * 2 ** -21);
    let readFrom = 3;
    if (bareLookup(pde, pdeTag * 8, pdeTag & pde.mask)) readFrom = 0;
    else {
      const pdpteTag = Math.floor(va * 2 ** -30);
      if (bareLookup(pdpte, pdpteTag * 8, pdpteTag & pdpte.mask)) readFrom = 1;
    }
    let table = 0;
    for (let level = 3; level >= 0; level--) {
      const idx = Math.floor(va * INV_SPAN[level]!) & 511;
      const lo = pool[table * WORDS + (idx << 1)]!;
      if (level > readFrom) {
        table = lo >>> 12;
        continue;
      }
      const line = table * 64 + (idx >> 3);
      if (!bareLookup(llc, line, line & llc.mask)) {
        llcMisses++;
        bareFill(llc, line, line & llc.mask);
      }
      if (level === 0) break;
      if (level === 1) bareFill(pde, pdeTag * 8, pdeTag & pde.mask);
      else if (level === 2) {
        const tag = Math.floor(va * 2 ** -30);
        bareFill(pdpte, tag * 8, tag & pdpte.mask);
      }
      table = lo >>> 12;
    }
    bareFill(l1, key, vpn & l1.mask);
    bareFill(stlb, key, vpn & stlb.mask);
  }
  return walks * 2 ** 20 + llcMisses;
}

/** A 12-way set-associative lookup with LRU by age stamps; returns the misses. */
export function setAssocLookups(tags: Int32Array, ages: Int32Array, sets: number, ways: number, stream: Int32Array, clock0: number): number {
  let misses = 0;
  let clock = clock0;
  const mask = sets - 1;
  for (let k = 0; k < stream.length; k++) {
    const vpn = stream[k]!;
    const base = (vpn & mask) * ways;
    const end = base + ways;
    const tag = vpn + 1; // 0 = empty
    let w = base;
    let oldest = base;
    let minAge = ages[base]!;
    for (; w < end; w++) {
      if (tags[w] === tag) break;
      const a = ages[w]!;
      if (a < minAge) {
        minAge = a;
        oldest = w;
      }
    }
    clock++;
    if (w < end) {
      ages[w] = clock;
    } else {
      misses++;
      tags[oldest] = tag;
      ages[oldest] = clock;
    }
  }
  return misses;
}

function timed(now: () => number, fn: () => void): { measured: number; total: number } {
  const t0 = now();
  fn();
  const t = now() - t0;
  return { measured: t, total: t };
}

export function controlTasks(quick: boolean): BenchTaskDef[] {
  const faultPages = (64 * 2 ** 20) / 4096; // as the fault tasks: 64 MiB
  const forkEntries = (quick ? 2 ** 28 : 2 ** 30) / 4096; // as fork/anon-256MiB or fork/anon-1GiB
  const lookups = 1 << 18; // as tlb/uniform-1GiB
  let pool = new Int32Array(0);
  let src = new Int32Array(0);
  let dst = new Int32Array(0);
  let tags = new Int32Array(0);
  let ages = new Int32Array(0);
  let stream = new Int32Array(0);
  let counts: Record<string, number> = {};
  const walk: BenchTaskDef = {
    name: 'control/fault-walk', design: 'private', unit: 'faults', opsPerCall: faultPages,
    what: 'control: a bare 4-level first-touch walk over Int32 tables (allocate a missing table, write the leaf) for 64 MiB of 4 KiB pages; bounds the fault tasks',
    beforeAll() {
      pool = new Int32Array((faultPages / 512 + 8) * WORDS);
    },
    call(now) {
      pool.fill(0); // not timed: the tables of the previous call
      let tables = 0;
      const t = timed(now, () => { tables = faultWalk(pool, 0x7f0000000000, faultPages); });
      counts = { faults: faultPages, tables };
      return t;
    },
    afterAll() { pool = new Int32Array(0); },
    counts: () => counts,
  };
  const copy: BenchTaskDef = {
    name: 'control/pte-copy', design: 'private', unit: 'forks', opsPerCall: 1,
    what: `control: copy_pte_range's bare work for ${forkEntries / 262144} GiB of present PTEs (write-protect in the parent, copy into the child's tables); bounds the fork tasks`,
    beforeAll() {
      src = new Int32Array(2 * forkEntries);
      dst = new Int32Array(2 * forkEntries);
    },
    call(now) {
      for (let i = 0; i < forkEntries; i++) src[2 * i] = ((i + 1) << 12) | PRESENT | RW; // not timed: a written parent
      dst.fill(0);
      let copied = 0;
      const t = timed(now, () => { copied = pteCopy(src, dst, forkEntries); });
      counts = { ptesCopied: copied };
      return t;
    },
    afterAll() { src = new Int32Array(0); dst = new Int32Array(0); },
    counts: () => counts,
  };
  const lookup: BenchTaskDef = {
    name: 'control/set-assoc-lookup', design: 'private', unit: 'accesses', opsPerCall: lookups,
    what: 'control: a bare 12-way x 128-set lookup with LRU by age stamps on Int32 tags, uniform random pages over 1 GiB (nearly every lookup misses); bounds the TLB tasks',
    beforeAll() {
      tags = new Int32Array(128 * 12);
      ages = new Int32Array(128 * 12);
      stream = new Int32Array(lookups);
      // A fixed LCG stream (the same on every run), generated before timing.
      let x = 12345;
      for (let i = 0; i < lookups; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        stream[i] = (x >>> 8) & (262144 - 1);
      }
    },
    call(now) {
      tags.fill(0);
      ages.fill(0);
      let misses = 0;
      const t = timed(now, () => { misses = setAssocLookups(tags, ages, 128, 12, stream, 0); });
      counts = { lookups, misses };
      return t;
    },
    afterAll() { stream = new Int32Array(0); },
    counts: () => counts,
  };
  let fo: BareFolios | null = null;
  const faultBare: BenchTaskDef = {
    name: 'control/fault-bare', design: 'private', unit: 'faults', opsPerCall: faultPages,
    what: 'control (bare work): control/fault-walk plus the struct page and page-cache stores of a first-touch shmem write fault (folio allocated, reference, mapcount, flags, mapping, index, page cache, RSS) for 64 MiB of 4 KiB pages; its ratio to control/fault-walk is what the fault tasks could reach with no model overhead',
    beforeAll() {
      pool = new Int32Array((faultPages / 512 + 8) * WORDS);
    },
    call(now) {
      pool.fill(0); // not timed: the tables and the folios of the previous call
      fo = bareFolios(faultPages);
      let tables = 0;
      const t = timed(now, () => { tables = faultWalkFolios(pool, 0x7f0000000000, faultPages, fo!); });
      counts = { faults: faultPages, tables, rss: fo.rss[0]!, refcountOfFolio1: fo.refcount[1]! };
      return t;
    },
    afterAll() { pool = new Int32Array(0); fo = null; },
    counts: () => counts,
  };
  const BASE = 0x7f0000000000;
  let bare: BareTlb | null = null;
  let tlbCounts: Record<string, number> = {};
  let addrs = new Float64Array(0);
  const tlbBare: BenchTaskDef = {
    name: 'control/tlb-miss-bare', design: 'private', unit: 'accesses', opsPerCall: lookups,
    what: 'control (bare work): the lookups and fills of one 4 KiB TLB miss in the full model (L1, STLB, PDE/PDPTE caches, two table reads with their LLC-line lookups), inlined over typed arrays, for uniform random lines over 1 GiB; its ratio to control/set-assoc-lookup is what tlb/uniform-1GiB could reach with no model overhead',
    beforeAll() {
      bare = bareTlb(BASE);
      addrs = new Float64Array(lookups);
      // A fixed LCG stream of 64-byte lines over the GiB (the same on every run), generated before timing.
      let x = 12345;
      for (let i = 0; i < lookups; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        addrs[i] = BASE + (x >>> 8) * 64;
      }
      // The first (cold) pass, not timed, gives the deterministic counts; timed passes find its state.
      const r = tlbMissBare(bare, addrs);
      tlbCounts = { accesses: lookups, walks: Math.floor(r / 2 ** 20), llcMisses: r % 2 ** 20 };
    },
    call(now) {
      return timed(now, () => { tlbMissBare(bare!, addrs); });
    },
    afterAll() { bare = null; addrs = new Float64Array(0); },
    counts: () => tlbCounts,
  };
  let fflags = new Int32Array(0);
  let refs = new Int32Array(0);
  let maps = new Int32Array(0);
  const forkBare: BenchTaskDef = {
    name: 'control/fork-bare', design: 'private', unit: 'forks', opsPerCall: 1,
    what: `control (bare work): control/pte-copy for ${forkEntries / 262144} GiB plus the folio writes copy_pte_range makes per anonymous PTE (AnonExclusive cleared, refcount and mapcount raised), into child tables zeroed inside the timing; its ratio to control/pte-copy is what fork could reach with no model overhead`,
    beforeAll() {
      src = new Int32Array(2 * forkEntries);
      dst = new Int32Array(2 * forkEntries);
      fflags = new Int32Array(forkEntries + 1);
      refs = new Int32Array(forkEntries + 1);
      maps = new Int32Array(forkEntries + 1);
    },
    call(now) {
      for (let i = 0; i < forkEntries; i++) src[2 * i] = ((i + 1) << 12) | PRESENT | RW; // not timed: a written parent
      fflags.fill(ANON_EXCLUSIVE); // not timed: its folios exclusive, mapped once
      refs.fill(1);
      maps.fill(1);
      let copied = 0;
      const t = timed(now, () => {
        dst.fill(0); // the child's tables, zeroed as pte_alloc gets them
        copied = pteCopyFolios(src, dst, forkEntries, fflags, refs, maps);
      });
      counts = { ptesCopied: copied, mapcountOfFolio1: maps[1]! };
      return t;
    },
    afterAll() { src = new Int32Array(0); dst = new Int32Array(0); fflags = new Int32Array(0); refs = new Int32Array(0); maps = new Int32Array(0); },
    counts: () => counts,
  };
  return [walk, copy, lookup, faultBare, tlbBare, forkBare];
}

/** Each task's ratio to its control measured in the same run, written into its record. */
export function attachControlRatios(tasks: TaskResultRecord[]): void {
  for (const t of tasks) {
    const name = controlOf(t.name);
    const c = name === undefined ? undefined : tasks.find((x) => x.name === name);
    if (c === undefined) continue;
    const goal = CONTROL_GOALS[t.name];
    t.control = { task: c.name, ratio: taskRate(t).value / taskRate(c).value, ...(goal === undefined ? {} : { goal }) };
  }
}

/** The goal column of a ratio table: the goal and whether `ratio` meets it, or what a bare-work control's ratio means. */
export function goalText(task: string, ratio: number, goal: number | undefined, side = ''): string {
  const ceiling = CEILING_OF.find(([c]) => c === task);
  if (ceiling !== undefined) return `bare work: the ceiling of ${ceiling[2]}`;
  return goal === undefined ? '' : `>= ${(goal * 100).toFixed(0)} %: ${side}${ratio >= goal ? 'met' : 'not met'}`;
}

/** The ratios to controls as a table ('' when no task has a control in the run). */
export function renderControlRatios(tasks: readonly TaskResultRecord[]): string {
  const rows = tasks.filter((t) => t.control !== undefined);
  if (rows.length === 0) return '';
  const t = plainTable(['task', 'rate', 'control', 'control rate', 'ratio', 'goal'], ['left', 'right', 'left', 'right', 'right', 'left']);
  for (const r of rows) {
    const c = tasks.find((x) => x.name === r.control!.task)!;
    const g = r.control!.goal;
    t.push([`${r.name} [${r.design}]`, `${rate(taskRate(r).value)} ${r.unit}/s`, c.name, `${rate(taskRate(c).value)} ${c.unit}/s`, `${(r.control!.ratio * 100).toFixed(1)} %`, goalText(r.name, r.control!.ratio, g)]);
  }
  return `ratios to controls (measured in this run: the task's rate over its control's, each the median of process medians as above)\n${t.toString()}`;
}
