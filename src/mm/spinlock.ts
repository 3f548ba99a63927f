/**
 * Spinlocks over SharedArrayBuffer words (include/linux/spinlock.h), for the simulated CPUs that
 * worker threads run over the same page tables (src/smp). A lock is one Int32 word: 0 free, 1 held.
 * spin_lock tries a compare-and-swap and, when the word is held, spins reading it until it looks free
 * (test-and-test-and-set, as the kernel's queued spinlocks spin on a cached value), then tries again.
 *
 * Every acquisition is counted per lock class, with the acquisitions that found the lock held, the
 * spins (reads of a held word) and the wall-clock time spent waiting (read only on the contended path,
 * so the uncontended path costs one CAS and one store): the counters that explain a scaling curve.
 *
 * A worker that fails while others spin must not hang the run: the machine's abort word is set by the
 * failing worker, and a spinner checks it every 4,096 spins and throws instead of spinning on.
 */
import { SmpAborted } from './errno.js';

/** Lock classes (the kernel's names). */
export const LOCK_PTE_PTL = 0; // split PTE-table lock (ptlock_ptr of the PTE table's ptdesc)
export const LOCK_PMD_PTL = 1; // split PMD-table lock (pmd_lock)
export const LOCK_PAGE_TABLE = 2; // mm->page_table_lock (PUD/P4D/PGD entries)
export const LOCK_I_PAGES = 3; // mapping->i_pages xa_lock (page-cache insertion)
export const LOCK_ZONE = 4; // zone->lock (the frame allocator)
export const LOCK_PGTABLE_ALLOC = 5; // the page-table page allocator (same zone lock in the kernel; kept apart here)
export const LOCK_HUGETLB_FAULT = 6; // hugetlb_fault_mutex_table[hash(mapping, index)]

/** Words of the machine's lock array used as hugetlb_fault_mutex_table (after the abort word). */
export const HUGETLB_FAULT_MUTEXES = 64;
export const NR_LOCK_CLASSES = 7;

export const LOCK_CLASS_NAMES: readonly string[] = ['pte_ptl', 'pmd_ptl', 'page_table_lock', 'i_pages', 'zone', 'pgtable_alloc', 'hugetlb_fault_mutex'];

/** Counter fields per class in a LockStat array. */
const ACQ = 0;
const CONTENDED = 1;
const SPINS = 2;
const WAIT_MS = 3;
const FIELDS = 4;

/** Per-CPU lock statistics: NR_LOCK_CLASSES x {acquisitions, contended, spins, waitMs}. */
export type LockStat = Float64Array;

export function newLockStat(): LockStat {
  return new Float64Array(NR_LOCK_CLASSES * FIELDS);
}

export interface LockClassStat {
  acquisitions: number;
  contended: number;
  spins: number;
  waitMs: number;
}

/** The counters by class name, for reports (classes never taken are left out). */
export function lockStatRecord(st: LockStat): Record<string, LockClassStat> {
  const out: Record<string, LockClassStat> = {};
  for (let c = 0; c < NR_LOCK_CLASSES; c++) {
    const b = c * FIELDS;
    if (st[b + ACQ] === 0) continue;
    out[LOCK_CLASS_NAMES[c]!] = { acquisitions: st[b + ACQ]!, contended: st[b + CONTENDED]!, spins: st[b + SPINS]!, waitMs: st[b + WAIT_MS]! };
  }
  return out;
}

/** Add `src` into `dst`. */
export function lockStatAdd(dst: LockStat, src: ArrayLike<number>): void {
  for (let i = 0; i < dst.length; i++) dst[i]! += src[i]!;
}

/**
 * spin_lock(word `i` of `words`). `abort` is the machine's abort word (index 0), set when a CPU fails.
 */
export function spin_lock(words: Int32Array, i: number, st: LockStat, cls: number, abort: Int32Array): void {
  const b = cls * FIELDS;
  st[b + ACQ]!++;
  if (Atomics.compareExchange(words, i, 0, 1) === 0) return;
  spin_lock_contended(words, i, st, b, abort);
}

function spin_lock_contended(words: Int32Array, i: number, st: LockStat, b: number, abort: Int32Array): void {
  const t0 = performance.now();
  let spins = 0;
  st[b + CONTENDED]!++;
  do {
    while (Atomics.load(words, i) !== 0) {
      if ((++spins & 4095) === 0 && Atomics.load(abort, 0) !== 0) {
        throw new SmpAborted('another simulated CPU failed; this one stopped waiting for a lock');
      }
    }
  } while (Atomics.compareExchange(words, i, 0, 1) !== 0);
  st[b + SPINS]! += spins;
  st[b + WAIT_MS]! += performance.now() - t0;
}

/** spin_unlock. */
export function spin_unlock(words: Int32Array, i: number): void {
  Atomics.store(words, i, 0);
}
