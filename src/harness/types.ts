/** The results file's types (schema ptbench-results/1, schema/ptbench-results-1.schema.json) and the suites. */
import type { SmpFigures } from './tasks.js';
import type { runEnvironment } from './env.js';
import type { MemScenarioResult } from './memory_scenarios.js';
import type { KernelConfig } from '../mm/kernel_profile.js';

/** The kernel a results file's counts follow; files from before the PTI knob lack pti and the PGD fields. */
export type RecordedKernel = Pick<KernelConfig, 'profile' | 'ptReclaim'> & Partial<KernelConfig>;

export const RESULTS_SCHEMA = 'ptbench-results/1';

export const SUITES = ['default', 'fault', 'fork', 'mem', 'tlb', 'state', 'scaling'] as const;

export type Suite = (typeof SUITES)[number];

export interface TaskResultRecord {
  name: string;
  design: string;
  what: string;
  unit: string;
  opsPerCall: number;
  /** Measured: milliseconds per call (each call is one batch of opsPerCall operations). */
  latencyMs: { mean: number; p50: number; p75: number; p99: number; min: number; max: number; sd: number; rme: number; samples: number[] };
  /** Measured: operations per second, from the median call and from the mean call. */
  opsPerSec: { median: number; mean: number };
  calls: number;
  /** Simulated, deterministic: counts of one call. */
  counts: Record<string, number>;
  warnings: string[];
  /** Measured: the median call time of each process the task ran in (the process is the statistical unit). */
  processMediansMs?: number[];
  /**
   * Measured: the task's median rate over its control's, both measured in this run
   * (src/harness/controls.ts), with the goal for that ratio where there is one.
   */
  control?: { task: string; ratio: number; goal?: number };
  /** Scaling tasks: faults, tables and lock statistics of the last call (they depend on the CPUs' interleaving). */
  smp?: SmpFigures;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  date: string;
  environment: ReturnType<typeof runEnvironment>;
  config: { suite: Suite; designs: string[]; quick: boolean; seed: number; timeMs: number; warmupMs: number; minCalls: number; processes?: number; kernel?: RecordedKernel };
  tasks: TaskResultRecord[];
  memory: MemScenarioResult[];
}
