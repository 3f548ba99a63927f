/**
 * A run failed for a reason that is not bad input (a simulated CPU or a benchmark task's process
 * failed): the CLI prints the one-line message and exits 1, and no results file is written.
 */
export class RunFailed extends Error {
  override name = 'RunFailed';
}
