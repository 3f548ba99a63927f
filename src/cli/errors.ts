/** One place that turns bad input into one line on stderr and exit status 2. */
import { RunFailed } from '../lib/run_failed.js';
import { KernelError } from '../kernel/errno.js';
import { UsageError } from '../lib/size.js';

export function isUserError(e: unknown): e is Error {
  if (e instanceof UsageError || e instanceof KernelError) return true;
  // node:util parseArgs reports unknown or malformed options with these codes.
  const code = (e as { code?: string } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export function reportAndExit(e: unknown): never {
  if (isUserError(e)) {
    // parseArgs errors have no errno-style prefix of their own.
    const msg = e instanceof UsageError || e instanceof KernelError ? e.message : `EINVAL: ${e.message}`;
    process.stderr.write(`ptbench: error: ${msg.split('\n')[0]}\n`);
    process.exit(2);
  }
  if (e instanceof RunFailed) {
    // A simulated CPU or a task's process failed (e.g. ENOMEM in a CPU's fault path): one line, no results written.
    process.stderr.write(`ptbench: error: ${e.message.split('\n')[0]}\n`);
    process.exit(1);
  }
  process.stderr.write(`ptbench: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
}
