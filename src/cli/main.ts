#!/usr/bin/env node
/** ptbench: the command line. */
import { applyV8Flags } from '../lib/v8_flags.js';
import { RunFailed, UsageError } from '../lib/errors.js';
import { KernelError } from '../mm/errno.js';
import { memMain } from './mem.js';
import { guardStream, printable } from '../lib/terminal.js';

const HELP = `usage: ptbench <command> [options]

commands:
  mem      page-table memory of a scenario (simulated, exact)
  run      your own workload: a scenario file's timeline under every design (simulated, exact)
  capture  a live process (tree) from /proc: its VmPTE predicted vs the kernel's, and under every design
  bench    timing suites (measured) and memory scenarios (simulated), written to results/
  compare  two runs side by side: timings with statistics, deterministic counts exactly
  history  every run over git history: per task a chart over commits, the steps, count changes
  sweep    page-table memory over process counts x sizes for every design (counting engine)
  chart    page-table memory against process count per design (terminal or --html)
  report   one self-contained HTML page: memory by design, timings over commits, latest comparison
  export   a results file for other tools (--format github-action-benchmark)
  matrix   what a change by one process does to its sharers, per design (markdown, or --json)
  validate the simulator's page-table memory against the running Linux kernel (a C probe)
  tlb      TLB misses, page walks and shootdowns per design (simulated), or replay a lackey trace
  reclaim  reclaim of shared shmem pages and pagemap of swapped pages, per design and variant (simulated)
  smp      the database workload on 1, 2, ... simulated CPUs (worker threads): scaling and lock statistics
  covary   a bench task's rate beside the host control and an ALU loop, round by round (measured)

Run 'ptbench <command> --help' for its options; 'ptbench --version' for the version.
`;

/** One place that turns bad input into one line on stderr and exit status 2. */
function isUserError(e: unknown): e is Error {
  if (e instanceof UsageError || e instanceof KernelError) return true;
  // node:util parseArgs reports unknown or malformed options with these codes.
  const code = (e as { code?: string } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** A parseArgs error in one line: the option and what would be right. */
function parseArgsLine(e: Error, cmd: string): string {
  // "Option '--procs' argument is ambiguous. Did you forget ...": a value that starts with a dash.
  const ambiguous = /^Option '(--?[\w-]+)(?:, -\w)?' argument is ambiguous/.exec(e.message) ?? /^Option '-\w, (--[\w-]+)' argument is ambiguous/.exec(e.message);
  if (ambiguous) return `EINVAL: ${ambiguous[1]}: its value starts with '-' and reads as an option; write ${ambiguous[1]}=VALUE to give such a value, or give the value the option takes (see 'ptbench ${cmd} --help')`;
  return `EINVAL: ${e.message.split('. ')[0]}; see 'ptbench ${cmd} --help'`;
}

/** File-system errors no command turned into a UsageError (a full disk, a read-only mount): one line naming the file. */
const FS_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'EEXIST', 'ENOENT', 'EMFILE', 'ENFILE', 'EIO', 'ELOOP', 'ENAMETOOLONG']);
function fsErrorLine(e: unknown): string | null {
  const x = e as NodeJS.ErrnoException | null;
  if (x === null || typeof x !== 'object' || typeof x.code !== 'string' || typeof x.syscall !== 'string' || !FS_CODES.has(x.code)) return null;
  return `${x.code}: ${x.syscall} ${x.path ?? ''}: ${x.message.replace(/^[A-Z]+: /, '').replace(/,.*$/, '')}; check the path and the space on its file system`;
}

function reportAndExit(e: unknown): never {
  if (isUserError(e)) {
    // parseArgs errors have no errno-style prefix of their own.
    const cmd = process.argv[2] ?? '';
    const msg = e instanceof UsageError || e instanceof KernelError ? e.message : parseArgsLine(e, cmd);
    process.stderr.write(`ptbench: error: ${printable(msg.split('\n')[0]!)}\n`);
    process.exit(2);
  }
  const fs = fsErrorLine(e);
  if (fs !== null) {
    process.stderr.write(`ptbench: error: ${printable(fs)}\n`);
    process.exit(2);
  }
  if (e instanceof RunFailed) {
    // A simulated CPU or a task's process failed (e.g. ENOMEM in a CPU's fault path): one line, no results written.
    process.stderr.write(`ptbench: error: ${printable(e.message.split('\n')[0]!)}\n`);
    process.exit(1);
  }
  process.stderr.write(`ptbench: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'mem':
      return memMain(rest);
    case 'run': {
      const { runMain } = await import('./run.js');
      return runMain(rest);
    }
    case 'capture': {
      const { captureMain } = await import('./capture.js');
      return captureMain(rest);
    }
    case 'bench': {
      const { benchMain } = await import('./bench.js');
      return benchMain(rest);
    }
    case 'compare': {
      const { compareMain } = await import('./compare.js');
      return compareMain(rest);
    }
    case 'report': {
      const { reportMain } = await import('./report.js');
      return reportMain(rest);
    }
    case 'history': {
      const { historyMain } = await import('./history.js');
      return historyMain(rest);
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
    case 'covary': {
      const { covaryMain } = await import('./covary.js');
      return covaryMain(rest);
    }
    case 'export': {
      const { exportMain } = await import('./export.js');
      return exportMain(rest);
    }
    case 'matrix': {
      const { matrixMain } = await import('./matrix.js');
      return matrixMain(rest);
    }
    case 'bench-task': {
      // Internal: one timed task in its own process, started by `ptbench bench`.
      const { benchTaskMain } = await import('../harness/runner.js');
      return benchTaskMain(rest);
    }
    case '--version':
    case '-V':
    case 'version': {
      const { readFileSync } = await import('node:fs');
      const { repoFile } = await import('../lib/repo_file.js');
      const pkg = JSON.parse(readFileSync(repoFile('package.json'), 'utf8')) as { version: string };
      process.stdout.write(`ptbench ${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`ptbench: error: EINVAL: unknown command '${printable(cmd)}'; commands: mem, run, capture, bench, compare, history, sweep, chart, report, export, matrix, validate, tlb, reclaim, smp, covary (see ptbench --help)\n`);
      return 2;
  }
}

// Before any command runs, so every hot path compiles with these settings (src/lib/v8_flags.ts).
applyV8Flags();
// A reader that stops early (`ptbench sweep | head`) closes the pipe: stop quietly, as other tools do.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
// Text output never carries a user's escape sequences to the terminal (src/lib/terminal.ts); --json is
// JSON.stringify's, which escapes control characters itself.
if (!process.argv.includes('--json')) guardStream(process.stdout);
guardStream(process.stderr);
main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, reportAndExit);
