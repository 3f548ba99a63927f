/**
 * One set-associative array with true LRU replacement, the building block of every simulated TLB,
 * paging-structure cache and the page-table-line LLC. Everything lives in typed arrays: a lookup is
 * a scan of one set's ways comparing doubles (keys are exact integers below 2^53), with no
 * allocation.
 *
 * Each set keeps its ways in recency order: valid entries first, most recently used first, then the
 * invalid slots. A hit moves its entry to the front (the entries before it shift back by one); a
 * fill writes at the front and shifts the set back from its victim, which is the set's last slot: an
 * invalid slot if the set has one, else the least recently used entry. That is true LRU with no
 * stamps, and a victim found without a search.
 *
 * Slot states (keys[]): >= 0 a valid entry; EMPTY (-1) never filled; <= -2 an entry a flush
 * invalidated, kept as -(key + 2) so that a later miss on the same key can be attributed to the
 * shootdown that removed it. A flushed slot is free for refills all the same; a refill of the same
 * key takes its own flushed slot, and a flush moves what it invalidates behind the set's valid
 * entries (ahead of never-filled slots, which fills therefore take first).
 */
export const EMPTY = -1;

export class SetAssoc {
  readonly entries: number;
  readonly ways: number;
  readonly sets: number;
  /** sets - 1; the set of a key is (index & mask), index being the VPN or line number. */
  readonly mask: number;
  /** Slot base + i of a set holds its i-th most recently used entry (see the file comment). */
  readonly keys: Float64Array;
  /** Per-slot flags (for TLB entries: writable, dirty); they move with their keys. */
  readonly flags: Uint8Array;
  /** Valid entries (lookups in an empty array are skipped by callers: they cannot hit). */
  live = 0;
  /**
   * Valid entries by class, for arrays whose keys carry a class in bits 3-4 (TLB keys: the page-size
   * code); all zero unless the array was built `classed`. A lookup for a class the array holds no
   * entry of cannot hit, so callers skip it (the second-level TLB holds 4 KiB and 2 MiB entries in
   * one array; with no 2 MiB entry in it, a miss is one scan of the set, not two).
   */
  readonly liveBy = new Int32Array(4);
  private readonly classed: boolean;

  constructor(entries: number, ways: number, what = 'array', classed = false) {
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
    this.flags = new Uint8Array(entries);
    this.classed = classed;
  }

  /**
   * Look `key` up in set `set`. On a hit the entry becomes the set's most recently used, and the
   * slot returned (the set's first) holds it; -1 on a miss.
   */
  lookup(key: number, set: number): number {
    const keys = this.keys;
    const base = set * this.ways;
    if (keys[base] === key) return base;
    for (let i = base + 1, end = base + this.ways; i < end; i++) {
      if (keys[i] === key) {
        this.toFront(base, i, key);
        return base;
      }
    }
    return -1;
  }

  /** Move the entry in slot `i` to the front of its set (slot `base`), the entries before it back by one. */
  private toFront(base: number, i: number, key: number): void {
    const f = this.flags[i]!;
    this.putFront(base, i, key, f);
  }

