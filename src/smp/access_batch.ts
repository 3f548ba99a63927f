/**
 * Batches of memory accesses for simulated CPUs: the address and the (mm id, write) of each access in
 * two SharedArrayBuffers, so every worker thread reads its part without a copy. A CPU runs the ranges
 * of the processes scheduled on it, each access as the hardware would make it (Machine.touch: walk,
 * fault on a miss, retry).
 */
import type { Machine } from '../mm/machine.js';
import type { MmStruct } from '../mm/mm_types.js';

export interface AccessBatch {
  /** Float64: the address of each access. */
  addr: SharedArrayBuffer;
  /** Int32: mm id << 1 | write. */
  who: SharedArrayBuffer;
  /** Accesses in the batch. */
  length: number;
}

/** A batch of `n` accesses, filled by the caller through `set`. */
export class AccessBatchBuilder {
  readonly addr: Float64Array;
  readonly who: Int32Array;
  private n = 0;

  constructor(capacity: number) {
    this.addr = new Float64Array(new SharedArrayBuffer(Math.max(1, capacity) * 8));
    this.who = new Int32Array(new SharedArrayBuffer(Math.max(1, capacity) * 4));
  }

  push(mmId: number, addr: number, write: boolean): void {
    this.addr[this.n] = addr;
    this.who[this.n] = (mmId << 1) | (write ? 1 : 0);
    this.n++;
  }

  get length(): number {
    return this.n;
  }

  batch(): AccessBatch {
    return { addr: this.addr.buffer as SharedArrayBuffer, who: this.who.buffer as SharedArrayBuffer, length: this.n };
  }
}

/** What a CPU did with its part of a batch. */
export interface AccessRunResult {
  accesses: number;
  /** Accesses that ended in SIGSEGV/SIGBUS/OOM or a pending userfault (VM_FAULT_* != 0). */
  failed: number;
  /** The first of them, for the error message: address and VM_FAULT bits. */
  firstFailure: { addr: number; code: number } | null;
}

/**
 * Run accesses [from, to) of a batch on `m`; `mms[id]` is the mm with that id. `stop()` is polled every
 * 1,024 accesses (another CPU failed: give up early).
 */
export function run_accesses(m: Machine, mms: readonly (MmStruct | undefined)[], addr: Float64Array, who: Int32Array, from: number, to: number, stop: () => boolean): AccessRunResult {
  let failed = 0;
  let firstFailure: AccessRunResult['firstFailure'] = null;
  let i = from;
  while (i < to) {
    const w = who[i]!;
    const r = m.touch(mms[w >>> 1]!, addr[i]!, (w & 1) !== 0);
    if (r !== 0) {
      failed++;
      firstFailure ??= { addr: addr[i]!, code: r };
    }
    i++;
    if ((i & 1023) === 0 && stop()) break;
  }
  return { accesses: i - from, failed, firstFailure };
}
