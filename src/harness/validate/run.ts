/**
 * `ptbench validate`'s measurement: scenarios run on the live kernel by the C probe (probe.ts), the
 * differential of the probe processes' VmPTE (PageTables for one case) between stages (scenarios.ts),
 * compared with the simulator.
 */
import { release } from 'node:os';
import { readFileSync } from 'node:fs';
import { median } from 'simple-statistics';
import { runEnvironment } from '../env.js';
import { compileProbe, ProbeRun } from './probe.js';
import { hugepagesSetting, reserveHugepages, restoreHugepages, statRefresh } from './procfs.js';
import { measureRun, type StageReadings, type ValidateScenario } from './scenarios.js';
import { detectKernel } from './kernel_detect.js';
import type { KernelConfig } from '../../mm/kernel_profile.js';

export interface ScenarioRecord {
  name: string;
  model: string;
  status: 'ran' | 'skipped';
  reason?: string;
  /** Simulated, exact. */
  predictedBytes?: number;
  /** Measured: each repetition's differential, and their median. */
  measuredBytes?: number[];
  medianBytes?: number;
  /** (median - predicted) / predicted in %; null when 0 B was predicted and something else measured. */
  errorPct?: number | null;
  agrees?: boolean;
}

export interface ValidateRecord {
  tool: 'ptbench validate';
  date: string;
  kernel: string;
  /** The kernel profile the predictions follow, chosen from the running kernel, and why. */
  profile: KernelConfig;
  profileWhy: string;
  environment: ReturnType<typeof runEnvironment>;
  notes: string[];
  tolerancePct: number;
  scenarios: ScenarioRecord[];
  /** Measured on the real kernel (medians over repetitions). */
  kernelRates: { anonWriteFaultsPerSec?: number; fork1GiBAnonMs?: number; shmemPopulatePagesPerSec?: number };
}

/** A machine-wide reading that never settled: the case is reported as not measured, not as differing. */
export class Interference extends Error {}

export function readSetting(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return 'unreadable';
  }
}

export async function measureOnce(sc: ValidateScenario, path: string, anonRuns: Array<{ s: StageReadings; z: StageReadings }>, rep: number,
  rates: { faultRates: number[]; forkMs: number[]; populate: number[] }): Promise<number> {
  if (sc.kind === 'shmem' || sc.kind === 'hugetlb') {
    const r = await measureRun(() => new ProbeRun(path, [sc.kind, String(sc.procs), String(sc.size), String(sc.offset)]), false);
    if (sc.kind === 'shmem' && sc.procs === 32 && sc.size === 2 ** 30) rates.populate.push((sc.procs * sc.size / 4096) / (r.touchNs / 1e9));
    return r.mapped - r.idle;
  }
  if (sc.kind === 'hugetlb-mprotect') {
    // Machine-wide (see scenarios.ts): repeated until two runs in a row agree exactly, at most 6 runs.
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await measureRun(() => new ProbeRun(path, ['hugeprot', String(sc.procs), String(sc.size), String(sc.offset)]), false, false, true, true);
      const v = r.mprotected! - r.mapped;
      if (seen.length > 0 && seen[seen.length - 1] === v) return v;
      seen.push(v);
    }
    throw new Interference(`PageTables moved by other processes in 6 runs (${seen.map((v) => v / 1024).join(', ')} KiB): this case reads the whole machine's page tables; run it on a quieter machine`);
  }
  if (sc.kind === 'shared-fork-child') {
    // The child's VmPTE less that of a child forked from a run that mapped nothing (its own tables).
    const s = await measureRun(() => new ProbeRun(path, ['sharedfork', '1', String(sc.size), '0']), true);
    const z = await measureRun(() => new ProbeRun(path, ['sharedfork', '1', '0', '0']), true);
    return s.childVmPTE! - z.childVmPTE!;
  }
  if (sc.kind === 'anon-dontneed') {
    // What the mapping's tables leave behind after MADV_DONTNEED of all of it.
    const r = await measureRun(() => new ProbeRun(path, ['anon', '2', String(sc.size), '0']), false, true);
    return r.dontneed! - r.idle;
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
  if (sc.kind === 'anon-fork-child') return s.childVmPTE! - z.childVmPTE!;
  return (s.forked! - s.idle) - (z.forked! - z.idle);
}

/**
 * Run `scenarios` on this machine's kernel with the C probe, `reps` times each, and compare each
 * median with the simulator's prediction (agreeing within `tolerance` percent). Notes and progress
 * go to `say`; the hugepage setting is restored on the way out, also on SIGINT/SIGTERM.
 */
export async function runValidate(scenarios: ValidateScenario[], reps: number, tolerance: number, say: (line: string) => void, onScenario?: (done: number,
  what: string) => void): Promise<ValidateRecord> {
  const notes: string[] = [];
  const refresh = statRefresh();
  if (refresh !== null) notes.push(refresh);
  const thp = readSetting('/sys/kernel/mm/transparent_hugepage/shmem_enabled');
  // The probe marks its regions MADV_NOHUGEPAGE; only 'force' may still give shmem 2 MiB pages.
  if (/\[force\]/.test(thp)) notes.push(`shmem THP is '${thp}': shmem may be mapped with 2 MiB pages despite MADV_NOHUGEPAGE, which the shmem scenarios do not model`);
  say(`ptbench validate: the simulator's page-table memory against Linux ${release()} on this machine`);
  say('predicted = simulated (exact); measured = differential between stages of the probe\'s own processes: the sum of their VmPTE (/proc/PID/status), which no other process moves; the hugetlb mprotect case reads PageTables (/proc/meminfo), repeated until stable');
  const detected = detectKernel();
  say(`kernel ${detected.why}`);
  for (const n of notes) say(`note: ${n}`);

  const record: ValidateRecord = {
    tool: 'ptbench validate', date: new Date().toISOString(), kernel: release(), profile: detected.config, profileWhy: detected.why, environment: runEnvironment(process.cwd()),
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
      onScenario?.(record.scenarios.length, sc.name);
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
        try {
          for (let i = 0; i < reps; i++) measured.push(await measureOnce(sc, probe.path, anonRuns, i, { faultRates, forkMs, populate }));
        } catch (e) {
          if (!(e instanceof Interference)) throw e;
          record.scenarios.push({ name: sc.name, model: sc.model, status: 'skipped', reason: e.message });
          continue;
        }
        const predicted = sc.predicted(detected.config);
        const med = median(measured);
        // A prediction of 0 B agrees only with exactly 0 B (no percentage of nothing).
        const errorPct = predicted === 0 ? (med === 0 ? 0 : null) : ((med - predicted) / predicted) * 100;
        record.scenarios.push({ name: sc.name, model: sc.model, status: 'ran', predictedBytes: predicted, measuredBytes: measured, medianBytes: med, errorPct, agrees: errorPct !== null && Math.abs(errorPct) <= tolerance });
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

  return record;
}
