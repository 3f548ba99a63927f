/**
 * Does a timed task's rate follow the host? Alternates, in one process, ROUNDS of (CALLS calls of a
 * `ptbench bench` task, then 5 runs of the host control: src/smp/host_control.ts, random
 * read-modify-writes over a private 8 MiB array, no simulator code), and prints each round's median
 * rate beside the control's median time and a pure-ALU loop's. On the 2-core development VM the
 * ALU loop stays put while the control moves by up to 5x in phases of seconds, and the fault rates
 * move with the control: that is the host's memory system, not the simulator.
 *
 *   npm run covary -- [TASK] [ROUNDS] [CALLS]      (default fault/shmem-write-seq 30 100)
 *
 * Everything printed is measured. A bad task name or count is a one-line error and exit status 2
 * (the command line's own reporting, src/cli/errors.ts).
 */
import { median } from 'simple-statistics';
import { reportAndExit } from '../src/cli/errors.js';
import { applyV8Flags } from '../src/lib/v8_flags.js';
import { posInt, UsageError } from '../src/lib/size.js';
import { hostControlRun, HOST_CONTROL_ITERATIONS } from '../src/smp/host_control.js';
import { privateDesign } from '../src/share/private.js';
import { timedTasks, type BenchTaskDef } from './tasks.js';

applyV8Flags();

/** A loop that touches no memory: its time moves only with the CPU's clock. */
function aluMs(n: number): number {
  let x = 1;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  const ms = performance.now() - t0;
  if (x === 42) process.stdout.write(''); // keep x alive
  return ms;
}

async function main(argv: string[]): Promise<void> {
  const tasks = timedTasks([privateDesign], 1, false).filter((t) => !t.name.startsWith('scaling/'));
  const name = argv[0] ?? 'fault/shmem-write-seq';
  const task: BenchTaskDef | undefined = tasks.find((t) => t.name === name);
  if (task === undefined) throw new UsageError(`TASK: '${name}' is not a task; use one of ${tasks.map((t) => t.name).join(', ')}`);
  const rounds = posInt(argv[1], 'ROUNDS', 30);
  const calls = posInt(argv[2], 'CALLS', 100);
  await task.beforeAll();
  const now = () => performance.now();
  process.stdout.write(`${task.name} [private]: ${rounds} rounds of ${calls} calls, each followed by 5 host-control runs (${HOST_CONTROL_ITERATIONS} random read-modify-writes over 8 MiB) and 5 ALU loops (all measured)\n`);
  process.stdout.write(`round   ${task.unit}/s (median call)   host control ms   ALU loop ms\n`);
  for (let k = 0; k < rounds; k++) {
    const t: number[] = [];
    for (let i = 0; i < calls; i++) t.push((await task.call(now)).measured);
    const h: number[] = [];
    for (let i = 0; i < 5; i++) h.push(hostControlRun(HOST_CONTROL_ITERATIONS));
    const a: number[] = [];
    for (let i = 0; i < 5; i++) a.push(aluMs(1 << 24));
    const rate = (task.opsPerCall / median(t)) * 1000;
    process.stdout.write(`${String(k + 1).padStart(5)}   ${(rate / 1e6).toFixed(2).padStart(10)} M   ${median(h).toFixed(2).padStart(15)}   ${median(a).toFixed(2).padStart(11)}\n`);
  }
  await task.afterAll();
}

main(process.argv.slice(2)).catch(reportAndExit);
