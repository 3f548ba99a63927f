/**
 * The pool of page-table pages: every table at every level is one 4 KiB page of 512 entries, kept as
 * 1,024 Int32 words in one SharedArrayBuffer so worker threads can attach to the same tables and the
 * simulator's footprint tracks the modelled one byte for byte.
 *
 * Beside the entries, a ptdesc per table (struct ptdesc in the kernel): its level, and
 * pt_share_count — the number of *extra* sharers (0 = private), as hugetlb PMD sharing counts since
 * commit 59d9094df3d7. The allocator hands out tables from a free list (LIFO) and then from a
 * never-used region, zeroing each one (GFP_ZERO) on allocation. Running out raises ENOMEM.
 */
import { TABLE_BYTES, WORDS_PER_TABLE } from '../arch/pgtable_64_types.js';
import { fail } from './errno.js';
import { LOCK_PGTABLE_ALLOC, spin_lock, spin_unlock, type LockStat } from './spinlock.js';

/** Header words. */
const H_FREE_HEAD = 0;
const H_NEVER_USED = 1;
const H_IN_USE = 2;
const H_ALLOCS = 3;
const H_FREES = 4;
/** Tables in use per level: words 5..9 (level 0..4). */
const H_LEVEL_BASE = 5;
/** The allocator's lock, taken when worker threads allocate concurrently (smp). */
const H_LOCK = 10;
/**
 * The walk generation: bumped whenever a table may leave an mm's walk (a table freed, or a shared
 * table unlinked from one sharer). A cached walk (MmStruct.pmd_cache_*) is valid while it has not
 * moved; allocating tables never changes an existing path, so it does not bump.
 */
const H_WALK_GEN = 11;
const HEADER_WORDS = 16;

/** Int32 words between two tables' lock words: each lock in its own 64-byte line, as ptdesc->ptl is. */
export const PTL_STRIDE = 16;

export interface PgtablePoolBuffers {
  capacity: number;
  entries: SharedArrayBuffer;
  meta: SharedArrayBuffer;
  /** The split locks (see PgtablePool.ptl), made by enableSplitLocks before CPUs attach. */
  ptl: SharedArrayBuffer | null;
}

export class PgtablePool {
  readonly capacity: number;
  /** All table entries: table t, entry i at words [t*1024 + 2i] (bits 0..31) and [+1] (bits 32..63). */
  readonly entries: Int32Array;
  /** ptdesc: level of each table, -1 when free. */
  readonly level: Int8Array;
  /** ptdesc->pt_share_count: extra sharers of this table (0 = not shared). */
  readonly shareCount: Int32Array;
  /** Free-list link of free tables. */
  readonly next: Int32Array;
  /**
   * ptdesc->ptl: the split page-table lock of each table, word t * PTL_STRIDE (0 = free), taken by
   * simulated CPUs in worker threads (src/mm/spinlock.ts). A PGD table's word stands for its mm's
   * page_table_lock. Each lock has a cache line to itself, as in the kernel, where it lives in the
   * table's struct ptdesc. Empty until enableSplitLocks (single-CPU machines never lock).
   */
  ptl: Int32Array;
  readonly header: Int32Array;
  readonly buffers: PgtablePoolBuffers;