  /**
   * Shift the slots base .. `upto` - 1 back by one (what was in `upto` is overwritten) and write
   * `key` with `flags` into the front slot.
   */
  private putFront(base: number, upto: number, key: number, flags: number): void {
    const keys = this.keys;
    const fl = this.flags;
    for (let j = upto; j > base; j--) {
      keys[j] = keys[j - 1]!;
      fl[j] = fl[j - 1]!;
    }
    keys[base] = key;
    fl[base] = flags;
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
   * Fill `key` into set `set` as its most recently used entry: over its own valid copy (a refill
   * after a permission change), else into the slot of its flushed copy, else into the set's last
   * slot (an invalid one, or the LRU entry). Returns the slot (the set's first).
   */
  insert(key: number, set: number, flags: number): number {
    const keys = this.keys;
    const base = set * this.ways;
    for (let i = base, end = base + this.ways; i < end; i++) {
      if (keys[i] === key) {
        this.toFront(base, i, key);
        this.flags[base] = flags;
        return base;
      }
    }
    return this.fill(key, set, flags);
  }

  /**
   * insert() for a key the set is known not to hold valid (a fill right after its lookup missed): no
   * search for a valid copy, and none at all when the set's last slot is valid (then the set has no
   * invalid slot, so no flushed copy either, and the LRU entry is the victim).
   */
  fill(key: number, set: number, flags: number): number {
    const keys = this.keys;
    const base = set * this.ways;
    const last = base + this.ways - 1;
    let victim = last;
    const old = keys[last]!;
    if (old >= 0) {
      if (this.classed) this.liveBy[(old & 31) >> 3]!--;
    } else {
      const shot = -(key + 2);
      for (let i = base; i < last; i++) {
        if (keys[i] === shot) {
          victim = i;
          break;
        }
      }
      this.live++;
    }
    this.putFront(base, victim, key, flags);
    if (this.classed) this.liveBy[(key & 31) >> 3]!++;
    return base;
  }

  /**
   * The layout every operation keeps, checked (tests; a BUG if not empty): in each set the valid
   * entries before the invalid slots, no key twice, and `live` equal to the valid entries.
   */
  check(what = 'array'): string[] {
    const out: string[] = [];
    const keys = this.keys;
    let valid = 0;
    for (let base = 0; base < keys.length; base += this.ways) {
      const set = [...keys.subarray(base, base + this.ways)];
      const firstInvalid = set.findIndex((k) => k < 0);
      const v = set.filter((k) => k >= 0);
      valid += v.length;
      if (firstInvalid >= 0 && v.length > firstInvalid) out.push(`${what} set ${base / this.ways}: a valid entry behind an invalid slot (${set.join(', ')})`);
      if (new Set(v).size !== v.length) out.push(`${what} set ${base / this.ways}: a key twice (${set.join(', ')})`);
    }
    if (valid !== this.live) out.push(`${what}: live ${this.live} but ${valid} valid entries`);
    if (this.classed) {
      const by = [0, 0, 0, 0];
      for (const k of keys) if (k >= 0) by[(k & 31) >> 3]!++;
      if (by.some((n, c) => n !== this.liveBy[c])) out.push(`${what}: liveBy ${[...this.liveBy].join(', ')} but ${by.join(', ')} valid entries by class`);
    }
    return out;
  }

  /**
   * Invalidate every valid entry whose key satisfies `match`; returns how many. Each touched set is
   * reordered: its remaining valid entries first (in recency order), then what was just invalidated,
   * then the slots that were invalid already.
   */
  invalidateWhere(match: (key: number) => boolean): number {
    const keys = this.keys;
    const flags = this.flags;
    const w = this.ways;
    let n = 0;
    for (let base = 0; base < keys.length; base += w) {
      let hit = -1;
      for (let i = base; i < base + w; i++) {
        const k = keys[i]!;
        if (k >= 0 && match(k)) {
          hit = i;
          break;
        }
      }
      if (hit < 0) continue;
      // Stable partition of the set into [still valid][flushed now][invalid before].
      const valid: number[] = [];
      const shot: number[] = [];
      const old: number[] = [];
      for (let i = base; i < base + w; i++) {
        const k = keys[i]!;
        if (k < 0) old.push(k, 0);
        else if (i >= hit && match(k)) {
          shot.push(-(k + 2), flags[i]!);
          if (this.classed) this.liveBy[(k & 31) >> 3]!--;
        }
        else valid.push(k, flags[i]!);
      }
      n += shot.length / 2;
      let i = base;
      for (const part of [valid, shot, old]) {
        for (let j = 0; j < part.length; j += 2) {
          keys[i] = part[j]!;
          flags[i++] = part[j + 1]!;
        }
      }
    }
    this.live -= n;
    return n;
  }
}
