/**
 * `ptbench covary`: does a timed task's rate follow the host? Alternates, in one process, ROUNDS of (CALLS calls of a
 * `ptbench bench` task, then 5 runs of the host control: src/smp/host_control.ts, random
 * read-modify-writes over a private 8 MiB array, no simulator code), and prints each round's median
 * rate beside the control's median time and a pure-ALU loop's. On the 2-core development VM the
 * ALU loop stays put while the control moves by up to 5x in phases of seconds, and the fault rates
 * move with the control: that is the host's memory system, not the simulator.
 *
 * Everything printed is measured. A bad task name is a UsageError (one line, exit 2).
 */
import { median } from 'simple-statistics';
import { hostControlRun, HOST_CONTROL_ITERATIONS } from '../smp/host_control.js';
import { privateDesign } from '../share/private.js';
import { timedTasks } from './tasks.js';
import type { BenchTaskDef } from './types.js';
import { UsageError } from '../lib/errors.js';

/** A loop that touches no memory: its time moves only with the CPU's clock. */
function aluMs(n: number): number {
  let x = 1;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  const ms = performance.now() - t0;
  if (x === 42) process.stdout.write(''); // keep x alive
  return ms;
}

/** The task `name` of the private design, or a UsageError listing the tasks covary can run. */
export function covaryTask(name: string): BenchTaskDef {
  const tasks = timedTasks([privateDesign], 1, false).filter((t) => !t.name.startsWith('scaling/'));
  const task: BenchTaskDef | undefined = tasks.find((t) => t.name === name);
  if (task === undefined) throw new UsageError(`TASK: '${name}' is not a task; use one of ${tasks.map((t) => t.name).join(', ')}`);
  return task;
}

export async function covary(task: BenchTaskDef, rounds: number, calls: number, say: (line: string) => void): Promise<void> {
  await task.beforeAll();
  const now = () => performance.now();
  say(`${task.name} [private]: ${rounds} rounds of ${calls} calls, each followed by 5 host-control runs (${HOST_CONTROL_ITERATIONS} random read-modify-writes over 8 MiB) and 5 ALU loops (all measured)`);
  say(`round   ${task.unit}/s (median call)   host control ms   ALU loop ms`);
  for (let k = 0; k < rounds; k++) {
    const t: number[] = [];
    for (let i = 0; i < calls; i++) t.push((await task.call(now)).measured);
    const h: number[] = [];
    for (let i = 0; i < 5; i++) h.push(hostControlRun(HOST_CONTROL_ITERATIONS));
    const a: number[] = [];
    for (let i = 0; i < 5; i++) a.push(aluMs(1 << 24));
    const rate = (task.opsPerCall / median(t)) * 1000;
    say(`${String(k + 1).padStart(5)}   ${(rate / 1e6).toFixed(2).padStart(10)} M   ${median(h).toFixed(2).padStart(15)}   ${median(a).toFixed(2).padStart(11)}`);
  }
  say('how to read it: if the task\'s rate falls in the rounds where the host control and the ALU loop take longer, the host (frequency, a neighbour) moved it, not the code; a rate that moves alone is the task\'s own variance');
  await task.afterAll();
}
