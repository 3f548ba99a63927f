/**
 * Which task runs on which simulated CPU and when it switches: task i is pinned to CPU i mod cpus;
 * each CPU round-robins its tasks, giving each a time slice of `quantum` accesses, and the CPUs take
 * their slices in turn (CPU 0's slice, CPU 1's, ..., then CPU 0's next). Tasks of one mm (threads)
 * switch without a change of mm, as the kernel does.
 */
import type { MmStruct } from '../../mm/mm_types.js';
import type { Mmu } from '../../tlb/mmu.js';
import { UsageError } from '../../lib/errors.js';

/** Anything that produces accesses in batches: an AccessStream, or a trace replay buffer. */
export interface AccessSource {
  fill(addrs: Float64Array, writes: Uint8Array, n: number): void;
}

export interface Task {
  mm: MmStruct;
  source: AccessSource;
}

export interface ScheduleOptions {
  /** Accesses per time slice. */
  quantum: number;
  /** Accesses each task makes in all. */
  accessesPerTask: number;
}

const BATCH = 4096;

export function checkSchedule(o: ScheduleOptions): void {
  if (!Number.isInteger(o.quantum) || o.quantum < 1) throw new UsageError(`--quantum: must be a whole number of accesses >= 1, got ${o.quantum}`);
  if (!Number.isInteger(o.accessesPerTask) || o.accessesPerTask < 0) throw new UsageError(`--accesses: must be a whole number >= 0, got ${o.accessesPerTask}`);
}

/** Run every task to completion under the schedule. */
export function runSchedule(mmu: Mmu, tasks: readonly Task[], o: ScheduleOptions): void {
  checkSchedule(o);
  const cpus = mmu.cpu.length;
  const queues: number[][] = Array.from({ length: cpus }, () => []);
  tasks.forEach((_, i) => queues[i % cpus]!.push(i));
  const left = tasks.map(() => o.accessesPerTask);
  const next = new Array<number>(cpus).fill(0);
  const addrs = new Float64Array(BATCH);
  const writes = new Uint8Array(BATCH);
  let busy = true;
  while (busy) {
    busy = false;
    for (let c = 0; c < cpus; c++) {
      const q = queues[c]!;
      // The next task of this CPU's queue with work left.
      let pick = -1;
      for (let k = 0; k < q.length; k++) {
        const i = q[(next[c]! + k) % q.length]!;
        if (left[i]! > 0) {
          pick = i;
          next[c] = (next[c]! + k + 1) % q.length;
          break;
        }
      }
      if (pick < 0) continue;
      busy = true;
      const t = tasks[pick]!;
      mmu.switchTo(c, t.mm);
      let slice = Math.min(o.quantum, left[pick]!);
      left[pick]! -= slice;
      while (slice > 0) {
        const n = Math.min(BATCH, slice);
        t.source.fill(addrs, writes, n);
        mmu.run(c, addrs, writes, n);
        slice -= n;
      }
    }
  }
}
