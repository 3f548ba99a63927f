/**
 * The frame table: one record per folio (struct folio / struct page of its head page), as
 * structure-of-arrays over SharedArrayBuffers. A folio of order 0 is a 4 KiB page; order 9 a 2 MiB
 * hugetlb page; order 18 a 1 GiB hugetlb page. Leaf entries carry the folio number as their PFN.
 *
 * Fields the kernel's rules need: refcount (_refcount), mapcount (total mappings), pincount
 * (_pincount of large folios; small folios count pins as GUP_PIN_COUNTING_BIAS in refcount, as the
 * kernel does), flags (PG_anon, PG_anon_exclusive, PG_dirty, PG_swapbacked, ...), mapping (file id,
 * or anon_vma id for anonymous folios), index (page offset in the file, or linear page index for
 * anonymous memory) and content (the page's data, modelled as one 32-bit value).
 *
 * Folio 0 is the shared zero page: reserved, never refcounted, mapped with _PAGE_SPECIAL.
 */
import { fail } from './errno.js';
import { LOCK_ZONE, spin_lock, spin_unlock, type LockStat } from './spinlock.js';

export const PG_anon = 1 << 0;
export const PG_anon_exclusive = 1 << 1;
export const PG_dirty = 1 << 2;
export const PG_swapbacked = 1 << 3;
export const PG_uptodate = 1 << 4;
export const PG_hugetlb = 1 << 5;
export const PG_reserved = 1 << 6;
export const PG_swapcache = 1 << 7;
export const PG_ksm = 1 << 8;

/** mm/gup.c: pins of small folios add this to the refcount. */
export const GUP_PIN_COUNTING_BIAS = 1024;
export const ZERO_PFN = 0;

const H_FREE_HEAD = 0;
const H_NEVER_USED = 1;
const H_ALLOCS = 2;
const H_FREES = 3;
/** zone->lock: the allocator's lock when worker threads allocate concurrently (smp). */
const H_LOCK = 4;
const HEADER_WORDS = 8;
/** Per-CPU page list sizes (pcp->batch, pcp->high): folios moved per zone-lock acquisition, and the most a CPU keeps. */
const PCP_BATCH = 64;
const PCP_HIGH = 256;

export interface FolioTableBuffers {
  capacity: number;
  ints: SharedArrayBuffer;
  index: SharedArrayBuffer;
  order: SharedArrayBuffer;
}

const INT_FIELDS = 7; // refcount, mapcount, pincount, flags, mapping, content, next

export class FolioTable {
  readonly capacity: number;
  readonly refcount: Int32Array;
  readonly mapcount: Int32Array;
  readonly pincount: Int32Array;
  readonly flags: Int32Array;
  readonly mapping: Int32Array;
  readonly content: Int32Array;
  readonly next: Int32Array;
  readonly index: Float64Array;
  readonly order: Int8Array;
  readonly header: Int32Array;
  readonly buffers: FolioTableBuffers;

  constructor(capacity: number, buffers?: FolioTableBuffers) {
    if (!Number.isInteger(capacity) || capacity < 2 || capacity > 2 ** 28) {
      throw new RangeError(`frame table capacity must be an integer in 2..268435456 folios, got ${capacity}`);
    }
    this.capacity = capacity;
    const ints = buffers?.ints ?? new SharedArrayBuffer(HEADER_WORDS * 4 + INT_FIELDS * capacity * 4);
    const index = buffers?.index ?? new SharedArrayBuffer(capacity * 8);
    const order = buffers?.order ?? new SharedArrayBuffer(capacity);
    this.buffers = { capacity, ints, index, order };
    this.header = new Int32Array(ints, 0, HEADER_WORDS);
    const field = (i: number) => new Int32Array(ints, HEADER_WORDS * 4 + i * capacity * 4, capacity);
    this.refcount = field(0);
    this.mapcount = field(1);
    this.pincount = field(2);
    this.flags = field(3);
    this.mapping = field(4);
    this.content = field(5);
    this.next = field(6);
    this.index = new Float64Array(index);
    this.order = new Int8Array(order);
    if (!buffers) {
      this.header[H_FREE_HEAD] = -1;
      this.header[H_NEVER_USED] = 1; // folio 0: the zero page
      this.flags[ZERO_PFN] = PG_reserved | PG_uptodate;
      this.refcount[ZERO_PFN] = 1;
    }
  }

