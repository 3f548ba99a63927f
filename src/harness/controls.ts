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
 */
import type { BenchTaskDef } from './tasks.js';
import type { TaskResultRecord } from './types.js';
import { plainTable, rate } from '../lib/format.js';

const WORDS = 1024;
const PRESENT = 1;
const RW = 2;

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

export function controlOf(task: string): string | undefined {
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
  return [walk, copy, lookup];
}

/** Each task's ratio to its control measured in the same run, written into its record. */
export function attachControlRatios(tasks: TaskResultRecord[]): void {
  for (const t of tasks) {
    const name = controlOf(t.name);
    const c = name === undefined ? undefined : tasks.find((x) => x.name === name);
    if (c === undefined) continue;
    const goal = CONTROL_GOALS[t.name];
    t.control = { task: c.name, ratio: t.opsPerSec.median / c.opsPerSec.median, ...(goal === undefined ? {} : { goal }) };
  }
}

/** The ratios to controls as a table ('' when no task has a control in the run). */
export function renderControlRatios(tasks: readonly TaskResultRecord[]): string {
  const rows = tasks.filter((t) => t.control !== undefined);
  if (rows.length === 0) return '';
  const t = plainTable(['task', 'rate', 'control', 'control rate', 'ratio', 'goal'], ['left', 'right', 'left', 'right', 'right', 'left']);
  for (const r of rows) {
    const c = tasks.find((x) => x.name === r.control!.task)!;
    const g = r.control!.goal;
    t.push([`${r.name} [${r.design}]`, `${rate(r.opsPerSec.median)} ${r.unit}/s`, c.name, `${rate(c.opsPerSec.median)} ${c.unit}/s`, `${(r.control!.ratio * 100).toFixed(1)} %`, g === undefined ? '' : `>= ${(g * 100).toFixed(0)} %: ${r.control!.ratio >= g ? 'met' : 'not met'}`]);
  }
  return `ratios to controls (measured in this run: the task's median rate over its control's)\n${t.toString()}`;
}
