/**
 * V8 tuning for the simulator's hot paths, applied by the command line as it starts, before any hot
 * function is compiled (and so for every worker thread, which shares the process's flags).
 *
 * TurboFan inlines callees into one optimized function until their bytecode adds up to
 * --max-inlined-bytecode-size-cumulative (920 by default). A first-touch fault crosses some twenty
 * kernel-named functions (do_user_addr_fault ... handle_pte_fault, do_shared_fault,
 * filemap_add_folio, folio allocation, finish_fault, map_file_folio) of about 1,900 bytecodes, so by
 * default it compiled as three or four separately optimized functions that call each other. At
 * 3,000 the whole path compiles as one unit. Measured with `ptbench bench` tasks (5th-percentile
 * call, same build, alternating processes): shmem write faults 16.5-19.4 -> 26.7-26.9 M/s, anon
 * write faults 23.6 -> 30.6 M/s, random-order shmem faults 14.9 -> 19.8 M/s; the TLB model +5 %.
 * Counts do not change: the flag decides only how code is compiled. Results files record it
 * (environment.v8Flags).
 */
import v8 from 'node:v8';

export const V8_FLAGS: readonly string[] = ['--max-inlined-bytecode-size-cumulative=3000'];

const applied: string[] = [];

/** Set V8_FLAGS in this process (once). */
export function applyV8Flags(): void {
  if (applied.length > 0) return;
  for (const f of V8_FLAGS) {
    v8.setFlagsFromString(f);
    applied.push(f);
  }
}

/** The V8 flags this process runs with: those given to node and those applyV8Flags set. */
export function v8FlagsInEffect(): string[] {
  const given = process.execArgv.filter((a) => a.startsWith('--') && !a.startsWith('--import') && !a.startsWith('--test') && !a.startsWith('--experimental'));
  return [...given, ...applied];
}
