/** The results file's types (schema ptbench-results/1, schema/ptbench-results-1.schema.json) and the suites. */
import type { runEnvironment } from './env.js';
import type { TableCounts } from '../mm/accounting.js';
import type { LockClassStat } from '../mm/spinlock.js';
import type { PageSize, RegionKind } from '../workload/sga.js';
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

/** A timed task of `ptbench bench`, as the suites define it (src/harness/tasks.ts, controls.ts). */
export interface BenchTaskDef {
  /** e.g. "fault/shmem-write-seq". */
  name: string;
  design: string;
  /** What one operation is, for "<unit>/s". */
  unit: string;
  opsPerCall: number;
  /** A one-line description for the results file and the README. */
  what: string;
  /** Prepare state used by every call (not timed). */
  beforeAll(): void | Promise<void>;
  /** One timed call: returns the milliseconds of the measured part and of the whole call. */
  call(now: () => number): CallTime | Promise<CallTime>;
  afterAll(): void | Promise<void>;
  /** Deterministic counts of one call. */
  counts(): Record<string, number>;
  /** Figures of the last call that depend on how simulated CPUs interleaved (measured, not deterministic). */
  smp?(): SmpFigures;
}

export interface CallTime {
  measured: number;
  total: number;
}

/** What a scaling call saw beyond its time: faults taken, tables, and the lock statistics that explain the curve. */
export interface SmpFigures {
  cpus: number;
  faults: number;
  tablePages: number;
  locks: Record<string, LockClassStat>;
  /** Measured: the harness's own part of the last call (dispatch to the worker threads and back), left out of its time. */
  harnessMs?: number;
  /**
   * Measured, N > 1 CPUs: each call's speedup over a 1-CPU round of the same workload run just before
   * it (1-CPU time / N-CPU time), so both see the host in the same state (its speed drifts by up to 2x
   * over seconds on the 2-core VM, which a ratio of two tasks' medians taken minutes apart inherits).
   */
  pairedSpeedups?: number[];
  /** Measured, N > 1 CPUs: each call's host control (src/smp/host_control.ts) on the same two pools right after it. */
  hostSpeedups?: number[];
}

/** One memory scenario of `ptbench bench` (src/harness/memory_scenarios.ts). */
export interface MemScenarioResult {
  scenario: string;
  design: string;
  procs: number;
  kind: RegionKind;
  page: PageSize;
  bytes: number;
  /** Which engine produced the figures (both exact; absent in files written before the counting engine). */
  engine?: 'materialize' | 'count';
  /** Simulated, exact: distinct table pages machine-wide by level, and their bytes. */
  tables: TableCounts;
  pageTableBytes: number;
  sharedTables: number;
  /** pageTableBytes of `private` for the same scenario, and the saving against it (1 - this/private). */
  privateBytes: number;
  savingVsPrivate: number;
}
