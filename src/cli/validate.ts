/**
 * `ptbench validate` (= `npm run validate`): run scenarios on the running Linux kernel with the C
 * probe, measure the page-table memory they add (PageTables in /proc/meminfo), and compare it with
 * the simulator's prediction. Also records the kernel's real fault and fork rates on this machine.
 * Exit status: 0 when every scenario that ran agreed within the tolerance, 1 when one did not, 2 for
 * bad input. Scenarios that cannot run here (no compiler, no hugepages) are skipped with the reason.
 */
import { join } from 'node:path';
import { bytesIEC, fileStamp, iec, plainTable } from '../lib/format.js';
import { intInRange } from '../lib/size.js';
import { latestRun, loadResults } from '../harness/load.js';
import { checkWritable, writeJsonAtomic } from '../harness/write.js';
import { defaultScenarios } from '../harness/validate/scenarios.js';
import { UsageError } from '../lib/errors.js';
import { runValidate, type ValidateRecord } from '../harness/validate/run.js';
import { parseOptions } from '../lib/cli_args.js';
import { progressLine } from '../lib/progress.js';

export const VALIDATE_HELP = `usage: ptbench validate [options]      (npm run validate -- ...)

Runs each scenario on this machine's Linux kernel (a C probe compiled with $CC or cc), measures the
page-table memory it adds (PageTables in /proc/meminfo, a differential between stages of the same
processes), and compares it with the simulator's prediction. Records the kernel's fault and fork
rates. Exit status 0: every scenario that ran agreed within --tolerance; 1: one did not.

  --reps N          repetitions per scenario (default 3); the median is compared, the spread shown
  --only TEXT       only scenarios whose name contains TEXT
  --tolerance PCT   allowed |error| in percent (default 2)
  --out FILE        where to write the record (default results/kernel/<date>.json)
  --json            print the record as JSON
`;

export async function validateMain(argv: string[]): Promise<number> {
  const { values } = parseOptions({
    args: argv, strict: true, allowPositionals: false,
    options: {
      reps: { type: 'string', default: '3' },
      only: { type: 'string' },
      tolerance: { type: 'string', default: '2' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(VALIDATE_HELP);
    return 0;
  }
  const reps = intInRange(values.reps, '--reps', 1, 50);
  const tolerance = Number(values.tolerance);
  if (!(tolerance > 0 && tolerance < 100)) throw new UsageError(`--tolerance: '${values.tolerance}' is not a percentage between 0 and 100`);
  let scenarios = defaultScenarios();
  if (values.only !== undefined) {
    scenarios = scenarios.filter((s) => s.name.includes(values.only!));
    if (scenarios.length === 0) throw new UsageError(`--only: no scenario name contains '${values.only}'; scenarios: ${defaultScenarios().map((s) => s.name).join('; ')}`);
  }
  // Before the probes run (a minute or two): the record must be writable.
  const out = checkWritable(values.out ?? join('results', 'kernel', `${fileStamp(new Date())}.json`), '--out');
  const say = (s: string) => { if (!values.json) process.stdout.write(`${s}\n`); };
  const progress = progressLine('ptbench validate', scenarios.length);
  const record = await runValidate(scenarios, reps, tolerance, say, (done, what) => progress.update(done, what));
  progress.end();

  writeJsonAtomic(out, record);
  if (values.json) {
    process.stdout.write(`${JSON.stringify(record, null, 2)}\n`);
  } else {
    say('');
    say(renderValidate(record, reps));
    say('');
    say(renderRates(record));
    say(`\nrecord written to ${out}`);
  }
  return record.scenarios.every((s) => s.status === 'skipped' || s.agrees) ? 0 : 1;
}

export function renderValidate(r: ValidateRecord, reps: number): string {
  const t = plainTable(['scenario', 'model', 'predicted (simulated)', `measured (median of ${reps})`, 'spread', 'error', ''], ['left', 'left', 'right', 'right', 'right', 'right', 'left']);
  const skipped: string[] = [];
  for (const s of r.scenarios) {
    if (s.status === 'skipped') {
      skipped.push(`skipped: ${s.name}: ${s.reason}`);
      continue;
    }
    const lo = Math.min(...s.measuredBytes!);
    const hi = Math.max(...s.measuredBytes!);
    t.push([s.name, s.model, bytesIEC(s.predictedBytes!), bytesIEC(s.medianBytes!), `${iec(lo)}..${iec(hi)}`, s.errorPct === null || s.errorPct === undefined ? 'n/a' : `${s.errorPct >= 0 ? '+' : ''}${s.errorPct.toFixed(2)} %`, s.agrees ? 'agrees' : `DIFFERS (> ${r.tolerancePct} %)`]);
  }
  return [t.length > 0 ? t.toString() : '(no scenario ran)', ...skipped].join('\n');
}

/** The kernel's rates, and the simulator's from the latest results file for scale. */
export function renderRates(r: ValidateRecord): string {
  const k = r.kernelRates;
  const lines: string[] = [];
  let sim: { faults?: number; forkMs?: number; file?: string } = {};
  const latest = latestRun(process.cwd());
  if (latest !== undefined) {
    try {
      const res = loadResults(latest);
      const f = res.tasks.find((x) => x.name === 'fault/anon-write-seq');
      const fk = res.tasks.find((x) => x.name === 'fork/anon-1GiB');
      sim = { faults: f?.opsPerSec.median, forkMs: fk?.latencyMs.p50, file: latest };
    } catch { /* no usable results file: kernel figures only */ }
  }
  if (k.anonWriteFaultsPerSec !== undefined) {
    lines.push(`kernel: ${(k.anonWriteFaultsPerSec / 1e6).toFixed(3)} M anonymous write faults/s (measured, 1 GiB, one process)${sim.faults ? `; simulator ${(sim.faults / 1e6).toFixed(2)} M faults/s (measured; ${(sim.faults / k.anonWriteFaultsPerSec).toFixed(0)}x the kernel's rate)` : ''}`);
  }
  if (k.fork1GiBAnonMs !== undefined) {
    lines.push(`kernel: fork of a process with 1 GiB of written anonymous memory ${k.fork1GiBAnonMs.toFixed(2)} ms (measured)${sim.forkMs ? `; simulator ${sim.forkMs.toFixed(2)} ms (measured; the kernel takes ${(k.fork1GiBAnonMs / sim.forkMs).toFixed(1)}x as long)` : ''}`);
  }
  if (k.shmemPopulatePagesPerSec !== undefined) lines.push(`kernel: ${(k.shmemPopulatePagesPerSec / 1e6).toFixed(2)} M shmem pages/s write-faulted by MADV_POPULATE_WRITE (measured, 32 processes x 1 GiB)`);
  if (sim.file) lines.push(`(simulator figures from ${sim.file})`);
  return lines.length ? lines.join('\n') : 'no kernel rates recorded (the anonymous-memory scenarios did not run)';
}
