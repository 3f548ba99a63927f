/**
 * Simulated CPUs as a piscina pool of worker threads over one machine's shared memory. The pool has a
 * fixed size (minThreads = maxThreads = CPUs), a long idle timeout, and is warmed up (every thread
 * started, the worker module loaded) before anything is timed; close() ends it. Every operation sends
 * exactly one task per CPU, and the tasks meet at a barrier first, so each CPU runs one and they start
 * together.
 *
 * Workers load the compiled worker (dist/.../cpu_worker.js) when this module runs compiled, and the
 * TypeScript source through tsx's loader (execArgv --import tsx) when it runs under tsx (npm test).
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Machine } from '../mm/machine.js';
import type { AccessBatch, AccessRunResult } from './access_batch.js';
import type { CpuTask, CpuTaskResult, Rendezvous } from './cpu_worker.js';
import { applyCpuDeltas, machineImage } from './machine_image.js';
import { SmpError } from '../lib/errors.js';
import { HOST_CONTROL_ITERATIONS } from './host_control.js';
import { SmpAborted } from '../mm/errno.js';

/** How long CPUs wait at a barrier for the others before failing (a lost worker must not hang a run). */
const RENDEZVOUS_TIMEOUT_MS = 60_000;

export { SmpError };

export interface SmpRunResult {
  /** Measured: wall-clock milliseconds from dispatch to the last CPU's answer, on the main thread. */
  wallMs: number;
  /** Measured: each CPU's own milliseconds for its part. */
  cpuMs: number[];
  /** How many tasks (processes) of the run queue each CPU ran: it depends on how fast each ran. */
  cpuTasks: number[];
  /**
   * Measured: from the first CPU starting its accesses (after the barrier) to the last one finishing,
   * the time the simulated CPUs ran. wallMs - parallelMs is the harness's own cost (piscina dispatch,
   * waking the threads, returning and folding the counters), which is no part of the simulated machine.
   */
  parallelMs: number;
  accesses: number;
  failed: number;
  firstFailure: AccessRunResult['firstFailure'];
}

/** The worker module next to this one, and the Node flags a worker needs to load it. */
function workerEntry(): { filename: string; execArgv: string[] } {
  const ts = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(new URL(ts ? './cpu_worker.ts' : './cpu_worker.js', import.meta.url));
  const inherited = process.execArgv.filter((a) => !a.startsWith('--test'));
  const hasTsx = inherited.some((a, i) => a === 'tsx' && inherited[i - 1] === '--import') || inherited.includes('--import=tsx');
  return { filename, execArgv: ts && !hasTsx ? [...inherited, '--import', 'tsx'] : inherited };
}

/** CPU counts worth measuring on this machine: 1, 2, 4, ... up to the cores, and the core count. */
export function cpuCountsToMeasure(cores = availableParallelism()): number[] {
  const out: number[] = [];
  for (let n = 1; n <= cores; n *= 2) out.push(n);
  if (out[out.length - 1] !== cores) out.push(cores);
  return out;
}

export class CpuPool {
  readonly cpus: number;
  private readonly pool: Piscina<CpuTask, CpuTaskResult>;
  private attachedUid: string | null = null;
  private closed = false;

  private constructor(cpus: number) {
    this.cpus = cpus;
    const { filename, execArgv } = workerEntry();
    this.pool = new Piscina<CpuTask, CpuTaskResult>({
      filename, execArgv, minThreads: cpus, maxThreads: cpus, idleTimeout: 10 * 60_000, concurrentTasksPerWorker: 1,
      // The main thread's heap limit is not the workers' concern; keep their defaults.
    });
  }