  /**
   * Set by a worker's machine: allocation and freeing take the zone lock, and reference and mapping
   * counts change with atomic operations (the kernel's atomic_t _refcount and _mapcount).
   */
  private smp: { lockstat: LockStat; abort: Int32Array } | null = null;
  /**
   * This CPU's per-CPU page list (struct per_cpu_pages): free folios taken from the shared free list
   * PCP_BATCH at a time under the zone lock (rmqueue_bulk) and given back when more than PCP_HIGH
   * gather (free_pcppages_bulk) or at the end of a batch (drain_local_pages). The allocations and frees
   * made through it are counted here and added to the shared header when it is drained.
   */
  private pcp: Int32Array = new Int32Array(0);
  private pcpCount = 0;
  private pcpAllocs = 0;
  private pcpFrees = 0;

  attachSmp(lockstat: LockStat, abort: Int32Array): void {
    this.smp = { lockstat, abort };
    this.pcp = new Int32Array(PCP_HIGH + PCP_BATCH);
  }

  /** rmqueue_bulk: refill the per-CPU list from the shared free list (or the never-used region). */
  private rmqueue_bulk(): void {
    const smp = this.smp!;
    const h = this.header;
    spin_lock(h, H_LOCK, smp.lockstat, LOCK_ZONE, smp.abort);
    while (this.pcpCount < PCP_BATCH) {
      const f = this.rmqueue();
      if (f < 0) break;
      this.pcp[this.pcpCount++] = f;
    }
    spin_unlock(h, H_LOCK);
    if (this.pcpCount === 0) fail('ENOMEM', 'frame table', `all ${this.capacity - 1} folios of the simulated machine are in use or on other CPUs' page lists`);
  }

  /** free_pcppages_bulk / drain_local_pages: give `n` folios of the per-CPU list back, and fold the counts into the header. */
  private free_pcppages_bulk(n: number): void {
    const smp = this.smp!;
    const h = this.header;
    spin_lock(h, H_LOCK, smp.lockstat, LOCK_ZONE, smp.abort);
    for (let i = 0; i < n && this.pcpCount > 0; i++) this.free_one(this.pcp[--this.pcpCount]!);
    h[H_ALLOCS]! += this.pcpAllocs;
    h[H_FREES]! += this.pcpFrees;
    this.pcpAllocs = 0;
    this.pcpFrees = 0;
    spin_unlock(h, H_LOCK);
  }

  /** __rmqueue: one folio off the shared free list, else from the never-used region; -1 when none is left. */
  private rmqueue(): number {
    const h = this.header;
    const f = h[H_FREE_HEAD]!;
    if (f >= 0) {
      h[H_FREE_HEAD] = this.next[f]!;
      return f;
    }
    const n = h[H_NEVER_USED]!;
    if (n >= this.capacity) return -1;
    h[H_NEVER_USED] = n + 1;
    return n;
  }

  /** The single-CPU allocator: __rmqueue counted in the header (concurrent CPUs count in their pcp). */
  private rmqueue_counted(): number {
    const f = this.rmqueue();
    if (f >= 0) this.header[H_ALLOCS]!++;
    return f;
  }

  /** Put folio `f` on the shared free list (LIFO). */
  private free_one(f: number): void {
    this.next[f] = this.header[H_FREE_HEAD]!;
    this.header[H_FREE_HEAD] = f;
  }

  /** drain_local_pages: at the end of a batch, every folio of this CPU's list goes back (a no-op on a single-CPU machine). */
  drain_pages(): void {
    if (this.smp !== null) this.free_pcppages_bulk(this.pcpCount);
  }

