import { RunFailed } from '../lib/run_failed.js';

/** A simulated CPU (worker thread) failed: the run is abandoned; the message is one line naming the CPU and the cause. */
export class SmpError extends RunFailed {
  override name = 'SmpError';
}
