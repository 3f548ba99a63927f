#!/usr/bin/env node
/** ptbench: the command line. */
import { applyV8Flags } from '../lib/v8_flags.js';
import { reportAndExit } from './errors.js';
import { memMain } from './mem.js';

const HELP = `usage: ptbench <command> [options]

commands:
  mem      page-table memory of a scenario (simulated, exact)
  bench    timing suites (measured) and memory scenarios (simulated), written to results/
  compare  two runs side by side: timings with statistics, deterministic counts exactly
  sweep    page-table memory over process counts x sizes for every design (counting engine)
  chart    page-table memory against process count per design (terminal or --html)
  export   a results file for other tools (--format github-action-benchmark)
  matrix   what a change by one process does to its sharers, per design (markdown, or --json)
  validate the simulator's page-table memory against the running Linux kernel (a C probe)
  tlb      TLB misses, page walks and shootdowns per design (simulated), or replay a lackey trace
  reclaim  reclaim of shared shmem pages and pagemap of swapped pages, per design and variant (simulated)
  smp      the database workload on 1, 2, ... simulated CPUs (worker threads): scaling and lock statistics

Run 'ptbench <command> --help' for its options.
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'mem':
      return memMain(rest);
    case 'bench': {
      const { benchMain } = await import('./bench.js');
      return benchMain(rest);
    }
    case 'compare': {
      const { compareMain } = await import('./compare.js');
      return compareMain(rest);
    }
    case 'sweep': {
      const { sweepMain } = await import('./sweep.js');
      return sweepMain(rest);
    }
    case 'tlb': {
      const { tlbMain } = await import('./tlb.js');
      return tlbMain(rest);
    }
    case 'reclaim': {
      const { reclaimMain } = await import('./reclaim.js');
      return reclaimMain(rest);
    }
    case 'smp': {
      const { smpMain } = await import('./smp.js');
      return smpMain(rest);
    }
    case 'validate': {
      const { validateMain } = await import('./validate.js');
      return validateMain(rest);
    }
    case 'chart': {
      const { chartMain } = await import('./chart.js');
      return chartMain(rest);
    }
    case 'export': {
      const { exportMain } = await import('./export.js');
      return exportMain(rest);
    }
    case 'matrix': {
      // The semantics matrix of the sharing designs, as markdown (docs/semantics-matrix.md) or JSON.
      const { semanticsMatrix, stateMatrix, renderMatrixMarkdown } = await import('../semantics/matrix.js');
      const cells = semanticsMatrix();
      const state = stateMatrix();
      process.stdout.write(rest.includes('--json') ? `${JSON.stringify({ changes: cells, state }, null, 2)}\n` : renderMatrixMarkdown(cells, state));
      return 0;
    }
    case 'bench-task': {
      // Internal: one timed task in its own process, started by `ptbench bench`.
      const { benchTaskMain } = await import('./bench.js');
      return benchTaskMain(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`ptbench: error: EINVAL: unknown command '${cmd}'; commands: mem, bench, compare, sweep, chart, export, matrix, validate, tlb, reclaim, smp (see ptbench --help)\n`);
      return 2;
  }
}

// Before any command runs, so every hot path compiles with these settings (src/lib/v8_flags.ts).
applyV8Flags();
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, reportAndExit);
