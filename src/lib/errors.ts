/**
 * The errors every layer above mm raises, in one place: bad input (UsageError and its kinds) gives
 * one line and exit 2; a run that failed for another reason (RunFailed) gives one line and exit 1.
 * The model's own errno-style errors are src/mm/errno.ts.
 */

/** Bad input on the command line or in a file: one line, an errno-style code first (EINVAL unless said). */
export class UsageError extends Error {
  readonly code: string;
  constructor(message: string, code = 'EINVAL') {
    super(`${code}: ${message}`);
    this.name = 'UsageError';
    this.code = code;
  }
}

/** A malformed or truncated line: names the line and what was expected. */
export class TraceError extends UsageError {}

/**
 * A run failed for a reason that is not bad input (a simulated CPU or a benchmark task's process
 * failed): the CLI prints the one-line message and exits 1, and no results file is written.
 */
export class RunFailed extends Error {
  override name = 'RunFailed';
}

/** A simulated CPU (worker thread) failed: the run is abandoned; the message is one line naming the CPU and the cause. */
export class SmpError extends RunFailed {
  override name = 'SmpError';
}
