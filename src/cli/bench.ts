/**
 * `ptbench bench` (= `npm run bench`): timing suites measured with tinybench, and the memory scenarios
 * (simulated, exact), written to one results file in results/.
 */
import { fork } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { median } from 'simple-statistics';
import { Bench } from 'tinybench';
import { RunFailed } from '../lib/run_failed.js';
import { renderScalingTable, type SmpRow } from './smp.js';
import { inDefaultSuite, timedTasks, type BenchTaskDef, type SmpFigures } from '../../bench/tasks.js';
import { int } from '../lib/format.js';
import { intInRange, UsageError } from '../lib/size.js';
import { runEnvironment } from '../results/env.js';
import { removePendingTemp, writeJsonAtomic } from '../results/write.js';
import { DESIGNS, designByName } from '../share/index.js';
import type { PtShareDesign } from '../share/design.js';
import { memScenarios, type MemScenarioResult } from '../../bench/memory.js';

export const RESULTS_SCHEMA = 'ptbench-results/1';
export const SUITES = ['default', 'fault', 'fork', 'mem', 'tlb', 'state', 'scaling'] as const;
type Suite = (typeof SUITES)[number];

export const BENCH_HELP = `usage: ptbench bench [options]      (npm run bench -- [options])

Runs the timing tasks (measured with tinybench) and the memory scenarios (simulated, exact) and
writes one results file into results/.

  --suite NAME     ${SUITES.join(' | ')} (default: default = fault + fork + mem + tlb
                   + part of state and scaling; mem = the memory scenarios and the counting
                   engine's timings; tlb = simulated accesses/s of the TLB model; state =
                   reclaim pages/s and pagemap entries/s per design and pagemap variant;
                   scaling = the database workload on 1, 2, ... simulated CPUs (worker
                   threads) per design, with lock statistics)
  --design NAME    a design to run (repeatable; default every design: ${DESIGNS.map((d) => d.name).join(', ')})
  --quick          short runs for CI (well under a minute)
  --seed N         seed of the random-order tasks (default 1)
  --processes N    fresh Node processes per timed task (default 5, or 1 with --quick)
  --time MS        minimum time per task (default 1500, or 200 with --quick)
  --out FILE       results file (default results/<date>-<commit>.json)
`;

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
  /** Scaling tasks: faults, tables and lock statistics of the last call (they depend on the CPUs' interleaving). */
  smp?: SmpFigures;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  date: string;
  environment: ReturnType<typeof runEnvironment>;
  config: { suite: Suite; designs: string[]; quick: boolean; seed: number; timeMs: number; warmupMs: number; minCalls: number; processes?: number };
  tasks: TaskResultRecord[];
  memory: MemScenarioResult[];
}

function useColor(): boolean {
  return process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
}

function fmtRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(2)} k`;
  return x.toFixed(2);
}

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

class Interrupted extends Error {}

/**
 * Call times a results file keeps per task. A task of 1 ms calls makes ~3 million calls in 5
 * processes: kept whole, one default run wrote ~110 MB (`JSON.stringify` puts a number a line).
 */
export const MAX_KEPT_SAMPLES = 5000;

/**
 * The call times a results file keeps: all of them up to MAX_KEPT_SAMPLES, else MAX_KEPT_SAMPLES
 * evenly spaced in call order (call floor(i * n / MAX_KEPT_SAMPLES) for i = 0, 1, ...), so the kept
 * ones still span the whole run. The summary statistics are computed from every call before this.
 */
export function keptSamples(samples: readonly number[]): number[] {
  const n = samples.length;
  if (n <= MAX_KEPT_SAMPLES) return [...samples];
  return Array.from({ length: MAX_KEPT_SAMPLES }, (_, i) => samples[Math.floor((i * n) / MAX_KEPT_SAMPLES)]!);
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
interface TaskSpec { name: string; design: string; seed: number; quick: boolean; timeMs: number; warmupMs: number; minCalls: number }

function findTask(spec: TaskSpec): BenchTaskDef {
  const def = timedTasks([designByName(spec.design)], spec.seed, spec.quick).find((t) => t.name === spec.name);
  if (!def) throw new Error(`no task '${spec.name}' for design ${spec.design}`);
  return def;
}

/**
 * Each timed task runs in a fresh Node process (the process is the statistical unit, as in pyperf
 * and hyperfine): tasks measured one after another in one process inherit each other's JIT and heap
 * state, which moved results by 15-30 % here. The child uses the same Node flags (e.g. the tsx loader).
 */
function runTaskIsolated(spec: TaskSpec, signal: AbortSignal): Promise<TaskResultRecord> {
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

export function defaultResultsPath(repo: string, commit: string | null, dirty: boolean | null, date: Date): string {
  const stamp = date.toISOString().replace(/[:]/g, '').replace(/\.\d+Z$/, 'Z');
  return resolve(repo, 'results', `${stamp}-${commit ? commit.slice(0, 10) : 'nogit'}${dirty ? '-dirty' : ''}.json`);
}

export async function benchMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      suite: { type: 'string', default: 'default' },
      design: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      processes: { type: 'string' },
      time: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  if (!(SUITES as readonly string[]).includes(values.suite)) throw new UsageError(`--suite: unknown suite '${values.suite}'; suites: ${SUITES.join(', ')}`);
  const suite = values.suite as Suite;
  const designs: PtShareDesign[] = values.design ? values.design.flatMap((d) => d.split(',')).map((d) => designByName(d.trim())) : [...DESIGNS];
  if (!/^\d+$/.test(values.seed)) throw new UsageError(`--seed: '${values.seed}' is not a non-negative whole number`);
  const seed = Number(values.seed);
  const quick = values.quick;
  const timeMs = values.time !== undefined ? Number(values.time) : quick ? 200 : 1500;
  if (!Number.isFinite(timeMs) || timeMs <= 0) throw new UsageError(`--time: '${values.time}' is not a positive number of milliseconds`);
  // 5 processes a side is the fewest whose exact Mann-Whitney p can reach 0.01 (2/252); 3 never goes below 0.1.
  const processes = values.processes !== undefined ? intInRange(values.processes, '--processes', 1, 50) : quick ? 1 : 5;
  const warmupMs = quick ? 50 : 300;
  const minCalls = quick ? 5 : 20;
  const repo = process.cwd();
  const env = runEnvironment(repo);
  const date = new Date();
  const out = values.out !== undefined ? resolve(values.out) : defaultResultsPath(repo, env.git.commit, env.git.dirty, date);

  const ac = new AbortController();
  setMaxListeners(0, ac.signal); // one listener per task's Bench
  const onSigint = () => { ac.abort(); removePendingTemp(); };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const color = useColor();
  const tty = process.stdout.isTTY === true;
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`ptbench bench: suite ${suite}${quick ? ' (quick)' : ''}, designs ${designs.map((d) => d.name).join(', ')}, seed ${seed}; ${env.cpuModel}, ${env.cores} cores, Node ${env.node}`);
  say('timings are measured (wall clock, tinybench); counts and bytes are simulated (exact)');

  const tasks: TaskResultRecord[] = [];
  let memory: MemScenarioResult[] = [];
  try {
    const defs = timedTasks(designs, seed, quick).filter((t) => (suite === 'default' && inDefaultSuite(t)) || (suite === 'fault' && (t.name.startsWith('fault/') || t.name.startsWith('sga/')))
      || (suite === 'fork' && t.name.startsWith('fork/')) || (suite === 'mem' && t.name.startsWith('count/')) || (suite === 'tlb' && t.name.startsWith('tlb/'))
      || (suite === 'state' && (t.name.startsWith('reclaim/') || t.name.startsWith('pagemap/'))) || (suite === 'scaling' && t.name.startsWith('scaling/')));
    {
      for (const def of defs) {
        const label = `${def.name} [${def.design}]`;
        if (tty) process.stdout.write(`  … ${label}`);
        const runs: TaskResultRecord[] = [];
        for (let k = 0; k < processes; k++) {
          runs.push(await runTaskIsolated({ name: def.name, design: def.design, seed, quick, timeMs, warmupMs, minCalls }, ac.signal));
        }
        const rec = combineProcesses(runs);
        tasks.push(rec);
        const line = `${label.padEnd(42)} ${fmtRate(rec.opsPerSec.median).padStart(9)} ${rec.unit}/s  (measured: median of ${rec.calls} calls of ${int(rec.opsPerCall)} in ${processes} process${processes > 1 ? 'es' : ''}, ${rec.latencyMs.p50.toFixed(3)} ms/call ±${rec.latencyMs.rme.toFixed(1)}%)`;
        if (tty) process.stdout.write(`\r\x1b[2K${color ? '\x1b[32m✓\x1b[0m' : '✓'} ${line}\n`);
        else say(`  ${line}`);
        for (const w of rec.warnings) say(`    warning: ${w}`);
      }
    }
    const scaling = tasks.filter((t) => t.smp !== undefined);
    if (scaling.length > 0) {
      const rows: SmpRow[] = scaling.map((t) => {
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
      say('  scaling: accesses/s measured (median call, timed from the first simulated CPU starting to the last finishing); speedup measured, the median over calls of a 1-CPU round\'s time over the N-CPU round run right after it (paired; the ratio of the two tasks\' medians is in the results file as speedupOfMedians); host control = N threads of work sharing nothing against 1 thread, run right after each pair on the same pools (measured, median); harness ms = dispatch to the worker threads and back, measured, last call, not in accesses/s; faults, table pages and lock acquisitions of the last call simulated, lock waits measured');
      for (const line of renderScalingTable(rows).split('\n')) say(`  ${line}`);
    }
    if (suite === 'default' || suite === 'mem') {
      memory = memScenarios(designs, quick, (line) => say(`  ${line}`));
    }
  } catch (e) {
    if (e instanceof Interrupted || ac.signal.aborted) {
      process.stderr.write('\nptbench: interrupted; no results file written\n');
      return 130;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
  if (ac.signal.aborted) {
    process.stderr.write('\nptbench: interrupted; no results file written\n');
    return 130;
  }
  const file: ResultsFile = {
    schema: RESULTS_SCHEMA, date: date.toISOString(), environment: env,
    config: { suite, designs: designs.map((d) => d.name), quick, seed, timeMs, warmupMs, minCalls, processes },
    tasks, memory,
  };
  writeJsonAtomic(out, file);
  say(`results written to ${out}`);
  return 0;
}
