/**
 * The one rate every command and page prints for a timed task (bench, compare, history, report): the
 * median over the processes it ran in of each process's median call, as operations per second; with
 * one process, the median of its calls. The process is the unit (each has its own JIT and heap
 * state), so this is also what compare's test compares when both sides ran 3 or more processes.
 */
import { median } from 'simple-statistics';
import type { TaskResultRecord } from '../types.js';

export interface TaskRate {
  /** Operations per second (measured). */
  value: number;
  /** What `value` is the median of, in words. */
  statistic: 'median of process medians' | 'median call';
  /** How many processes or calls it is the median of. */
  n: number;
}

export function taskRate(t: Pick<TaskResultRecord, 'opsPerCall' | 'opsPerSec' | 'calls' | 'processMediansMs'>): TaskRate {
  const procs = t.processMediansMs ?? [];
  if (procs.length >= 2) return { value: (t.opsPerCall * 1000) / median(procs), statistic: 'median of process medians', n: procs.length };
  return { value: t.opsPerSec.median, statistic: 'median call', n: t.calls };
}