  /** A pool of `cpus` simulated CPUs, every thread started and the worker module loaded. */
  static async start(cpus: number): Promise<CpuPool> {
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 64) throw new RangeError(`cpus must be a whole number from 1 to 64, got ${cpus}`);
    const p = new CpuPool(cpus);
    try {
      const r = await p.everyCpu((rendezvous) => ({ op: 'hello', rendezvous }));
      p.checkDistinct(r);
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  /**
   * Send one task to every CPU (they meet at a barrier first). If any fails, the others are stopped
   * through the abort word (when the caller gave one) and the first real failure is thrown as one line.
   */
  private async everyCpu(make: (rv: Rendezvous) => CpuTask, abort?: Int32Array): Promise<CpuTaskResult[]> {
    if (this.closed) throw new Error('BUG: the CPU pool is closed');
    const rv: Rendezvous = { barrier: new SharedArrayBuffer(4), parties: this.cpus, timeoutMs: RENDEZVOUS_TIMEOUT_MS };
    const settled = await Promise.allSettled(Array.from({ length: this.cpus }, () => this.pool.run(make(rv))));
    const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ cpu: i, e: s.reason as Error }] : []));
    if (failures.length > 0) {
      if (abort) Atomics.store(abort, 0, 1);
      const first = failures.find((f) => !(f.e instanceof SmpAborted) && !/another simulated CPU failed/.test(String(f.e?.message))) ?? failures[0]!;
      const msg = String(first.e?.message ?? first.e).split('\n')[0];
      throw new SmpError(`simulated CPU ${first.cpu} of ${this.cpus} failed: ${msg}`);
    }
    return settled.map((s) => (s as PromiseFulfilledResult<CpuTaskResult>).value);
  }

  private checkDistinct(r: CpuTaskResult[]): void {
    const ids = new Set(r.map((x) => x.threadId));
    if (ids.size !== this.cpus) throw new SmpError(`the pool ran ${this.cpus} CPU tasks on only ${ids.size} threads`);
  }

  /**
   * Every CPU attaches to `m` (prepared with smp_prepare): the shared buffers and a copy of its mms,
   * VMAs, files and design state. Again after any change to those (mmap, munmap, fork, exit).
   */
  async attach(m: Machine): Promise<void> {
    const image = machineImage(m);
    this.checkDistinct(await this.everyCpu((rendezvous) => ({ op: 'attach', rendezvous, image })));
    this.attachedUid = m.uid;
  }

  /**
   * Run a batch: `runqueue` holds one [from, to) pair of access indexes per task (a process's accesses,
   * run in order on one CPU); each CPU takes the next untaken task whenever it is free, as an idle CPU
   * pulls a runnable task. The CPUs' counters are added to `m` afterwards. Throws SmpError if a CPU
   * fails (the machine is then in a partial state).
   */
  async run(m: Machine, batch: AccessBatch, runqueue: number[]): Promise<SmpRunResult> {
    if (this.attachedUid !== m.uid) throw new Error('BUG: CpuPool.run on a machine the CPUs are not attached to');
    if (runqueue.length % 2 !== 0) throw new RangeError(`the run queue must hold [from, to) pairs, got ${runqueue.length} numbers`);
    Atomics.store(m.locks, 0, 0);
    const uid = m.uid;
    const next = new SharedArrayBuffer(4);
    const t0 = performance.now();
    const results = await this.everyCpu((rendezvous) => ({ op: 'run', rendezvous, uid, batch, runqueue, next }), m.locks);
    const wallMs = performance.now() - t0;
    this.checkDistinct(results);
    let accesses = 0;
    let failed = 0;
    let firstFailure: AccessRunResult['firstFailure'] = null;
    const cpuMs: number[] = [];
    const cpuTasks: number[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const r of results) {
      const x = r.run!;
      applyCpuDeltas(m, x.deltas);
      accesses += x.accesses;
      failed += x.failed;
      firstFailure ??= x.firstFailure;
      cpuMs.push(x.ms);
      cpuTasks.push(x.tasks);
      first = Math.min(first, x.start);
      last = Math.max(last, x.end);
    }
    return { wallMs, cpuMs, cpuTasks, parallelMs: last - first, accesses, failed, firstFailure };
  }

  /**
   * The host control on every CPU of the pool at once (src/smp/host_control.ts): the milliseconds of
   * the slowest thread (measured).
   */
  async hostControl(iterations = HOST_CONTROL_ITERATIONS): Promise<number> {
    const r = await this.everyCpu((rendezvous) => ({ op: 'control', rendezvous, iterations }));
    this.checkDistinct(r);
    return Math.max(...r.map((x) => x.controlMs!));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.destroy();
  }
}