  constructor(capacity: number, buffers?: PgtablePoolBuffers) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 2 ** 24) {
      throw new RangeError(`page-table pool capacity must be an integer in 1..16777216 tables, got ${capacity}`);
    }
    this.capacity = capacity;
    const entriesSab = buffers?.entries ?? new SharedArrayBuffer(capacity * TABLE_BYTES);
    const metaBytes = HEADER_WORDS * 4 + capacity * 4 * 2 + capacity;
    const metaSab = buffers?.meta ?? new SharedArrayBuffer(metaBytes);
    this.buffers = { capacity, entries: entriesSab, meta: metaSab, ptl: buffers?.ptl ?? null };
    this.entries = new Int32Array(entriesSab);
    this.header = new Int32Array(metaSab, 0, HEADER_WORDS);
    this.shareCount = new Int32Array(metaSab, HEADER_WORDS * 4, capacity);
    this.next = new Int32Array(metaSab, HEADER_WORDS * 4 + capacity * 4, capacity);
    this.ptl = new Int32Array(this.buffers.ptl ?? new SharedArrayBuffer(0));
    this.level = new Int8Array(metaSab, HEADER_WORDS * 4 + capacity * 8, capacity);
    if (!buffers) {
      this.header[H_FREE_HEAD] = -1;
      this.level.fill(-1);
    }
  }

  /** Make the split locks (capacity x 64 bytes), once, before concurrent CPUs attach (smp_prepare). */
  enableSplitLocks(): void {
    if (this.buffers.ptl !== null) return;
    this.buffers.ptl = new SharedArrayBuffer(this.capacity * PTL_STRIDE * 4);
    this.ptl = new Int32Array(this.buffers.ptl);
  }

  /** Set by a worker's machine: allocate under the lock, counting into `lockstat`. */
  private smp: { lockstat: LockStat; abort: Int32Array } | null = null;

  attachSmp(lockstat: LockStat, abort: Int32Array): void {
    this.smp = { lockstat, abort };
  }

  /** pagetable_alloc + ctor: a zeroed table page for `level`. */
  alloc(level: number): number {
    const smp = this.smp;
    if (smp === null) return this.allocLocked(level);
    spin_lock(this.header, H_LOCK, smp.lockstat, LOCK_PGTABLE_ALLOC, smp.abort);
    try {
      return this.allocLocked(level);
    } finally {
      spin_unlock(this.header, H_LOCK);
    }
  }

  private allocLocked(level: number): number {
    const h = this.header;
    let t = h[H_FREE_HEAD]!;
    if (t >= 0) {
      h[H_FREE_HEAD] = this.next[t]!;
    } else {
      t = h[H_NEVER_USED]!;
      if (t >= this.capacity) {
        fail('ENOMEM', 'page-table pool', `all ${this.capacity} table pages of the simulated machine are in use`);
      }
      h[H_NEVER_USED] = t + 1;
    }
    const base = t * WORDS_PER_TABLE;
    this.entries.fill(0, base, base + WORDS_PER_TABLE);
    this.level[t] = level;
    this.shareCount[t] = 0;
    h[H_IN_USE]!++;
    h[H_ALLOCS]!++;
    h[H_LEVEL_BASE + level]!++;
    return t;
  }

  /** pagetable_free: the table must no longer be referenced by any entry. */
  free(t: number): void {
    const smp = this.smp;
    if (smp === null) return this.freeLocked(t);
    spin_lock(this.header, H_LOCK, smp.lockstat, LOCK_PGTABLE_ALLOC, smp.abort);
    try {
      this.freeLocked(t);
    } finally {
      spin_unlock(this.header, H_LOCK);
    }
  }

  private freeLocked(t: number): void {
    const lvl = this.level[t]!;
    if (lvl < 0) throw new Error(`BUG: page table ${t} freed twice`);
    if (this.shareCount[t] !== 0) throw new Error(`BUG: page table ${t} freed while ${this.shareCount[t]} extra sharers remain`);
    const h = this.header;
    this.level[t] = -1;
    this.next[t] = h[H_FREE_HEAD]!;
    h[H_FREE_HEAD] = t;
    h[H_IN_USE]!--;
    h[H_FREES]!++;
    this.bumpWalkGen();
    h[H_LEVEL_BASE + lvl]!--;
  }

  /** The current walk generation (see H_WALK_GEN). */
  walkGen(): number {
    return this.header[H_WALK_GEN]!;
  }

  /** A table left some mm's walk: every cached walk must be redone (atomic on concurrent CPUs). */
  bumpWalkGen(): void {
    if (this.smp === null) this.header[H_WALK_GEN]!++;
    else Atomics.add(this.header, H_WALK_GEN, 1);
  }

  /** ptdesc_pmd_pts_inc: one more extra sharer of table `t` (atomic on concurrent CPUs). */
  shareInc(t: number): void {
    if (this.smp === null) this.shareCount[t]!++;
    else Atomics.add(this.shareCount, t, 1);
  }

  get inUse(): number { return this.header[H_IN_USE]!; }
  get allocs(): number { return this.header[H_ALLOCS]!; }
  get frees(): number { return this.header[H_FREES]!; }
  /** Tables in use at `level` machine-wide (each shared table once). */
  inUseAt(level: number): number { return this.header[H_LEVEL_BASE + level]!; }
  /** Tables in use whose pt_share_count is above zero. */
  sharedInUse(): number {
    let n = 0;
    const used = this.header[H_NEVER_USED]!;
    for (let t = 0; t < used; t++) if (this.level[t]! >= 0 && this.shareCount[t]! > 0) n++;
    return n;
  }
}
