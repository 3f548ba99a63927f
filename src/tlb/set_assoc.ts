/**
 * One set-associative array with true LRU replacement, the building block of every simulated TLB,
 * paging-structure cache and the page-table-line LLC. Everything lives in typed arrays: a lookup is
 * a scan of one set's ways comparing doubles (keys are exact integers below 2^53), with no
 * allocation.
 *
 * Slot states (keys[]): >= 0 a valid entry; EMPTY (-1) never filled; <= -2 an entry a flush
 * invalidated, kept as -(key + 2) so that a later miss on the same key can be attributed to the
 * shootdown that removed it (the slot is free for refills all the same).
 */
export const EMPTY = -1;

export class SetAssoc {
  readonly entries: number;
  readonly ways: number;
  readonly sets: number;
  /** sets - 1; the set of a key is (index & mask), index being the VPN or line number. */
  readonly mask: number;
  readonly keys: Float64Array;
  /** LRU stamps: the larger, the more recently used. */
  readonly stamp: Float64Array;
  /** Per-slot flags (for TLB entries: writable, dirty). */
  readonly flags: Uint8Array;
  clock = 0;
  /** Valid entries (lookups in an empty array are skipped by callers: they cannot hit). */
  live = 0;

  constructor(entries: number, ways: number, what = 'array') {
    if (!Number.isInteger(entries) || entries < 0) throw new RangeError(`${what}: entries must be a whole number >= 0, got ${entries}`);
    if (entries > 0 && (!Number.isInteger(ways) || ways < 1 || entries % ways !== 0)) {
      throw new RangeError(`${what}: ${entries} entries cannot be split into ${ways}-way sets`);
    }
    const sets = entries === 0 ? 0 : entries / ways;
    if (sets > 0 && (sets & (sets - 1)) !== 0) throw new RangeError(`${what}: ${entries} entries / ${ways} ways = ${sets} sets, not a power of two`);
    this.entries = entries;
    this.ways = entries === 0 ? 0 : ways;
    this.sets = sets;
    this.mask = Math.max(0, sets - 1);
    this.keys = new Float64Array(entries).fill(EMPTY);
    this.stamp = new Float64Array(entries);
    this.flags = new Uint8Array(entries);
  }

  /** The slot holding `key` in set `set`, refreshed as most recently used; -1 on a miss. */
  lookup(key: number, set: number): number {
    const keys = this.keys;
    const w = this.ways;
    const base = set * w;
    for (let i = base, end = base + w; i < end; i++) {
      if (keys[i] === key) {
        this.stamp[i] = ++this.clock;
        return i;
      }
    }
    return -1;
  }

  /** Does set `set` still hold the flushed copy of `key`? */
  holdsFlushed(key: number, set: number): boolean {
    const shot = -(key + 2);
    const keys = this.keys;
    const base = set * this.ways;
    for (let i = base, end = base + this.ways; i < end; i++) if (keys[i] === shot) return true;
    return false;
  }

  /**
   * Fill `key` into set `set`: over its own valid copy (a refill after a permission change), else
   * into the slot of its flushed copy, else a free slot, else the least recently used. Returns the
   * slot.
   */
  insert(key: number, set: number, flags: number): number {
    const keys = this.keys;
    const stamp = this.stamp;
    const base = set * this.ways;
    const end = base + this.ways;
    const shot = -(key + 2);
    let victim = base;
    let best = Infinity;
    for (let i = base; i < end; i++) {
      const k = keys[i]!;
      if (k === key || k === shot) {
        victim = i;
        break;
      }
      if (k < 0) {
        if (best !== -1) {
          victim = i;
          best = -1;
        }
      } else if (stamp[i]! < best) {
        victim = i;
        best = stamp[i]!;
      }
    }
    if (keys[victim]! !== key) this.live++;
    if (keys[victim]! >= 0 && keys[victim]! !== key) this.live--;
    keys[victim] = key;
    stamp[victim] = ++this.clock;
    this.flags[victim] = flags;
    return victim;
  }

  /** Invalidate every valid entry whose key satisfies `match`; returns how many. */
  invalidateWhere(match: (key: number) => boolean): number {
    const keys = this.keys;
    let n = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k >= 0 && match(k)) {
        keys[i] = -(k + 2);
        n++;
      }
    }
    this.live -= n;
    return n;
  }
}
