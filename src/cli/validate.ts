/**
 * `ptbench validate` (= `npm run validate`): run scenarios on the running Linux kernel with the C
 * probe, measure the page-table memory they add (PageTables in /proc/meminfo), and compare it with
 * the simulator's prediction. Also records the kernel's real fault and fork rates on this machine.
 * Exit status: 0 when every scenario that ran agreed within the tolerance, 1 when one did not, 2 for
 * bad input. Scenarios that cannot run here (no compiler, no hugepages) are skipped with the reason.
 */
import { release } from 'node:os';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from 'simple-statistics';
import { bytesIEC, iec, plainTable } from '../lib/format.js';
import { intInRange } from '../lib/size.js';
import { listResults, loadResults } from '../harness/load.js';
import { runEnvironment } from '../harness/env.js';
import { writeJsonAtomic } from '../harness/write.js';
import { compileProbe, ProbeRun } from '../harness/validate/probe.js';
import { hugepagesSetting, reserveHugepages, restoreHugepages, statRefresh } from '../harness/validate/procfs.js';
import { defaultScenarios, measureRun, type StageReadings, type ValidateScenario } from '../harness/validate/scenarios.js';
import { UsageError } from '../lib/errors.js';

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

interface ScenarioRecord {
  name: string;
  model: string;
  status: 'ran' | 'skipped';
  reason?: string;
  /** Simulated, exact. */
  predictedBytes?: number;
  /** Measured: each repetition's differential, and their median. */
  measuredBytes?: number[];
  medianBytes?: number;
  errorPct?: number;
  agrees?: boolean;
}

export interface ValidateRecord {
  tool: 'ptbench validate';
  date: string;
  kernel: string;
  environment: ReturnType<typeof runEnvironment>;
  notes: string[];
  tolerancePct: number;
  scenarios: ScenarioRecord[];
  /** Measured on the real kernel (medians over repetitions). */
  kernelRates: { anonWriteFaultsPerSec?: number; fork1GiBAnonMs?: number; shmemPopulatePagesPerSec?: number };
}

function readSetting(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return 'unreadable';
  }
}

