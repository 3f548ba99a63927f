/**
 * `ptbench bench` (= `npm run bench`): timing suites measured with tinybench, and the memory scenarios
 * (simulated, exact), written to one results file in results/.
 */
import { setMaxListeners } from 'node:events';

import { int, rate } from '../lib/format.js';
import { intInRange } from '../lib/size.js';
import { runEnvironment } from '../harness/env.js';
import { taskRate } from '../harness/stats/rate.js';
import { checkWritable, removePendingTemp, writeJsonAtomic } from '../harness/write.js';
import { DESIGNS, designsByList } from '../share/index.js';
import type { PtShareDesign } from '../mm/pt_share.js';
import { libraryScenarios, memScenarios } from '../harness/memory_scenarios.js';
import type { MemScenarioResult } from '../harness/types.js';
import { UsageError } from '../lib/errors.js';
import { RESULTS_SCHEMA, SUITES, type Suite, type TaskResultRecord, type ResultsFile } from '../harness/types.js';
import { defaultResultsPath, Interrupted, runTaskInProcesses, scalingRows, suiteTasks } from '../harness/runner.js';
import { attachControlRatios, renderControlRatios } from '../harness/controls.js';
import { renderScalingTable } from '../harness/table.js';
import { parseOptions, useColor } from '../lib/cli_args.js';
import { describeKernel } from '../mm/kernel_profile.js';
import { KERNEL_OPTIONS, kernelFromOptions, kernelHelp } from './options/kernel.js';

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
${kernelHelp(19)}
`;

export async function benchMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      suite: { type: 'string', default: 'default' },
      design: { type: 'string', multiple: true },
      quick: { type: 'boolean', default: false },
      seed: { type: 'string', default: '1' },
      processes: { type: 'string' },
      time: { type: 'string' },
      out: { type: 'string' },
      ...KERNEL_OPTIONS,
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(BENCH_HELP);
    return 0;
  }
  if (!(SUITES as readonly string[]).includes(values.suite)) throw new UsageError(`--suite: unknown suite '${values.suite}'; suites: ${SUITES.join(', ')}`);
  const suite = values.suite as Suite;
  const designs: PtShareDesign[] = values.design ? designsByList(values.design) : [...DESIGNS];
  if (!/^\d+$/.test(values.seed)) throw new UsageError(`--seed: '${values.seed}' is not a non-negative whole number`);
  const seed = Number(values.seed);
  const quick = values.quick;
  const timeMs = values.time !== undefined ? Number(values.time) : quick ? 200 : 1500;
  // At most 10 minutes per task: the default suite has a dozen tasks, each run in --processes processes.
  if (!Number.isFinite(timeMs) || timeMs <= 0 || timeMs > 600_000) throw new UsageError(`--time: '${values.time}' is not a number of milliseconds from 1 to 600000 (10 minutes per task)`);
  // 5 processes a side is the fewest whose exact Mann-Whitney p can reach 0.01 (2/252); 3 never goes below 0.1.
  const processes = values.processes !== undefined ? intInRange(values.processes, '--processes', 1, 50) : quick ? 1 : 5;
  const kernel = kernelFromOptions(values);
  const warmupMs = quick ? 50 : 300;
  const minCalls = quick ? 5 : 20;
  const repo = process.cwd();
  const env = runEnvironment(repo);
  const date = new Date();
  // A results file is up to about 1.3 MB (the full default suite keeps 5,000 call times per task).
  const out = checkWritable(values.out !== undefined ? values.out : defaultResultsPath(repo, env.git.commit, env.git.dirty, date), '--out', quick ? 512 * 1024 : 2 * 1024 * 1024);

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
  say(`kernel ${describeKernel(kernel)}`);

  const tasks: TaskResultRecord[] = [];
  let memory: MemScenarioResult[] = [];
  try {
    {
      for (const def of suiteTasks(suite, designs, seed, quick, kernel)) {
        const label = `${def.name} [${def.design}]`;
        if (tty) process.stdout.write(`  … ${label}`);
        const rec = await runTaskInProcesses({ name: def.name, design: def.design, seed, quick, timeMs, warmupMs, minCalls, kernel }, processes, ac.signal);
        tasks.push(rec);
        const r = taskRate(rec);
        const stat = r.statistic === 'median call' ? `median of ${rec.calls} calls of ${int(rec.opsPerCall)} in 1 process` : `median of ${r.n} process medians, ${rec.calls} calls of ${int(rec.opsPerCall)} in all`;
        const line = `${label.padEnd(42)} ${rate(r.value).padStart(9)} ${rec.unit}/s  (measured: ${stat}, ${rec.latencyMs.p50.toFixed(3)} ms/call ±${rec.latencyMs.rme.toFixed(1)}%)`;
        if (tty) process.stdout.write(`\r\x1b[2K${color ? '\x1b[32m✓\x1b[0m' : '✓'} ${line}\n`);
        else say(`  ${line}`);
        for (const w of rec.warnings) say(`    warning: ${w}`);
      }
    }
    attachControlRatios(tasks);
    const ratios = renderControlRatios(tasks);
    if (ratios !== '') for (const line of ratios.split('\n')) say(`  ${line}`);
    const scaling = tasks.filter((t) => t.smp !== undefined);
    if (scaling.length > 0) {
      const rows = scalingRows(scaling);
      say('  scaling: accesses/s measured (median call, timed from the first simulated CPU starting to the last finishing); speedup measured, the median over calls of a 1-CPU round\'s time over the N-CPU round run right after it (paired; the ratio of the two tasks\' medians is in the results file as speedupOfMedians); host control = N threads of work sharing nothing against 1 thread, run right after each pair on the same pools (measured, median); harness ms = dispatch to the worker threads and back, measured, last call, not in accesses/s; faults, table pages and lock acquisitions of the last call simulated, lock waits measured');
      for (const line of renderScalingTable(rows).split('\n')) say(`  ${line}`);
    }
    if (suite === 'default' || suite === 'mem') {
      memory = memScenarios(designs, quick, (line) => say(`  ${line}`), kernel);
      // The library's workloads (scenarios/): each file's last snapshot, per design.
      memory.push(...libraryScenarios(designs, quick, (line) => say(`  ${line}`), kernel));
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
    config: { suite, designs: designs.map((d) => d.name), quick, seed, timeMs, warmupMs, minCalls, processes, kernel },
    tasks, memory,
  };
  writeJsonAtomic(out, file, { exclusive: values.out === undefined });
  say(`results written to ${out}`);
  return 0;
}
