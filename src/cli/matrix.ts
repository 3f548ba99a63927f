/**
 * `ptbench matrix` (= `npm run matrix`): what a change by one process does to its sharers under each
 * design, observed on the machine (simulated), as markdown or JSON, on stdout or --out FILE (atomic).
 */
import { parseOptions } from '../lib/cli_args.js';
import { checkWritable, writeTextAtomic } from '../harness/write.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';
import { renderMatrixMarkdown, semanticsMatrix, stateMatrix } from '../workload/semantics_matrix.js';

export const MATRIX_HELP = `usage: ptbench matrix [--kernel NAME] [--pt-reclaim on|off] [--json] [--out FILE]   (npm run matrix -- ...)

Two processes share a mapping the way each design shares it; one makes a change (mprotect, munmap of
part, uffd-wp registration, soft-dirty clear, MADV_DONTNEED) and the matrix says what happened to the
other, with the TLB flushes it cost, plus the per-process state rows. Every cell is simulated.

${kernelHelp(15)}
  --json       print the cells as JSON instead of markdown
  --out FILE   write to FILE (through a temporary file, so a failed run leaves it as it was)
               instead of stdout; docs/semantics-matrix.md is 'ptbench matrix --out docs/semantics-matrix.md'
`;

export function matrixMain(argv: string[]): number {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: { json: { type: 'boolean', default: false }, out: { type: 'string' }, ...KERNEL_OPTIONS, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(MATRIX_HELP);
    return 0;
  }
  const kernel = kernelFromOptions(values);
  const out = values.out === undefined ? null : checkWritable(values.out, '--out');
  const cells = semanticsMatrix(undefined, kernel);
  const state = stateMatrix(undefined, kernel);
  const text = values.json ? `${JSON.stringify({ kernel, changes: cells, state }, null, 2)}\n` : renderMatrixMarkdown(cells, state, kernel);
  if (out === null) process.stdout.write(text);
  else {
    writeTextAtomic(out, text);
    process.stdout.write(`matrix written to ${values.out}\n`);
  }
  return 0;
}