export async function validateMain(argv: string[]): Promise<number> {
  const { values } = parseArgs({
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
  const say = (s: string) => { if (!values.json) process.stdout.write(`${s}\n`); };
  const notes: string[] = [];
  const refresh = statRefresh();
  if (refresh !== null) notes.push(refresh);
  const thp = readSetting('/sys/kernel/mm/transparent_hugepage/shmem_enabled');
  if (!/\[(never|deny)\]/.test(thp)) notes.push(`shmem THP is '${thp}': shmem may be mapped with 2 MiB pages, which the shmem scenarios do not model`);
  say(`ptbench validate: the simulator's page-table memory against Linux ${release()} on this machine`);
  say('predicted = simulated (exact); measured = PageTables differential in /proc/meminfo between stages of the same probe processes');
  for (const n of notes) say(`note: ${n}`);

  const record: ValidateRecord = {
    tool: 'ptbench validate', date: new Date().toISOString(), kernel: release(), environment: runEnvironment(process.cwd()),
    notes, tolerancePct: tolerance, scenarios: [], kernelRates: {},
  };
  const probe = compileProbe();
  const hugeFound = hugepagesSetting();
  const onSignal = () => {
    if (hugeFound !== null) restoreHugepages(hugeFound);
    process.stderr.write('\nptbench: interrupted; hugepage setting restored, no record written\n');
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const faultRates: number[] = [];
  const forkMs: number[] = [];
  const populate: number[] = [];
  try {
    const anonRuns: Array<{ s: StageReadings; z: StageReadings }> = [];
    for (const sc of scenarios) {
      if ('skip' in probe) {
        record.scenarios.push({ name: sc.name, model: sc.model, status: 'skipped', reason: probe.skip });
        continue;
      }
      let restore: number | null = null;
      if (sc.hugepages > 0) {
        const r = reserveHugepages(sc.hugepages);
        if ('skip' in r) {
          record.scenarios.push({ name: sc.name, model: sc.model, status: 'skipped', reason: r.skip });
          continue;
        }
        restore = r.restore;
      }
      try {
        const measured: number[] = [];
        for (let i = 0; i < reps; i++) measured.push(await measureOnce(sc, probe.path, anonRuns, i, { faultRates, forkMs, populate }));
        const predicted = sc.predicted();
        const med = median(measured);
        const errorPct = ((med - predicted) / predicted) * 100;
        record.scenarios.push({ name: sc.name, model: sc.model, status: 'ran', predictedBytes: predicted, measuredBytes: measured, medianBytes: med, errorPct, agrees: Math.abs(errorPct) <= tolerance });
      } finally {
        if (restore !== null) restoreHugepages(restore);
      }
    }
  } finally {
    if ('cleanup' in probe) probe.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (hugeFound !== null && hugepagesSetting() !== hugeFound) notes.push(`could not restore /proc/sys/vm/nr_hugepages to ${hugeFound}`);
  if (faultRates.length) record.kernelRates.anonWriteFaultsPerSec = median(faultRates);
  if (forkMs.length) record.kernelRates.fork1GiBAnonMs = median(forkMs);
  if (populate.length) record.kernelRates.shmemPopulatePagesPerSec = median(populate);

  const out = resolve(values.out ?? join('results', 'kernel', `${record.date.replace(/[:.]/g, '').replace(/\d{3}Z$/, 'Z')}.json`));
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

async function measureOnce(sc: ValidateScenario, path: string, anonRuns: Array<{ s: StageReadings; z: StageReadings }>, rep: number,
  rates: { faultRates: number[]; forkMs: number[]; populate: number[] }): Promise<number> {
  if (sc.kind === 'shmem' || sc.kind === 'hugetlb') {
    const r = await measureRun(() => new ProbeRun(path, [sc.kind, String(sc.procs), String(sc.size), String(sc.offset)]), false);
    if (sc.kind === 'shmem' && sc.procs === 32 && sc.size === 2 ** 30) rates.populate.push((sc.procs * sc.size / 4096) / (r.touchNs / 1e9));
    return r.mapped - r.idle;
  }
  // Both anon scenarios come from the same runs: size S and size 0 (the child's own tables), forked.
  if (anonRuns[rep] === undefined) {
    const s = await measureRun(() => new ProbeRun(path, ['anon', '1', String(sc.size), '0']), true);
    const z = await measureRun(() => new ProbeRun(path, ['anon', '1', '0', '0']), true);
    anonRuns[rep] = { s, z };
    rates.faultRates.push((sc.size / 4096) / (s.touchNs / 1e9));
    rates.forkMs.push(s.forkNs! / 1e6);
  }
  const { s, z } = anonRuns[rep]!;
  if (sc.kind === 'anon-before-fork') return s.mapped - s.idle;
  return (s.forked! - s.idle) - (z.forked! - z.idle);
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
    t.push([s.name, s.model, bytesIEC(s.predictedBytes!), bytesIEC(s.medianBytes!), `${iec(lo)}..${iec(hi)}`, `${s.errorPct! >= 0 ? '+' : ''}${s.errorPct!.toFixed(2)} %`, s.agrees ? 'agrees' : `DIFFERS (> ${r.tolerancePct} %)`]);
  }
  return [t.length > 0 ? t.toString() : '(no scenario ran)', ...skipped].join('\n');
}

/** The kernel's rates, and the simulator's from the latest results file for scale. */
export function renderRates(r: ValidateRecord): string {
  const k = r.kernelRates;
  const lines: string[] = [];
  let sim: { faults?: number; forkMs?: number; file?: string } = {};
  const files = listResults(resolve('results'));
  if (files.length > 0) {
    try {
      const res = loadResults(files[files.length - 1]!);
      const f = res.tasks.find((x) => x.name === 'fault/anon-write-seq');
      const fk = res.tasks.find((x) => x.name === 'fork/anon-1GiB');
      sim = { faults: f?.opsPerSec.median, forkMs: fk?.latencyMs.p50, file: files[files.length - 1] };
    } catch { /* no usable results file: kernel figures only */ }
  }
  if (k.anonWriteFaultsPerSec !== undefined) {
    lines.push(`kernel: ${(k.anonWriteFaultsPerSec / 1e6).toFixed(3)} M anonymous write faults/s (measured, 1 GiB, one process)${sim.faults ? `; simulator ${(sim.faults / 1e6).toFixed(2)} M faults/s (measured; ${(sim.faults / k.anonWriteFaultsPerSec).toFixed(0)}x the kernel's rate)` : ''}`);
  }
  if (k.fork1GiBAnonMs !== undefined) {
    lines.push(`kernel: fork of a process with 1 GiB of written anonymous memory ${k.fork1GiBAnonMs.toFixed(2)} ms (measured)${sim.forkMs ? `; simulator ${sim.forkMs.toFixed(2)} ms (measured; the kernel takes ${(k.fork1GiBAnonMs / sim.forkMs).toFixed(1)}x as long)` : ''}`);
  }
  if (k.shmemPopulatePagesPerSec !== undefined) lines.push(`kernel: ${(k.shmemPopulatePagesPerSec / 1e6).toFixed(2)} M shmem pages/s mapped by MAP_POPULATE (measured, 32 processes x 1 GiB)`);
  if (sim.file) lines.push(`(simulator figures from ${sim.file})`);
  return lines.length ? lines.join('\n') : 'no kernel rates recorded (the anonymous-memory scenarios did not run)';
}
