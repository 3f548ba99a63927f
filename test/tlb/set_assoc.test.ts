/**
 * SetAssoc, the array every simulated TLB, paging-structure cache and the LLC share is built from:
 * LRU sequences worked by hand, the rules for flushed copies, and a randomized comparison with a
 * plain reference that keeps a last-use stamp per slot and searches for its victim.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { EMPTY, SetAssoc } from '../../src/tlb/set_assoc.js';

/** The keys of set `set` in slot order (most recently used first, then the invalid slots). */
function setKeys(a: SetAssoc, set: number): number[] {
  return [...a.keys.subarray(set * a.ways, (set + 1) * a.ways)];
}

describe('SetAssoc', () => {
  it('keeps each set in recency order: a hit moves to the front, a fill evicts the least recently used', () => {
    const a = new SetAssoc(4, 4); // one 4-way set
    for (const k of [10, 11, 12, 13]) {
      assert.equal(a.lookup(k, 0), -1);
      a.fill(k, 0, 0);
    }
    assert.deepEqual(setKeys(a, 0), [13, 12, 11, 10]);
    // Use 10 again: it becomes the most recent, 11 the least recent.
    assert.equal(a.lookup(10, 0), 0);
    assert.deepEqual(setKeys(a, 0), [10, 13, 12, 11]);
    a.fill(14, 0, 0); // evicts 11
    assert.deepEqual(setKeys(a, 0), [14, 10, 13, 12]);
    assert.equal(a.lookup(11, 0), -1);
    // A hit on the front entry changes nothing.
    assert.equal(a.lookup(14, 0), 0);
    assert.deepEqual(setKeys(a, 0), [14, 10, 13, 12]);
    assert.equal(a.live, 4);
    assert.deepEqual(a.check(), []);
  });

  it('keeps sets apart: keys fill only their own set', () => {
    const a = new SetAssoc(8, 2); // 4 sets of 2 ways
    for (const k of [0, 4, 8]) a.insert(k, k & a.mask, 0); // all set 0: 8 evicts 0
    a.insert(1, 1, 0);
    assert.deepEqual(setKeys(a, 0), [8, 4]);
    assert.deepEqual(setKeys(a, 1), [1, EMPTY]);
    assert.deepEqual(setKeys(a, 2), [EMPTY, EMPTY]);
    assert.equal(a.live, 3);
  });

  it('moves the flags with their keys, and insert over a valid copy rewrites its flags in place', () => {
    const a = new SetAssoc(3, 3);
    a.fill(1, 0, 1);
    a.fill(2, 0, 2);
    a.fill(3, 0, 3);
    assert.equal(a.lookup(1, 0), 0);
    assert.deepEqual([...a.flags], [1, 3, 2]);
    // The dirty-bit assist refills key 2 with new flags: no second copy, no eviction.
    a.insert(2, 0, 7);
    assert.deepEqual(setKeys(a, 0), [2, 1, 3]);
    assert.deepEqual([...a.flags], [7, 1, 3]);
    assert.equal(a.live, 3);
  });

  it('invalidation keeps flushed copies behind the valid entries; a refill takes its own flushed copy, other fills the oldest invalid slot', () => {
    const a = new SetAssoc(6, 6);
    for (const k of [1, 2, 3, 4]) a.fill(k, 0, 0); // [4, 3, 2, 1, -1, -1]
    // Flush the even keys: valid 3, 1 stay in front; 4 and 2 become -(k + 2), in their recency order,
    // ahead of the two never-filled slots.
    assert.equal(a.invalidateWhere((k) => k % 2 === 0), 2);
    assert.deepEqual(setKeys(a, 0), [3, 1, -6, -4, EMPTY, EMPTY]);
    assert.equal(a.live, 2);
    assert.equal(a.holdsFlushed(4, 0), true);
    assert.equal(a.holdsFlushed(3, 0), false);
    // A new key takes the last slot, a never-filled one: the flushed copies stay.
    a.fill(5, 0, 0);
    assert.deepEqual(setKeys(a, 0), [5, 3, 1, -6, -4, EMPTY]);
    // The refill of 2 takes its own flushed copy (and no other slot).
    assert.equal(a.lookup(2, 0), -1);
    a.fill(2, 0, 0);
    assert.deepEqual(setKeys(a, 0), [2, 5, 3, 1, -6, EMPTY]);
    assert.equal(a.holdsFlushed(2, 0), false);
    // Two more new keys: the never-filled slot goes first, then the flushed copy of 4.
    a.fill(6, 0, 0);
    assert.deepEqual(setKeys(a, 0), [6, 2, 5, 3, 1, -6]);
    a.fill(7, 0, 0);
    assert.deepEqual(setKeys(a, 0), [7, 6, 2, 5, 3, 1]);
    assert.equal(a.holdsFlushed(4, 0), false);
    assert.equal(a.live, 6);
    // Full again: the next fill evicts the least recently used valid entry, 1.
    a.fill(8, 0, 0);
    assert.deepEqual(setKeys(a, 0), [8, 7, 6, 2, 5, 3]);
    assert.deepEqual(a.check(), []);
  });

  it('a second flush puts its copies ahead of the older ones, which fills then take first', () => {
    const a = new SetAssoc(4, 4);
    for (const k of [1, 2, 3, 4]) a.fill(k, 0, 0); // [4, 3, 2, 1]
    a.invalidateWhere((k) => k === 1);
    a.invalidateWhere((k) => k === 3);
    assert.deepEqual(setKeys(a, 0), [4, 2, -5, -3]);
    a.fill(9, 0, 0); // takes the oldest invalid slot: 1's copy
    assert.deepEqual(setKeys(a, 0), [9, 4, 2, -5]);
    assert.equal(a.holdsFlushed(3, 0), true);
    assert.equal(a.holdsFlushed(1, 0), false);
  });

  it('refuses geometries that are not whole power-of-two sets', () => {
    assert.throws(() => new SetAssoc(12, 5, 'x'), /x: 12 entries cannot be split into 5-way sets/);
    assert.throws(() => new SetAssoc(12, 4, 'x'), /x: 12 entries \/ 4 ways = 3 sets, not a power of two/);
    assert.equal(new SetAssoc(0, 4).ways, 0);
  });

  it('behaves as a plain stamped LRU reference for any sequence of lookups, fills, inserts and flushes', () => {
    /**
     * The reference: slots in a fixed place, a last-use stamp each, and for invalid slots the time
     * they were invalidated (never-filled: -1). A fill takes its own valid copy, else its flushed
     * copy, else the invalid slot invalidated longest ago (among those of one flush, the least
     * recently used before it), else the valid entry with the smallest stamp.
     */
    class Ref {
      keys: number[];
      stamp: number[];
      dead: number[];
      flags: number[];
      clock = 0;
      constructor(readonly ways: number, readonly sets: number) {
        this.keys = new Array<number>(ways * sets).fill(EMPTY);
        this.stamp = new Array<number>(ways * sets).fill(0);
        this.dead = new Array<number>(ways * sets).fill(-1);
        this.flags = new Array<number>(ways * sets).fill(0);
      }
      lookup(key: number, set: number): number {
        for (let i = set * this.ways; i < (set + 1) * this.ways; i++) {
          if (this.keys[i] === key) {
            this.stamp[i] = ++this.clock;
            return this.flags[i]!;
          }
        }
        return -1;
      }
      insert(key: number, set: number, flags: number): void {
        const slots = Array.from({ length: this.ways }, (_, j) => set * this.ways + j);
        const own = slots.find((i) => this.keys[i] === key) ?? slots.find((i) => this.keys[i] === -(key + 2));
        const invalid = slots.filter((i) => this.keys[i]! < 0);
        const byAge = (x: number, y: number) => (this.dead[x]! - this.dead[y]!) || (this.stamp[x]! - this.stamp[y]!);
        const victim = own ?? (invalid.length > 0 ? invalid.sort(byAge)[0]! : slots.sort((x, y) => this.stamp[x]! - this.stamp[y]!)[0]!);
        this.keys[victim] = key;
        this.flags[victim] = flags;
        this.stamp[victim] = ++this.clock;
      }
      invalidate(match: (k: number) => boolean): number {
        const t = ++this.clock;
        let n = 0;
        this.keys.forEach((k, i) => {
          if (k >= 0 && match(k)) {
            this.keys[i] = -(k + 2);
            this.dead[i] = t;
            n++;
          }
        });
        return n;
      }
      contents(set: number): number[] {
        return this.keys.slice(set * this.ways, (set + 1) * this.ways).filter((k) => k !== EMPTY).sort((x, y) => x - y);
      }
    }
    const op = fc.oneof(
      fc.record({ kind: fc.constant('access' as const), key: fc.nat(23), flags: fc.nat(3) }),
      fc.record({ kind: fc.constant('insert' as const), key: fc.nat(23), flags: fc.nat(3) }),
      fc.record({ kind: fc.constant('flush' as const), mod: fc.integer({ min: 2, max: 5 }), rem: fc.nat(4) }),
    );
    fc.assert(fc.property(fc.constantFrom([4, 4], [8, 2], [6, 6], [16, 4]), fc.array(op, { minLength: 20, maxLength: 200, size: 'max' }), ([entries, ways], ops) => {
      const a = new SetAssoc(entries!, ways!, 'array', true); // classed: check() also counts liveBy
      const r = new Ref(ways!, entries! / ways!);
      for (const o of ops) {
        if (o.kind === 'flush') {
          const match = (k: number) => k % o.mod === o.rem % o.mod;
          assert.equal(a.invalidateWhere(match), r.invalidate(match));
          continue;
        }
        const set = o.key & a.mask;
        if (o.kind === 'insert') {
          a.insert(o.key, set, o.flags);
          r.insert(o.key, set, o.flags);
        } else {
          // An access: a lookup, and on a miss the fill that follows it (as the TLB and LLC do).
          const slot = a.lookup(o.key, set);
          const want = r.lookup(o.key, set);
          assert.equal(slot < 0 ? -1 : a.flags[slot], want);
          if (slot < 0) {
            assert.equal(a.holdsFlushed(o.key, set), r.contents(set).includes(-(o.key + 2)));
            a.fill(o.key, set, o.flags);
            r.insert(o.key, set, o.flags);
          }
        }
        for (let s = 0; s < a.sets; s++) assert.deepEqual(setKeys(a, s).filter((k) => k !== EMPTY).sort((x, y) => x - y), r.contents(s));
        assert.deepEqual(a.check(), []);
      }
    }), { numRuns: 300, seed: 42 });
  });
});
