/**
 * The body of a simulated CPU: a piscina worker thread. It attaches once to a machine's shared
 * buffers (page tables, frame table, page caches, lock words), keeps that view while the machine is
 * the same, and runs batches of accesses, taking one process's accesses at a time from the batch's run queue. Every task first waits at
 * a barrier until all CPUs of the pool hold one, so each CPU runs exactly one task and they start
 * together. A failure sets the machine's abort word, so CPUs spinning on a lock the failed one will
 * never release stop instead of hanging, and is rethrown to the main thread.
 */
import { threadId } from 'node:worker_threads';
import { attachMachine, takeCpuDeltas, type CpuDeltas, type MachineImage } from './machine_image.js';
import { hostControlRun } from './host_control.js';
import { run_accesses, type AccessBatch, type AccessRunResult } from './access_batch.js';
import type { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';

export interface Rendezvous {
  /** Int32 word 0: CPUs arrived. */
  barrier: SharedArrayBuffer;
  parties: number;
  timeoutMs: number;
}

export type CpuTask =
  | { op: 'hello'; rendezvous: Rendezvous }
  | { op: 'attach'; rendezvous: Rendezvous; image: MachineImage }
  /** The host control (src/smp/host_control.ts): work that shares nothing, to see what the host gives. */
  | { op: 'control'; rendezvous: Rendezvous; iterations: number }
  /**
   * Run the batch's tasks: runqueue holds one [from, to) pair of access indexes per task (a process's
   * accesses); every CPU takes the next untaken task (word 0 of `next`, an atomic counter) until none is
   * left, so a CPU that runs faster takes more of them.
   */
  | { op: 'run'; rendezvous: Rendezvous; uid: string; batch: AccessBatch; runqueue: number[]; next: SharedArrayBuffer };

export interface CpuTaskResult {
  threadId: number;
  /** ms: this CPU's running time; start/end: when it ran, on the clock every thread shares (performance.timeOrigin + now). */
  /** op 'control': this thread's milliseconds (measured). */
  controlMs?: number;
  run?: AccessRunResult & { ms: number; start: number; end: number; tasks: number; deltas: CpuDeltas };
}

let view: { uid: string; m: Machine; mms: (MmStruct | undefined)[] } | null = null;

/** Arrive at the barrier and wait (Atomics.wait, bounded) until every party has. */
function rendezvous(r: Rendezvous): void {
  const b = new Int32Array(r.barrier);
  Atomics.add(b, 0, 1);
  Atomics.notify(b, 0);
  const deadline = performance.now() + r.timeoutMs;
  for (;;) {
    const n = Atomics.load(b, 0);
    if (n >= r.parties) return;
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`only ${n} of ${r.parties} simulated CPUs started within ${r.timeoutMs} ms (is the pool smaller than the CPUs asked for?)`);
    Atomics.wait(b, 0, n, left);
  }
}

export default function cpuTask(task: CpuTask): CpuTaskResult {
  rendezvous(task.rendezvous);
  if (task.op === 'hello') return { threadId };
  if (task.op === 'control') return { threadId, controlMs: hostControlRun(task.iterations) };
  if (task.op === 'attach') {
    const m = attachMachine(task.image);
    const mms: (MmStruct | undefined)[] = [];
    for (const mm of m.mms) mms[mm.id] = mm;
    view = { uid: task.image.buffers.uid, m, mms };
    return { threadId };
  }
  if (view === null || view.uid !== task.uid) throw new Error('BUG: a run task reached a CPU that is not attached to its machine');
  const { m, mms } = view;
  const addr = new Float64Array(task.batch.addr);
  const who = new Int32Array(task.batch.who);
  const abort = m.locks;
  const stop = () => Atomics.load(abort, 0) !== 0;
  const runqueue = task.runqueue;
  const next = new Int32Array(task.next);
  try {
    const t0 = performance.now();
    let accesses = 0;
    let failed = 0;
    let tasks = 0;
    let firstFailure: AccessRunResult['firstFailure'] = null;
    for (;;) {
      const i = Atomics.add(next, 0, 1) * 2;
      if (i >= runqueue.length) break;
      const r = run_accesses(m, mms, addr, who, runqueue[i]!, runqueue[i + 1]!, stop);
      tasks++;
      accesses += r.accesses;
      failed += r.failed;
      firstFailure ??= r.firstFailure;
      if (stop()) break;
    }
    const t1 = performance.now();
    return { threadId, run: { accesses, failed, firstFailure, ms: t1 - t0, start: performance.timeOrigin + t0, end: performance.timeOrigin + t1, tasks, deltas: takeCpuDeltas(m) } };
  } catch (e) {
    Atomics.store(abort, 0, 1);
    throw e;
  }
}
