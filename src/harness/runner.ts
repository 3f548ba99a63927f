/**
 * The bench runner: each timed task runs in fresh Node processes (tinybench inside), their calls are
 * pooled into one record, and a suite is the tasks whose names it selects.
 */
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { Bench } from 'tinybench';
import { RunFailed } from '../lib/errors.js';
import { fileStamp } from '../lib/format.js';
import { inDefaultSuite, timedTasks } from './tasks.js';
import type { BenchTaskDef } from './types.js';
import { CONTROL_OF, controlOf } from './controls.js';
import { designByName } from '../share/index.js';
import type { Suite, TaskResultRecord } from './types.js';
import { median } from 'simple-statistics';
import type { PtShareDesign } from '../mm/pt_share.js';
import type { SmpRow } from './table.js';
import type { KernelConfig } from '../mm/kernel_profile.js';

async function runTask(def: BenchTaskDef, timeMs: number, warmupMs: number, minCalls: number, signal: AbortSignal): Promise<TaskResultRecord> {
  const warnings: string[] = [];
  const bench = new Bench({
    time: timeMs, warmupTime: warmupMs, iterations: minCalls, warmupIterations: 2,
    throws: true, retainSamples: true, timestampProvider: 'hrtimeNow', signal,
  });
  const now = () => bench.now();
  // Each call yields to the event loop once, after its measured part, so Ctrl-C (SIGINT) is seen
  // within one call instead of at the end of the suite. The yield is outside overriddenDuration.
  bench.add(`${def.name} [${def.design}]`, async () => {
    const { measured, total } = await def.call(now);
    await new Promise<void>((res) => setImmediate(res));
    return { overriddenDuration: measured, overriddenIterationCost: total };
  }, { async: true, beforeAll: async () => { await def.beforeAll(); }, afterAll: async () => { await def.afterAll(); } });
  bench.addEventListener('warning', (e) => { warnings.push(String((e as unknown as { warning?: unknown }).warning ?? e.type)); });
  const [task] = await bench.run();
  const r = task!.result;
  if (r.state !== 'completed') {
    if (r.state === 'aborted' || r.state === 'aborted-with-statistics') throw new Interrupted();
    throw new Error(`${def.name} [${def.design}] did not complete: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
  }
  const l = r.latency;
  return {
    name: def.name, design: def.design, what: def.what, unit: def.unit, opsPerCall: def.opsPerCall,
    latencyMs: { mean: l.mean, p50: l.p50, p75: l.p75, p99: l.p99, min: l.min, max: l.max, sd: l.sd, rme: l.rme, samples: [...(l.samples ?? [])] },
    opsPerSec: { median: def.opsPerCall / (l.p50 / 1000), mean: def.opsPerCall / (l.mean / 1000) },
    calls: l.samplesCount,
    counts: def.counts(),
    ...(def.smp ? { smp: def.smp() } : {}),
    warnings,
  };
}

export class Interrupted extends Error {}

/**
 * Call times a results file keeps per task. A task of 1 ms calls makes ~3 million calls in 5
 * processes: kept whole, one default run wrote ~110 MB (`JSON.stringify` puts a number a line).
 */
export const MAX_KEPT_SAMPLES = 5000;

/**
 * The call times a results file keeps: all of them up to MAX_KEPT_SAMPLES, else MAX_KEPT_SAMPLES
 * evenly spaced in call order (call floor(i * n / MAX_KEPT_SAMPLES) for i = 0, 1, ...), so the kept
 * ones still span the whole run, each rounded to 6 significant digits. The summary statistics are
 * computed from every call, unrounded, before this.
 */
export function keptSamples(samples: readonly number[]): number[] {
  const n = samples.length;
  // 6 significant digits (a microsecond in a second-long call) keep a default run's file under 1 MB.
  const round = (ms: number) => Number(ms.toPrecision(6));
  if (n <= MAX_KEPT_SAMPLES) return samples.map(round);
  return Array.from({ length: MAX_KEPT_SAMPLES }, (_, i) => round(samples[Math.floor((i * n) / MAX_KEPT_SAMPLES)]!));
}

/**
 * One record from the runs of a task in several processes: all calls pooled for the summary (`calls`
 * counts them all), at most MAX_KEPT_SAMPLES of them kept as `samples`, and each process's median
 * call time kept as processMediansMs for compare.
 */
export function combineProcesses(runs: TaskResultRecord[]): TaskResultRecord {
  const first = runs[0]!;
  if (runs.length === 1) return { ...first, latencyMs: { ...first.latencyMs, samples: keptSamples(first.latencyMs.samples) }, processMediansMs: [first.latencyMs.p50] };
  const pooled = runs.flatMap((r) => r.latencyMs.samples);
  const all = [...pooled].sort((a, b) => a - b);
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * (all.length - 1)))]!;
  const mean = all.reduce((a, b) => a + b, 0) / all.length;
  const sd = Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, all.length - 1));
  const p50 = q(0.5);
  return {
    ...first,
    latencyMs: { mean, p50, p75: q(0.75), p99: q(0.99), min: all[0]!, max: all[all.length - 1]!, sd, rme: (100 * 1.96 * sd) / Math.sqrt(all.length) / mean, samples: keptSamples(pooled) },
    opsPerSec: { median: (first.opsPerCall * 1000) / p50, mean: (first.opsPerCall * 1000) / mean },
    calls: all.length,
    warnings: runs.flatMap((r) => r.warnings),
    processMediansMs: runs.map((r) => r.latencyMs.p50),
    ...(first.smp?.pairedSpeedups ? { smp: { ...first.smp, pairedSpeedups: runs.flatMap((r) => r.smp?.pairedSpeedups ?? []), hostSpeedups: runs.flatMap((r) => r.smp?.hostSpeedups ?? []) } } : {}),
  };
}

/** What a child process needs to rebuild one task. */
export interface TaskSpec { name: string; design: string; seed: number; quick: boolean; timeMs: number; warmupMs: number; minCalls: number; kernel: KernelConfig }

function findTask(spec: TaskSpec): BenchTaskDef {
  const def = timedTasks([designByName(spec.design)], spec.seed, spec.quick, spec.kernel).find((t) => t.name === spec.name);
  if (!def) throw new Error(`no task '${spec.name}' for design ${spec.design}`);
  return def;
}

/**
 * Each timed task runs in a fresh Node process (the process is the statistical unit, as in pyperf
 * and hyperfine): tasks measured one after another in one process inherit each other's JIT and heap
 * state, which moved results by 15-30 % here. The child uses the same Node flags (e.g. the tsx loader).
 */
export function runTaskIsolated(spec: TaskSpec, signal: AbortSignal): Promise<TaskResultRecord> {
  return new Promise((resolveP, rejectP) => {
    const child = fork(process.argv[1]!, ['bench-task', JSON.stringify(spec)], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let record: TaskResultRecord | null = null;
    let failure: string | null = null;
    const onAbort = () => child.kill('SIGINT');
    signal.addEventListener('abort', onAbort, { once: true });
    child.on('message', (msg: { record?: TaskResultRecord; error?: string }) => {
      if (msg.record) record = msg.record;
      if (msg.error) failure = msg.error;
    });
    child.on('exit', (code) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) rejectP(new Interrupted());
      else if (record !== null && code === 0) resolveP(record);
      else rejectP(new RunFailed(`${spec.name} [${spec.design}] failed in its process (exit ${code})${failure ? `: ${failure.split('\n')[0]}` : ''}; no results file written`));
    });
  });
}

/** The child side: `ptbench bench-task <spec>` runs one task and sends its record to the parent. */
export async function benchTaskMain(argv: string[]): Promise<number> {
  const spec = JSON.parse(argv[0] ?? '{}') as TaskSpec;
  const ac = new AbortController();
  process.on('SIGINT', () => ac.abort());
  try {
    const record = await runTask(findTask(spec), spec.timeMs, spec.warmupMs, spec.minCalls, ac.signal);
    await new Promise<void>((res) => process.send!({ record }, () => res()));
    return 0;
  } catch (e) {
    if (e instanceof Interrupted) return 130;
    await new Promise<void>((res) => process.send!({ error: e instanceof Error ? e.message : String(e) }, () => res()));
    return 1;
  }
}

/**
 * Where a run's results go unless --out says: results/<time to the millisecond>-<commit>[-dirty]-<pid>.json.
 * Two runs started at once differ in pid, and bench creates the file exclusively, so neither is lost.
 */
export function defaultResultsPath(repo: string, commit: string | null, dirty: boolean | null, date: Date, pid = process.pid): string {
  return resolve(repo, 'results', `${fileStamp(date, true)}-${commit ? commit.slice(0, 10) : 'nogit'}${dirty ? '-dirty' : ''}-${pid}.json`);
}

/** The timed tasks of a suite, for these designs, with the controls of the tasks it holds (controls.ts). */
export function suiteTasks(suite: Suite, designs: readonly PtShareDesign[], seed: number, quick: boolean, kernel: KernelConfig): BenchTaskDef[] {
  const inSuite = (name: string) => (suite === 'fault' && (name.startsWith('fault/') || name.startsWith('sga/'))) || (suite === 'fork' && name.startsWith('fork/'))
    || (suite === 'mem' && name.startsWith('count/')) || (suite === 'tlb' && name.startsWith('tlb/'))
    || (suite === 'state' && (name.startsWith('reclaim/') || name.startsWith('pagemap/'))) || (suite === 'scaling' && name.startsWith('scaling/'));
  // A control runs with the tasks it bounds; a bare-work control with its own control's.
  const bounds = (control: string) => CONTROL_OF.some(([prefix, c]) => (c === control || c === controlOf(control)) && inSuite(prefix));
  return timedTasks(designs, seed, quick, kernel).filter((t) => (suite === 'default' ? inDefaultSuite(t) : inSuite(t.name) || bounds(t.name)));
}

/** One task run in `processes` fresh processes, one after another, combined into one record. */
export async function runTaskInProcesses(spec: TaskSpec, processes: number, signal: AbortSignal): Promise<TaskResultRecord> {
  const runs: TaskResultRecord[] = [];
  for (let k = 0; k < processes; k++) runs.push(await runTaskIsolated(spec, signal));
  return combineProcesses(runs);
}

/** The scaling table's rows from the scaling tasks' records (speedups paired per call, see SmpFigures). */
export function scalingRows(scaling: readonly TaskResultRecord[]): SmpRow[] {
  return scaling.map((t) => {
    const one = scaling.find((u) => u.design === t.design && u.smp!.cpus === 1);
    const paired = t.smp!.pairedSpeedups ?? [];
    const host = t.smp!.hostSpeedups ?? [];
    return {
      design: t.design, cpus: t.smp!.cpus, runMs: t.latencyMs.p50, harnessMs: t.smp!.harnessMs ?? 0, accessesPerSec: t.opsPerSec.median,
      speedup: paired.length > 0 ? median(paired) : t.smp!.cpus === 1 && one ? 1 : null, speedupOfMedians: one ? t.opsPerSec.median / one.opsPerSec.median : null,
      hostSpeedup: host.length > 0 ? median(host) : null,
      accesses: t.opsPerCall, faults: t.smp!.faults, tablePages: t.smp!.tablePages, locks: t.smp!.locks, equalsSingleThreaded: null,
    };
  });
}
