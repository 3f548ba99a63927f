/**
 * `ptbench covary [TASK] [ROUNDS] [CALLS]` (= `npm run covary -- ...`): a task's calls interleaved
 * with the host control and an ALU loop in one process (src/harness/covary.ts).
 */
import { covary, covaryTask } from '../harness/covary.js';
import { posInt } from '../lib/size.js';

export const COVARY_HELP = `usage: ptbench covary [TASK] [ROUNDS] [CALLS]     (default fault/shmem-write-seq 30 100)

Alternates ROUNDS of (CALLS calls of a bench task, 5 runs of the host control, 5 ALU loops) in one
process and prints each round's median rate beside the control's and the ALU loop's times (all measured).
`;

export async function covaryMain(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(COVARY_HELP);
    return 0;
  }
  const task = covaryTask(argv[0] ?? 'fault/shmem-write-seq');
  await covary(task, posInt(argv[1], 'ROUNDS', 30), posInt(argv[2], 'CALLS', 100), (line) => process.stdout.write(`${line}\n`));
  return 0;
}
