/**
 * The host control: how much parallel work the host gives the worker threads right now, measured
 * with work that shares nothing. Each thread makes the same number of random read-modify-writes over
 * its own 8 MiB array (bigger than a core's L2 here, so it waits on memory much as a simulated fault
 * does), and N threads doing N times the work of one, in the same time, is a speedup of N.
 *
 * Why: on the 2-core VM the host's speed drifts (a round of the scaling workload took 17 ms or 30 ms
 * on one pinned CPU, in phases of a second or so), and at times the two CPUs run at about half speed
 * each when both are busy. A scaling figure is only readable beside what the host gave at the time;
 * `ptbench smp` and the scaling suite run this control in the same turns as the workload.
 */

/** Random read-modify-writes per thread per control run. */
export const HOST_CONTROL_ITERATIONS = 1 << 20;

const WORDS = 2 * 2 ** 20; // 8 MiB of Int32
let scratch: Int32Array | null = null;
let seed = 12345;

/** One thread's part: `iterations` random read-modify-writes over this thread's array; the milliseconds it took. */
export function hostControlRun(iterations: number): number {
  const a = (scratch ??= new Int32Array(WORDS));
  let x = seed;
  let s = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    x = (Math.imul(x, 1103515245) + 12345) & 0x7fffffff;
    const j = x & (WORDS - 1);
    s = (s + a[j]!) | 0;
    a[j] = s;
  }
  const ms = performance.now() - t0;
  seed = x;
  return ms;
}

/** The speedup the host gave `cpus` threads: cpus x the 1-thread time over the time of the slowest of the `cpus` threads. */
export function hostSpeedup(cpus: number, oneThreadMs: number, slowestThreadMs: number): number {
  return (cpus * oneThreadMs) / slowestThreadMs;
}