  /**
   * folio_alloc: a folio of `order` with `refcount` references, `mapcount` mappings, the given flags,
   * mapping and index, zero content. Every field is written once.
   */
  alloc(order: number, refcount: number, mapcount: number, flags: number, mapping: number, index: number): number {
    const f = this.smp !== null ? this.alloc_pcp() : this.rmqueue_counted();
    if (f < 0) this.oom();
    // pincount and content are already zero: the SharedArrayBuffer starts zeroed and free() clears
    // them, as free_pages_prepare does, so the fault path writes only what it sets.
    this.refcount[f] = refcount;
    this.mapcount[f] = mapcount;
    this.flags[f] = flags;
    this.mapping[f] = mapping;
    this.index[f] = index;
    this.order[f] = order;
    return f;
  }

  private oom(): never {
    fail('ENOMEM', 'frame table', `all ${this.capacity - 1} folios of the simulated machine are in use`);
  }

  /** rmqueue_pcplist: a folio from this CPU's per-CPU list, refilled from the zone when empty. */
  private alloc_pcp(): number {
    if (this.pcpCount === 0) this.rmqueue_bulk();
    this.pcpAllocs++;
    return this.pcp[--this.pcpCount]!;
  }

  /** folio_put: drop one reference; the folio is freed when the last one goes. */
  put(f: number): void {
    const r = this.smp === null ? --this.refcount[f]! : Atomics.sub(this.refcount, f, 1) - 1;
    if (r === 0) this.free(f);
    else if (r < 0) throw new Error(`BUG: folio ${f} refcount underflow`);
  }

  /** folio_get: take one more reference. */
  get(f: number): void {
    if (this.smp === null) this.refcount[f]!++;
    else Atomics.add(this.refcount, f, 1);
  }

  /** One more mapping of the folio (folio_add_*_rmap_pte). */
  mapInc(f: number): void {
    if (this.smp === null) this.mapcount[f]!++;
    else Atomics.add(this.mapcount, f, 1);
  }

  /** One mapping fewer (folio_remove_rmap_pte). */
  mapDec(f: number): void {
    if (this.smp === null) this.mapcount[f]!--;
    else Atomics.sub(this.mapcount, f, 1);
  }

  /** Set flag bits (folio_set_dirty ...): an atomic OR, as the kernel's set_bit. */
  setFlags(f: number, bits: number): void {
    if ((this.flags[f]! & bits) === bits) return;
    if (this.smp === null) this.flags[f]! |= bits;
    else Atomics.or(this.flags, f, bits);
  }

  private free(f: number): void {
    if (this.mapcount[f] !== 0) throw new Error(`BUG: folio ${f} freed while mapped ${this.mapcount[f]} times`);
    if (this.pincount[f] !== 0) throw new Error(`BUG: folio ${f} freed while pinned ${this.pincount[f]} times`);
    this.flags[f] = 0;
    this.content[f] = 0;
    this.refcount[f] = -1; // free: never a valid count, so a use after free shows
    if (this.smp !== null) {
      this.pcp[this.pcpCount++] = f;
      this.pcpFrees++;
      if (this.pcpCount >= PCP_HIGH) this.free_pcppages_bulk(PCP_BATCH);
      return;
    }
    this.free_one(f);
    this.header[H_FREES]!++;
  }

  /** folio_maybe_dma_pinned (include/linux/mm.h). */
  maybeDmaPinned(f: number): boolean {
    if (this.order[f]! > 0) return this.pincount[f]! > 0;
    return this.refcount[f]! >= GUP_PIN_COUNTING_BIAS;
  }

  /** Folios in use, not counting the zero page. */
  get inUse(): number { return this.header[H_ALLOCS]! - this.header[H_FREES]!; }
  /** 4 KiB pages in use by those folios (a scan: for reports, not hot paths). */
  get pagesInUse(): number {
    let n = 0;
    const used = this.header[H_NEVER_USED]!;
    for (let f = 1; f < used; f++) if (this.refcount[f]! > 0) n += 2 ** this.order[f]!;
    return n;
  }
  get allocs(): number { return this.header[H_ALLOCS]!; }
  get frees(): number { return this.header[H_FREES]!; }
}
