/**
 * `ptbench matrix` (= `npm run matrix`, which writes docs/semantics-matrix.md): what a change by one
 * process does to its sharers under each design, observed on the machine (simulated), as markdown or JSON.
 */
import { parseOptions } from '../lib/cli_args.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from '../mm/kernel_profile.js';
import { renderMatrixMarkdown, semanticsMatrix, stateMatrix } from '../workload/semantics_matrix.js';

export const MATRIX_HELP = `usage: ptbench matrix [--kernel NAME] [--pt-reclaim on|off] [--json]   (npm run matrix writes docs/semantics-matrix.md)

Two processes share a mapping the way each design shares it; one makes a change (mprotect, munmap of
part, uffd-wp registration, soft-dirty clear, MADV_DONTNEED) and the matrix says what happened to the
other, with the TLB flushes it cost, plus the per-process state rows. Every cell is simulated.

${kernelHelp(15)}
  --json       print the cells as JSON instead of markdown
`;

export function matrixMain(argv: string[]): number {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: { json: { type: 'boolean', default: false }, ...KERNEL_OPTIONS, help: { type: 'boolean', short: 'h', default: false } },
  });
  if (values.help) {
    process.stdout.write(MATRIX_HELP);
    return 0;
  }
  const kernel = kernelFromOptions(values);
  const cells = semanticsMatrix(undefined, kernel);
  const state = stateMatrix(undefined, kernel);
  process.stdout.write(values.json ? `${JSON.stringify({ kernel, changes: cells, state }, null, 2)}\n` : renderMatrixMarkdown(cells, state, kernel));
  return 0;
}
